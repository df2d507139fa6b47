/**
 * Running slots and the waiting queue, after vLLM v1's scheduler:
 *
 * - at most `maxNumSeqs` requests run; the rest wait in FIFO order;
 * - a waiting request is admitted only if its KV blocks can be allocated; when they cannot, the
 *   queue stops there (head-of-line, as vLLM does for KV shortage);
 * - a request whose LoRA adapter would exceed `maxLoras` distinct adapters in the batch is
 *   skipped and later requests are tried (vLLM skips, too);
 * - when a running request needs a block and none is free, the most recently admitted running
 *   request is preempted (possibly the requester itself): it releases its blocks and goes back
 *   to the front of the queue, to be recomputed (with prefix hits) when readmitted.
 *
 * @module
 */

/** What the scheduler needs from a request. */
export interface Schedulable {
  /** LoRA adapter, or undefined for the base model. */
  readonly lora: string | undefined;
  /** Tries to allocate the KV blocks this request needs; true on success. */
  tryAllocate(): boolean;
  /** Called once the request holds a running slot. */
  onAdmitted(): void;
  /** Called when the request is preempted (its blocks must be released by the callee). */
  onPreempted(): void;
}

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** Running-slot count. */
  maxNumSeqs: number;
  /** Distinct adapters allowed in the running batch. */
  maxLoras: number;
}

/**
 * Admission control with a FIFO waiting queue.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * const s = new Scheduler({ maxNumSeqs: 1, maxLoras: 1 });
 * const req = (name: string) => ({
 *   lora: undefined, tryAllocate: () => true, onAdmitted: () => console.log(name), onPreempted() {},
 * });
 * const a = req("a"), b = req("b");
 * s.enqueue(a); // logs "a"
 * s.enqueue(b);
 * console.log(s.numRunning, s.numWaiting); // 1 1
 * s.finish(a); // logs "b"
 * ```
 */
export class Scheduler<T extends Schedulable = Schedulable> {
  readonly #options: SchedulerOptions;
  readonly #running = new Set<T>();
  #waiting: T[] = [];
  #scheduling = false;
  #again = false;
  #preemptions = 0;

  /** @param options Slot and LoRA limits. */
  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  /** Requests holding a running slot. */
  get numRunning(): number {
    return this.#running.size;
  }

  /** Requests waiting for a slot (including preempted ones). */
  get numWaiting(): number {
    return this.#waiting.length;
  }

  /** Preemptions so far. */
  get preemptions(): number {
    return this.#preemptions;
  }

  /** Running requests in admission order. */
  get running(): readonly T[] {
    return [...this.#running];
  }

  /** Waiting requests in queue order. */
  get waiting(): readonly T[] {
    return this.#waiting;
  }

  /** Whether `req` holds a running slot. */
  isRunning(req: T): boolean {
    return this.#running.has(req);
  }

  /** Adds a request to the back of the queue and admits what fits. */
  enqueue(req: T): void {
    this.#waiting.push(req);
    this.schedule();
  }

  /** Removes a request (finished, failed or cancelled) and admits what now fits. */
  finish(req: T): void {
    if (!this.#running.delete(req)) {
      const i = this.#waiting.indexOf(req);
      if (i >= 0) this.#waiting.splice(i, 1);
    }
    this.schedule();
  }

  /**
   * Frees a slot for `requester` by preempting the most recently admitted running request.
   *
   * @returns The preempted request (may be `requester`), or undefined if nothing runs.
   */
  preempt(requester: T): T | undefined {
    let victim: T | undefined;
    for (const r of this.#running) victim = r;
    if (victim === undefined) return undefined;
    void requester;
    this.#running.delete(victim);
    this.#waiting.unshift(victim);
    this.#preemptions++;
    victim.onPreempted();
    return victim;
  }

  /** Admits waiting requests while slots, adapters and KV allow. Safe to call re-entrantly. */
  schedule(): void {
    if (this.#scheduling) {
      this.#again = true;
      return;
    }
    this.#scheduling = true;
    try {
      do {
        this.#again = false;
        this.#admit();
      } while (this.#again);
    } finally {
      this.#scheduling = false;
    }
  }

  #admit(): void {
    if (this.#waiting.length === 0 || this.#running.size >= this.#options.maxNumSeqs) return;
    const loras = new Set<string>();
    for (const r of this.#running) if (r.lora !== undefined) loras.add(r.lora);
    const kept: T[] = [];
    let i = 0;
    for (; i < this.#waiting.length; i++) {
      if (this.#running.size >= this.#options.maxNumSeqs) break;
      const req = this.#waiting[i]!;
      if (req.lora !== undefined && !loras.has(req.lora) && loras.size >= this.#options.maxLoras) {
        kept.push(req);
        continue;
      }
      if (!req.tryAllocate()) break;
      if (req.lora !== undefined) loras.add(req.lora);
      this.#running.add(req);
      req.onAdmitted();
    }
    this.#waiting = kept.concat(this.#waiting.slice(i));
  }
}
