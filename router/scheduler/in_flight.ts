/**
 * The router's own count of requests in flight per pod: zero-lag load information, incremented
 * when a leg is sent and decremented when it ends (prefill and decode legs separately).
 *
 * @module
 */

/**
 * In-flight requests per pod key.
 *
 * @example
 * ```ts
 * import { InFlightCounter } from "./in_flight.ts";
 * const c = new InFlightCounter();
 * const done = c.acquire("ns/pod-0");
 * c.get("ns/pod-0"); // 1
 * done();
 * c.get("ns/pod-0"); // 0
 * ```
 */
export class InFlightCounter {
  readonly #counts = new Map<string, number>();

  /** Requests in flight to `key`. */
  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Counts one more request; returns the (idempotent) function that ends it. */
  acquire(key: string): () => void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#counts.get(key) ?? 1) - 1;
      if (n <= 0) this.#counts.delete(key);
      else this.#counts.set(key, n);
    };
  }

  /** Total requests in flight. */
  total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }
}
