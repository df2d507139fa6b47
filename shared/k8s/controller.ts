/**
 * {@linkcode Controller}: the reconcile loop — informers feed keys into a {@linkcode
 * WorkQueue}, N workers take keys and call `reconcile(key)`, and the outcome decides when the
 * key comes back. controller-runtime's `Controller` and kube-rs' `Controller::run`, reduced to
 * what our controllers use.
 *
 * ## Level-triggered, on keys
 *
 * `reconcile` gets a key (`namespace/name`), never an event: it must read the current state
 * (from the informer caches) and drive the world towards it, every time, whatever happened.
 * Events only say "look at this key again". This is what makes dedup safe (ten events, one
 * reconcile) and missed events harmless (the periodic resync and the next event catch up).
 * Like kube-rs, the reason of a reconcile is deliberately not passed in.
 *
 * ## Concurrency
 *
 * - Workers run concurrently (`workers`, default 1), but **never two on one key**: the queue
 *   hands a key to one worker and holds further adds of it until `done()`. So a reconcile can
 *   read-modify-write its object's children without racing another reconcile of the same
 *   object. Different keys may run in parallel: reconcilers must not share per-key state
 *   without their own care.
 * - Adds that arrive **while** a key is being reconciled collapse into exactly one re-run
 *   after it finishes, so a change made during a reconcile is never lost, and a burst of
 *   changes costs one extra pass.
 * - Reads come from caches that may lag the API server by a few events: a reconcile may see
 *   a state older than its own last write. Writes must therefore be idempotent (server-side
 *   apply) or guarded (resourceVersion / UID preconditions), and a 409 is just a retry.
 *
 * ## Outcomes
 *
 * | reconcile… | then |
 * |---|---|
 * | returns `{ requeueAfter: ms }` | backoff forgotten, key due again in `ms` (earliest due time wins) |
 * | returns `{ requeue: true }` | re-added with rate limiting |
 * | returns nothing | backoff forgotten; the key waits for the next event or resync |
 * | throws {@linkcode TerminalError} | logged and counted, **not** retried (fixing it needs a spec change, which is an event) |
 * | throws anything else | re-added with per-key exponential backoff (5 ms doubling, capped), under a global token bucket |
 *
 * ## Ordering at start and stop
 *
 * Workers start only after every informer has synced: a reconcile on a half-filled cache
 * would conclude that children are missing and create duplicates. Handlers are attached before
 * the wait, and attaching replays the cache as adds, so every existing object is reconciled
 * once at start. `stop()` shuts the queue (blocked workers return), aborts the reconcile
 * signal, and waits for running reconciles to finish — a reconcile is never cut in the middle
 * by us.
 *
 * Under leader election, call `run()` from `onStartedLeading` and exit the process when
 * leadership is lost (see `leader_election.ts`).
 *
 * @module
 */
import type { EventSource, Informer } from "./informer.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type ReconcileResult, RuntimeMetrics } from "./metrics.ts";
import { type KubeObject, objectKey } from "./object.ts";
import { ownerKeyOf } from "./owner.ts";
import type { RateLimiter } from "./rate_limiter.ts";
import { WorkQueue } from "./work_queue.ts";

