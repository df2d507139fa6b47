/**
 * Many timeouts, one timer. Each watched item has a deadline that is a plain number to move
 * (per body chunk, per request on a keep-alive connection); a single interval sweeps the items
 * and fires those whose deadline passed. Re-arming a `setTimeout` per chunk instead cost a
 * clear and a set per SSE event, a visible share of a stream's relay CPU.
 *
 * Deadlines fire up to one sweep interval late.
 *
 * @module
 */

/**
 * A set of deadlines swept by one interval.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./deadlines.ts";
 * const d = new Deadlines<string>(50, (item) => console.log(`${item} timed out`));
 * d.set("a", 100);
 * d.delete("a");
 * d.close();
 * ```
 */
export class Deadlines<T> {
  readonly #items = new Map<T, number>();
  readonly #intervalMs: number;
  readonly #onExpired: (item: T) => void;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param intervalMs How often to sweep.
   * @param onExpired Called once for an item whose deadline passed (it is removed first).
   */
  constructor(intervalMs: number, onExpired: (item: T) => void) {
    this.#intervalMs = intervalMs;
    this.#onExpired = onExpired;
  }

  /** Watches `item` to expire `ms` from now (0 or less: not watched). */
  set(item: T, ms: number): void {
    if (ms <= 0) {
      this.#items.delete(item);
      return;
    }
    this.#items.set(item, performance.now() + ms);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#intervalMs);
      // The sweep alone must not keep the process alive.
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Stops watching `item`. */
  delete(item: T): void {
    this.#items.delete(item);
  }

  /** Stops the sweep. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#items.clear();
  }

  #sweep(): void {
    if (this.#items.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = performance.now();
    const expired: T[] = [];
    for (const [item, deadline] of this.#items) if (deadline <= now) expired.push(item);
    for (const item of expired) {
      this.#items.delete(item);
      this.#onExpired(item);
    }
  }
}
