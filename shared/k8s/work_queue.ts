/**
 * {@linkcode WorkQueue}: the deduplicating, delaying, rate-limited queue of keys between the
 * informers and the reconcile workers — client-go's `workqueue` semantics, hand-written (it
 * is small, and its guarantees are the controller's correctness, so we want them in view).
 *
 * The guarantees, and why:
 *
 * - **Dedup.** A key is in the queue at most once (the *dirty* set). Ten events about one
 *   object before a worker gets to it cost one reconcile: reconciles are level-triggered and
 *   read the latest state, so the nine others would be wasted work.
 * - **One worker per key.** A key handed out by `get()` is *processing* until `done()`. Adds
 *   meanwhile only mark it dirty; `done()` puts it back. So two workers never reconcile the
 *   same object at once (no races between two writers of one object's children), and N adds
 *   during a reconcile produce exactly one re-run — which sees every change that came in.
 * - **Delays keep the earliest due time.** `addAfter(key, ms)` for a key already waiting keeps
 *   whichever is due first (kube-rs' scheduler does the same): a requeue "in 5 min" must not
 *   postpone a retry due in 1 s.
 * - **Rate-limited retries.** `addRateLimited` delays by the rate limiter (per-key
 *   exponential backoff, global token bucket); `forget` resets the key's backoff on success.
 * - **Shutdown.** After `shutDown()`, `get()` returns `undefined` at once, queued keys are
 *   dropped and delayed ones cancelled; keys being processed finish normally.
 *
 * All of this is synchronous bookkeeping on one thread (JavaScript), so there are no locks:
 * the state is consistent between any two awaits.
 *
 * @module
 */
import { defaultControllerRateLimiter, type RateLimiter } from "./rate_limiter.ts";

/** Hooks the queue reports to (see `metrics.ts` for the Prometheus implementation). */
export interface WorkQueueMetrics {
  /** A key entered the queue (`workqueue_adds_total`). */
  add(): void;
  /** The number of queued keys changed (`workqueue_depth`). */
  depth(n: number): void;
  /** A rate-limited re-add (`workqueue_retries_total`). */
  retry(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  queueDuration(seconds: number): void;
  /** Seconds a worker held a key (get → done). */
  workDuration(seconds: number): void;
}

/** Options of a {@linkcode WorkQueue}. */
export interface WorkQueueOptions<K> {
  /** Default: {@linkcode defaultControllerRateLimiter}. */
  rateLimiter?: RateLimiter<K>;
  metrics?: WorkQueueMetrics;
}

/** A deduplicating, delaying, rate-limited queue of keys. */
export class WorkQueue<K = string> {
  /** Keys ready for a worker, in FIFO order. Always a subset of `#dirty`. */
  readonly #queue = new Set<K>();
  /** Keys that need processing (queued, or re-added while processing). */
  readonly #dirty = new Set<K>();
  /** Keys a worker holds. */
  readonly #processing = new Set<K>();
  /** Delayed keys: when they are due and the timer that adds them. */
  readonly #waiting = new Map<K, { due: number; timer: ReturnType<typeof setTimeout> }>();
  /** Workers blocked in `get()`. */
  #waiters: ((key: K | undefined) => void)[] = [];
  readonly #addedAt = new Map<K, number>();
  readonly #startedAt = new Map<K, number>();
  readonly #idleWaiters: (() => void)[] = [];
  #shuttingDown = false;
  readonly #rateLimiter: RateLimiter<K>;
  readonly #metrics: WorkQueueMetrics | undefined;

  /**
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue<string>();
   * q.add("dev/a");
   * q.add("dev/a");
   * q.len(); // 1
   * ```
   */
  constructor(opts: WorkQueueOptions<K> = {}) {
    this.#rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<K>();
    this.#metrics = opts.metrics;
  }

  /**
   * Marks a key as needing work. No-op when it is already queued; when a worker holds it, it
   * is queued again once the worker calls `done()`.
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.add("dev/a");
   * ```
   */
  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#metrics?.add();
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, performance.now());
    if (this.#processing.has(key)) return;
    this.#queue.add(key);
    this.#metrics?.depth(this.#queue.size);
    this.#dispatch();
  }