/** An error that retrying cannot fix (e.g. an invalid spec): the key is not requeued. */
export class TerminalError extends Error {
  /**
   * @example
   * ```ts
   * import { TerminalError } from "./controller.ts";
   * const e = new TerminalError("spec.template.roles is empty");
   * e instanceof Error; // true: throw it from reconcile to stop retries
   * ```
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** What a reconcile asks for. */
export interface ReconcileOutcome {
  /** Reconcile this key again after this many ms (e.g. a deadline, or polling). */
  requeueAfter?: number;
  /** Reconcile again soon, with rate limiting (prefer `requeueAfter`). */
  requeue?: boolean;
}

/** Passed to each reconcile. */
export interface ReconcileContext {
  /** Aborted when the controller stops; long waits inside a reconcile should honour it. */
  signal: AbortSignal;
}

/** The reconcile function of a controller. */
export type Reconciler = (
  key: string,
  ctx: ReconcileContext,
) => Promise<ReconcileOutcome | void>;

/** A secondary watch: objects of another informer mapped to keys of the primary kind. */
export interface WatchSource<T extends KubeObject = KubeObject> {
  informer: EventSource<T>;
  /** The primary keys to reconcile when this object changes. */
  map(obj: T): string[];
}

/** Options of a {@linkcode Controller}. */
export interface ControllerOptions<T extends KubeObject> {
  /** The controller's name (metrics `controller` label, logs). */
  name: string;
  /** The informer of the primary kind; its keys are what `reconcile` gets. */
  informer: Informer<T>;
  reconcile: Reconciler;
  /** Concurrent reconciles (different keys). Default 1. */
  workers?: number;
  /**
   * Re-enqueue every primary object this often, as anti-entropy against missed events and
   * external drift. Default 10 min; 0 turns it off.
   */
  resyncPeriodMs?: number;
  /** Primary updates that pass this filter are enqueued (default: all). */
  updatePredicate?: (oldObj: T, newObj: T) => boolean;
  /**
   * Informers of owned kinds: an event of an object whose controller reference points at the
   * primary kind enqueues that owner.
   */
  owns?: EventSource[];
  /** Other watches with their own mapping to primary keys. */
  watches?: WatchSource[];
  /** The retry policy. Default: client-go's default controller rate limiter. */
  rateLimiter?: RateLimiter<string>;
  /** How long to wait for the informers' first list. Default 2 min. */
  syncTimeoutMs?: number;
  /** Default: the metrics of prom-client's global registry. */
  metrics?: RuntimeMetrics;
  logger?: Logger;
}

/**
 * Enqueues primary updates only when `metadata.generation` changed, i.e. the spec changed
 * (controller-runtime's `GenerationChangedPredicate`): status writes, including our own, do
 * not trigger reconciles.
 *
 * @example
 * ```ts
 * import { generationChanged } from "./controller.ts";
 * generationChanged({ metadata: { generation: 1 } }, { metadata: { generation: 2 } }); // true
 * ```
 */
export function generationChanged(oldObj: KubeObject, newObj: KubeObject): boolean {
  return oldObj.metadata?.generation !== newObj.metadata?.generation;
}

/** A reconcile loop over one primary kind. */
export class Controller<T extends KubeObject> {
  /** The controller's queue; `queue.add(key)` triggers a reconcile from outside. */
  readonly queue: WorkQueue<string>;
  readonly name: string;
  readonly #opts: ControllerOptions<T>;
  readonly #metrics: RuntimeMetrics;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly #unsubscribe: (() => void)[] = [];
  #resync: ReturnType<typeof setInterval> | undefined;
  #workers: Promise<void>[] = [];
  #running: Promise<void> | undefined;

