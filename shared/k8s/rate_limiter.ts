/**
 * Rate limiters of the work queue, after client-go's `workqueue` package: how long a key that
 * failed waits before it is retried.
 *
 * {@linkcode defaultControllerRateLimiter} is client-go's `DefaultTypedControllerRateLimiter`:
 * the larger of a per-key exponential backoff (5 ms, 10 ms, 20 ms, … capped) and a token
 * bucket shared by all keys (10 per second, bursts of 100). The per-key part keeps one broken
 * object from hot-looping; the bucket keeps a mass failure (the API server down, every key
 * failing at once) from turning into a storm of retries.
 *
 * @module
 */

/** Decides retry delays per key. */
export interface RateLimiter<K = string> {
  /** The delay before the next retry of `key` (and counts one more failure). */
  when(key: K): number;
  /** Clears the failure history of `key` (after a success). */
  forget(key: K): void;
  /** The failures counted for `key` since it was last forgotten. */
  numRequeues(key: K): number;
}

/** Per-key exponential backoff: `base·2^failures`, capped at `max`. */
export class ItemExponentialRateLimiter<K = string> implements RateLimiter<K> {
  readonly #failures = new Map<K, number>();

  /**
   * @param baseMs The first delay. Default 5 ms.
   * @param maxMs The cap. Default 5 min: client-go's 1000 s leaves a broken object untried for
   *   over a quarter of an hour; 5 min still makes a persistent failure cheap.
   * @example
   * ```ts
   * import { ItemExponentialRateLimiter } from "./rate_limiter.ts";
   * const rl = new ItemExponentialRateLimiter(5, 1000);
   * [rl.when("a"), rl.when("a"), rl.when("a")]; // [5, 10, 20]
   * ```
   */
  constructor(readonly baseMs = 5, readonly maxMs = 300_000) {}

  /**
   * @example
   * ```ts
   * import { ItemExponentialRateLimiter } from "./rate_limiter.ts";
   * new ItemExponentialRateLimiter().when("a"); // 5
   * ```
   */
  when(key: K): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    // 2^n overflows to Infinity long after the cap; min() handles it.
    return Math.min(this.maxMs, this.baseMs * 2 ** n);
  }

  /**
   * @example
   * ```ts
   * import { ItemExponentialRateLimiter } from "./rate_limiter.ts";
   * const rl = new ItemExponentialRateLimiter();
   * rl.when("a");
   * rl.forget("a");
   * rl.numRequeues("a"); // 0
   * ```
   */
  forget(key: K): void {
    this.#failures.delete(key);
  }

  /**
   * @example
   * ```ts
   * import { ItemExponentialRateLimiter } from "./rate_limiter.ts";
   * new ItemExponentialRateLimiter().numRequeues("a"); // 0
   * ```
   */
  numRequeues(key: K): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * A token bucket shared by all keys (golang.org/x/time/rate's reservation semantics): tokens
 * refill at `qps` up to `burst`; each retry takes one, and when none is left the retry is
 * scheduled for when its token will exist.
 */
export class TokenBucketRateLimiter<K = string> implements RateLimiter<K> {
  #tokens: number;
  #last: number;

  /**
   * @param qps Tokens per second. Default 10.
   * @param burst Bucket size. Default 100.
   * @param now A clock in ms, for tests.
   * @example
   * ```ts
   * import { TokenBucketRateLimiter } from "./rate_limiter.ts";
   * const t = 0;
   * const rl = new TokenBucketRateLimiter(10, 1, () => t);
   * [rl.when("a"), rl.when("b")]; // [0, 100]
   * ```
   */
  constructor(
    readonly qps = 10,
    readonly burst = 100,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /**
   * @example
   * ```ts
   * import { TokenBucketRateLimiter } from "./rate_limiter.ts";
   * new TokenBucketRateLimiter().when("a"); // 0
   * ```
   */
  when(_key: K): number {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.qps) * 1000;
  }

  /**
   * No per-key state.
   *
   * @example
   * ```ts
   * import { TokenBucketRateLimiter } from "./rate_limiter.ts";
   * new TokenBucketRateLimiter().forget("a");
   * ```
   */
  forget(_key: K): void {}

  /**
   * Always 0: the bucket does not count per key.
   *
   * @example
   * ```ts
   * import { TokenBucketRateLimiter } from "./rate_limiter.ts";
   * new TokenBucketRateLimiter().numRequeues("a"); // 0
   * ```
   */
  numRequeues(_key: K): number {
    return 0;
  }
}

/** The largest delay of several limiters. */
export class MaxOfRateLimiter<K = string> implements RateLimiter<K> {
  readonly #limiters: RateLimiter<K>[];

  /**
   * @example
   * ```ts
   * import { ItemExponentialRateLimiter, MaxOfRateLimiter, TokenBucketRateLimiter } from "./rate_limiter.ts";
   * const rl = new MaxOfRateLimiter(new ItemExponentialRateLimiter(), new TokenBucketRateLimiter());
   * ```
   */
  constructor(...limiters: RateLimiter<K>[]) {
    this.#limiters = limiters;
  }

  /**
   * @example
   * ```ts
   * import { defaultControllerRateLimiter } from "./rate_limiter.ts";
   * defaultControllerRateLimiter().when("a"); // 5
   * ```
   */
  when(key: K): number {
    // Every limiter must see the failure (each keeps its own state), so no short-circuit.
    return Math.max(...this.#limiters.map((l) => l.when(key)));
  }

  /**
   * @example
   * ```ts
   * import { defaultControllerRateLimiter } from "./rate_limiter.ts";
   * defaultControllerRateLimiter().forget("a");
   * ```
   */
  forget(key: K): void {
    for (const l of this.#limiters) l.forget(key);
  }

  /**
   * @example
   * ```ts
   * import { defaultControllerRateLimiter } from "./rate_limiter.ts";
   * defaultControllerRateLimiter().numRequeues("a"); // 0
   * ```
   */
  numRequeues(key: K): number {
    return Math.max(...this.#limiters.map((l) => l.numRequeues(key)));
  }
}

/** Options of {@linkcode defaultControllerRateLimiter}. */
export interface ControllerRateLimiterOptions {
  /** Default 5 ms. */
  baseMs?: number;
  /** Default 5 min. */
  maxMs?: number;
  /** Default 10. */
  qps?: number;
  /** Default 100. */
  burst?: number;
}

/**
 * client-go's default controller rate limiter: max(per-key 5 ms·2^n capped, bucket 10 qps /
 * burst 100).
 *
 * @example
 * ```ts
 * import { defaultControllerRateLimiter } from "./rate_limiter.ts";
 * const rl = defaultControllerRateLimiter({ maxMs: 60_000 });
 * rl.when("dev/qwen"); // 5
 * ```
 */
export function defaultControllerRateLimiter<K = string>(
  opts: ControllerRateLimiterOptions = {},
): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ItemExponentialRateLimiter<K>(opts.baseMs ?? 5, opts.maxMs ?? 300_000),
    new TokenBucketRateLimiter<K>(opts.qps ?? 10, opts.burst ?? 100),
  );
}