  /**
   * Adds a key after `ms`. A key already waiting keeps the earlier of the two due times;
   * `ms <= 0` adds now.
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.addAfter("dev/a", 60_000);
   * q.addAfter("dev/a", 10); // due in 10 ms; the 60 s entry is gone
   * q.shutDown();
   * ```
   */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      // Like client-go, a delayed entry of the key stays: an extra reconcile is harmless, a
      // lost one is not.
      this.add(key);
      return;
    }
    const due = performance.now() + ms;
    const existing = this.#waiting.get(key);
    if (existing && existing.due <= due) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { due, timer });
  }

  /**
   * Re-adds a key after the rate limiter's delay for it (a failed reconcile).
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.addRateLimited("dev/a"); // due in 5 ms, then 10, 20, … until forget()
   * q.shutDown();
   * ```
   */
  addRateLimited(key: K): void {
    if (this.#shuttingDown) return;
    this.#metrics?.retry();
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /**
   * Clears a key's failure history (its next failure backs off from the start again).
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.forget("dev/a");
   * ```
   */
  forget(key: K): void {
    this.#rateLimiter.forget(key);
  }

  /**
   * How many rate-limited retries a key had since it was last forgotten.
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * new WorkQueue().numRequeues("dev/a"); // 0
   * ```
   */
  numRequeues(key: K): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /**
   * Takes the next key, waiting until there is one. `undefined` means the queue is shut
   * down: the worker should exit. Every key returned must be given back with `done()`.
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.add("dev/a");
   * const key = await q.get(); // "dev/a"
   * q.done(key!);
   * ```
   */
  get(): Promise<K | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Gives a key back after processing; if it was added meanwhile, it is queued again.
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.add("dev/a");
   * const key = await q.get();
   * q.add("dev/a"); // while processing: marked dirty only
   * q.done(key!); // queued again
   * q.len(); // 1
   * ```
   */
  done(key: K): void {
    if (!this.#processing.delete(key)) return;
    const started = this.#startedAt.get(key);
    this.#startedAt.delete(key);
    if (started !== undefined) this.#metrics?.workDuration((performance.now() - started) / 1000);
    if (this.#dirty.has(key) && !this.#shuttingDown) {
      this.#queue.add(key);
      this.#metrics?.depth(this.#queue.size);
      this.#dispatch();
    }
    if (this.#processing.size === 0) { for (const w of this.#idleWaiters.splice(0)) w(); }
  }

  /**
   * Keys waiting for a worker (not counting delayed or processing ones).
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * new WorkQueue().len(); // 0
   * ```
   */
  len(): number {
    return this.#queue.size;
  }

  /** Keys a worker currently holds. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting for a delay to pass. */
  get delayed(): number {
    return this.#waiting.size;
  }

  /** Whether `shutDown()` was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops the queue: blocked and future `get()`s return `undefined`, queued and delayed keys
   * are dropped. Keys being processed may still be `done()`.
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.shutDown();
   * await q.get(); // undefined
   * ```
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { timer } of this.#waiting.values()) clearTimeout(timer);
    this.#waiting.clear();
    this.#queue.clear();
    this.#metrics?.depth(0);
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  /**
   * Resolves when no key is being processed (after `shutDown()`: when workers are done).
   *
   * @example
   * ```ts
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue();
   * q.shutDown();
   * await q.idle();
   * ```
   */
  idle(): Promise<void> {
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #take(): K | undefined {
    const first = this.#queue.values().next();
    if (first.done) return undefined;
    const key = first.value;
    this.#queue.delete(key);
    this.#dirty.delete(key);
    this.#processing.add(key);
    const now = performance.now();
    const added = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (added !== undefined) this.#metrics?.queueDuration((now - added) / 1000);
    this.#startedAt.set(key, now);
    this.#metrics?.depth(this.#queue.size);
    return key;
  }

  /** Hands queued keys to blocked workers; state changes here, before any await resumes. */
  #dispatch(): void {
    while (this.#waiters.length > 0 && this.#queue.size > 0) {
      const key = this.#take();
      this.#waiters.shift()?.(key);
    }
  }
}