  /**
   * @example
   * ```ts ignore
   * import { Controller, Informer, customResource } from "./mod.ts";
   * import { MODEL_SERVER, type ModelServer } from "../api/mod.ts";
   * const servers = new Informer(client.transport, customResource<ModelServer>(MODEL_SERVER));
   * servers.start();
   * const controller = new Controller({
   *   name: "modelserver",
   *   informer: servers,
   *   workers: 2,
   *   reconcile: async (key) => {
   *     const obj = servers.store.get(key);
   *     if (!obj) return; // deleted: children go with garbage collection
   *     return { requeueAfter: 60_000 };
   *   },
   * });
   * await controller.run(); // until stop()
   * ```
   */
  constructor(opts: ControllerOptions<T>) {
    this.#opts = opts;
    this.name = opts.name;
    this.#metrics = opts.metrics ?? RuntimeMetrics.of();
    this.#log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({
      rateLimiter: opts.rateLimiter,
      metrics: this.#metrics.workQueue(opts.name),
    });
  }

  /**
   * Attaches the handlers, waits for every informer to sync, starts the workers and the
   * resync timer, and resolves when the controller has stopped and its last reconcile
   * finished.
   *
   * @throws {Error} when an informer does not sync within `syncTimeoutMs` (the controller is
   *   stopped then).
   * @example
   * ```ts ignore
   * const done = controller.run();
   * // … later
   * await controller.stop();
   * await done;
   * ```
   */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /**
   * Stops taking keys, aborts the reconcile signal, and waits for running reconciles.
   *
   * @example
   * ```ts ignore
   * await controller.stop();
   * ```
   */
  async stop(): Promise<void> {
    clearInterval(this.#resync);
    for (const off of this.#unsubscribe.splice(0)) off();
    this.queue.shutDown();
    this.#stop.abort();
    await Promise.all(this.#workers);
  }

  async #run(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const o = this.#opts;
    const primary = o.informer;
    const add = (key: string | undefined) => {
      if (key) this.queue.add(key);
    };
    this.#unsubscribe.push(primary.addHandler({
      onAdd: (obj) => add(objectKey(obj)),
      onUpdate: (oldObj, newObj) => {
        if (!o.updatePredicate || o.updatePredicate(oldObj, newObj)) add(objectKey(newObj));
      },
      onDelete: (obj) => add(objectKey(obj)),
    }));
    const owner = { group: primary.resource.group, kind: primary.resource.kind };
    for (const child of o.owns ?? []) {
      this.#unsubscribe.push(child.addHandler({
        onAdd: (obj: KubeObject) => add(ownerKeyOf(obj, owner)),
        // The controller reference can change (adoption, orphaning): both owners hear of it.
        onUpdate: (oldObj: KubeObject, newObj: KubeObject) => {
          add(ownerKeyOf(oldObj, owner));
          add(ownerKeyOf(newObj, owner));
        },
        onDelete: (obj: KubeObject) => add(ownerKeyOf(obj, owner)),
      }));
    }
    for (const w of o.watches ?? []) {
      const many = (obj: KubeObject) => {
        for (const k of w.map(obj)) add(k);
      };
      this.#unsubscribe.push(w.informer.addHandler({
        onAdd: many,
        onUpdate: (oldObj: KubeObject, newObj: KubeObject) => {
          many(oldObj);
          many(newObj);
        },
        onDelete: many,
      }));
    }

    const informers = [primary, ...(o.owns ?? []), ...(o.watches ?? []).map((w) => w.informer)];
    try {
      await Promise.all(informers.map((i) => i.waitForSync(o.syncTimeoutMs ?? 120_000)));
    } catch (e) {
      await this.stop();
      throw e;
    }
    if (this.#stop.signal.aborted) {
      // stop() ran while we waited for the caches: it detached what was attached by then.
      for (const off of this.#unsubscribe.splice(0)) off();
      return;
    }

    const resync = o.resyncPeriodMs ?? 600_000;
    if (resync > 0) {
      this.#resync = setInterval(() => {
        for (const key of primary.store.keys()) this.queue.add(key);
      }, resync);
    }
    const workers = Math.max(1, o.workers ?? 1);
    this.#metrics.maxConcurrentReconciles.set({ controller: this.name }, workers);
    this.#metrics.activeWorkers.set({ controller: this.name }, 0);
    this.#log.info("controller started", { controller: this.name, workers });
    this.#workers = Array.from({ length: workers }, () => this.#worker());
    await Promise.all(this.#workers);
    this.#log.info("controller stopped", { controller: this.name });
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return; // shut down
      await this.#process(key);
    }
  }

  /** Runs one reconcile and files its outcome; never throws. */
  async #process(key: string): Promise<void> {
    const labels = { controller: this.name };
    const m = this.#metrics;
    m.activeWorkers.inc(labels);
    const started = performance.now();
    let result: ReconcileResult = "success";
    try {
      const out = await this.#opts.reconcile(key, { signal: this.#stop.signal });
      if (out?.requeueAfter !== undefined && out.requeueAfter > 0) {
        // A requested requeue is not a failure: the backoff starts over.
        this.queue.forget(key);
        this.queue.addAfter(key, out.requeueAfter);
        result = "requeue_after";
      } else if (out?.requeue) {
        this.queue.addRateLimited(key);
        result = "requeue";
      } else {
        this.queue.forget(key);
      }
    } catch (e) {
      result = "error";
      m.reconcileErrors.inc(labels);
      const error = e instanceof Error ? e.message : String(e);
      if (e instanceof TerminalError) {
        m.terminalReconcileErrors.inc(labels);
        this.queue.forget(key);
        this.#log.error("reconcile failed (terminal, not retried)", {
          controller: this.name,
          key,
          error,
        });
      } else {
        this.queue.addRateLimited(key);
        this.#log.warn("reconcile failed, retrying", {
          controller: this.name,
          key,
          error,
          retries: this.queue.numRequeues(key),
        });
      }
    } finally {
      m.reconcileTotal.inc({ controller: this.name, result });
      m.reconcileTime.observe(labels, (performance.now() - started) / 1000);
      m.activeWorkers.dec(labels);
      // Last: until done(), adds of this key only mark it dirty; done() requeues it once.
      this.queue.done(key);
    }
  }
}
