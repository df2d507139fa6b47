/**
 * Exponential backoff with jitter, for reconnecting watches and retrying leases: each failure
 * doubles the delay up to a cap, and each delay is drawn from its upper half so that many
 * clients restarted by one API server outage do not come back in lockstep.
 *
 * @module
 */

/** Options of {@linkcode Backoff}. */
export interface BackoffOptions {
  /** First delay. Default 800 ms (client-go's reflector). */
  initialMs?: number;
  /** Largest delay. Default 30 s. */
  maxMs?: number;
  /** Growth per failure. Default 2. */
  factor?: number;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

/** A sequence of growing, jittered delays; {@linkcode Backoff.reset} after a success. */
export class Backoff {
  #attempt = 0;
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #random: () => number;

  /**
   * @example
   * ```ts
   * import { Backoff } from "./backoff.ts";
   * const b = new Backoff({ initialMs: 100, maxMs: 1000 });
   * const first = b.next(); // between 50 and 100
   * ```
   */
  constructor(opts: BackoffOptions = {}) {
    this.#initial = opts.initialMs ?? 800;
    this.#max = opts.maxMs ?? 30_000;
    this.#factor = opts.factor ?? 2;
    this.#random = opts.random ?? Math.random;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /**
   * The next delay in ms: `min(max, initial·factor^n)`, jittered into its upper half.
   *
   * @example
   * ```ts
   * import { Backoff } from "./backoff.ts";
   * const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
   * [b.next(), b.next(), b.next()]; // [100, 200, 400]
   * ```
   */
  next(): number {
    const ceiling = Math.min(this.#max, this.#initial * this.#factor ** this.#attempt);
    this.#attempt++;
    return ceiling / 2 + (ceiling / 2) * this.#random();
  }

  /**
   * Starts over from the initial delay.
   *
   * @example
   * ```ts
   * import { Backoff } from "./backoff.ts";
   * const b = new Backoff();
   * b.next();
   * b.reset();
   * b.attempts; // 0
   * ```
   */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * Sleeps `ms`, or less when `signal` aborts (resolves either way; never rejects).
 *
 * @example
 * ```ts
 * import { sleep } from "./backoff.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
