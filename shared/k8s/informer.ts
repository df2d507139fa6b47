/**
 * {@linkcode Informer}: list + watch of one resource into a {@linkcode Store}, with event
 * handlers — client-go's reflector and shared informer in one small class, on the Deno-safe
 * watch of `watch.ts`.
 *
 * The loop, and why each step is there:
 *
 * 1. **List** (paged, a consistent read) and replace the cache; handlers get an add for every
 *    new object, an update for every changed one and a delete for every object that vanished
 *    while nobody watched (`finalStateUnknown: true`, the last state we had — client-go's
 *    `DeletedFinalStateUnknown` tombstone). The first list completes {@linkcode
 *    Informer.hasSynced}.
 * 2. **Watch** from the list's resourceVersion, with bookmarks. Every event (bookmarks too)
 *    advances the resourceVersion we resume from.
 * 3. When the server **closes** the watch (its timeout), re-watch from the last
 *    resourceVersion: nothing was missed, so no relist.
 * 4. When the watch goes **silent** longer than `idleTimeoutMs` (no bookmark either), the TCP
 *    connection may be half-open (dead without an error): re-watch from the last
 *    resourceVersion. On a healthy but completely quiet cluster this just reopens the watch.
 * 5. **410 Gone** (the resourceVersion was compacted away, as a status or an ERROR event): the
 *    events in between are lost for good, so relist at once (step 1) and let the diff produce
 *    the missed adds, updates and tombstones. (A second 410 before any event backs off.)
 * 6. Any other failure: wait with exponential backoff and jitter (0.8 s doubling to 30 s,
 *    reset once a watch delivers an event), then re-watch from the last resourceVersion, or
 *    relist if no list has succeeded yet.
 *
 * Ordering guarantees: events are applied to the store and then handed to the handlers in
 * the order the API server sent them, one at a time (handlers are synchronous; a handler that
 * reads the store sees the state including the event). Handlers should only enqueue work —
 * a slow handler delays every later event.
 *
 * @module
 */
import { ResourceValidationError } from "../api/mod.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type ApiResource, resourcePath } from "./api_resource.ts";
import { Backoff, sleep } from "./backoff.ts";
import { isGone, kubeErrorFrom } from "./errors.ts";
import { type KubeObject, objectKey } from "./object.ts";
import { type IndexFunc, Store } from "./store.ts";
import type { KubeTransport } from "./transport.ts";
import { listAll, type WatchEvent, watchEvents } from "./watch.ts";

/** Extra facts about a delete. */
export interface DeleteInfo {
  /**
   * True when the delete was inferred on a relist (the object vanished while the watch was
   * broken): the object is the last state the cache had, not the final one.
   */
  finalStateUnknown: boolean;
}

/** Callbacks of an informer; all optional, all synchronous. */
export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T, info: DeleteInfo): void;
}

/**
 * What a controller needs of an informer it listens to: handlers and the first sync. Any
 * `Informer<T>` is one; the method signatures let an `Informer<V1Pod>` stand where an
 * `EventSource<KubeObject>` is expected.
 */
export interface EventSource<T extends KubeObject = KubeObject> {
  addHandler(handlers: InformerHandlers<T>): () => void;
  waitForSync(timeoutMs?: number): Promise<void>;
}

/** Options of an {@linkcode Informer}. */
export interface InformerOptions<T extends KubeObject> {
  /** One namespace; all namespaces when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Secondary indexes of the cache. */
  indexers?: Record<string, IndexFunc<T>>;
  /** A store to fill instead of a new one (e.g. one with indexes already set up). */
  store?: Store<T>;
  /**
   * Re-watch after this long without any byte, bookmarks included. Default 150 s: on a live
   * cluster the API server sends a bookmark about every 60 s on an idle watch.
   */
  idleTimeoutMs?: number;
  /** Objects per list page. Default 500. */
  pageSize?: number;
  /** First and largest backoff after failures. Default 800 ms and 30 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** A name for logs. Default the plural, with the namespace. */
  name?: string;
  logger?: Logger;
}

/** Counters of what an informer did, for tests and debugging. */
export interface InformerStats {
  /** Successful lists. */
  lists: number;
  /** Watch connections the API server accepted. */
  watches: number;
  /** 410 Gone answers (each followed by a relist). */
  expired: number;
  /** Watches given up for silence. */
  idleTimeouts: number;
  /** Other failures (each followed by a backoff). */
  errors: number;
  /** Objects that did not decode (skipped). */
  decodeErrors: number;
  /** ADDED/MODIFIED/DELETED events applied. */
  events: number;
  bookmarks: number;
}

/** A cache of one resource, kept current by list + watch, with event handlers. */
export class Informer<T extends KubeObject> implements EventSource<T> {
  /** The cache. Treat its objects as immutable. */
  readonly store: Store<T>;
  /** A name for logs. */
  readonly name: string;
  /** What happened so far. */
  readonly stats: InformerStats = {
    lists: 0,
    watches: 0,
    expired: 0,
    idleTimeouts: 0,
    errors: 0,
    decodeErrors: 0,
    events: 0,
    bookmarks: 0,
  };

  readonly #transport: KubeTransport;
  readonly #resource: ApiResource<T>;
  readonly #opts: InformerOptions<T>;
  readonly #log: Logger;
  readonly #path: string;
  readonly #handlers = new Set<InformerHandlers<T>>();
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #lastRv = "";
  #lastActivity = performance.now();
  #stop: AbortController | undefined;
  #watchAbort: AbortController | undefined;
  #forcedRv: string | undefined;
  /** 410s since the last applied event. */
  #goneInRow = 0;
  /**
   * Whether the next accepted watch is worth an info line: the first one, and the first after
   * a relist or a failure. Routine reconnects (server timeouts, silences) log at debug only,
   * or a healthy router would log every few minutes per resource.
   */
  #announceWatch = true;
  #loop: Promise<void> | undefined;

  /**
   * @param transport The API server connection (`KubeClient.transport`).
   * @param resource What to list and watch, and how to decode it.
   * @param opts Namespace, selectors, indexes, timeouts.
   * @example
   * ```ts ignore
   * import { Informer, PODS } from "./mod.ts";
   * const pods = new Informer(client.transport, PODS, { namespace: "dev", labelSelector: "app=x" });
   * pods.addHandler({ onAdd: (p) => console.log("pod", p.metadata?.name) });
   * pods.start();
   * await pods.waitForSync();
   * ```
   */
  constructor(transport: KubeTransport, resource: ApiResource<T>, opts: InformerOptions<T> = {}) {
    this.#transport = transport;
    this.#resource = resource;
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger;
    this.store = opts.store ?? new Store<T>();
    for (const [name, fn] of Object.entries(opts.indexers ?? {})) this.store.addIndexer(name, fn);
    this.#path = resourcePath(resource, opts.namespace);
    this.name = opts.name ??
      (opts.namespace ? `${opts.namespace}/${resource.plural}` : resource.plural);
  }

  /** The resource this informer watches. */
  get resource(): ApiResource<T> {
    return this.#resource;
  }

  /**
   * Registers handlers. When the cache already holds objects, `onAdd` is called for each at
   * once (like client-go), so a late subscriber sees the same world as an early one. Returns
   * a function that unregisters them.
   *
   * @example
   * ```ts ignore
   * const off = informer.addHandler({ onDelete: (obj, { finalStateUnknown }) => {} });
   * off();
   * ```
   */
  addHandler(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    if (handlers.onAdd) {
      for (const obj of this.store.list()) this.#call(() => handlers.onAdd?.(obj));
    }
    return () => this.#handlers.delete(handlers);
  }

  /**
   * Starts listing and watching in the background (idempotent).
   *
   * @example
   * ```ts ignore
   * informer.start();
   * ```
   */
  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#loop = this.#run(this.#stop.signal);
  }

  /**
   * Stops the watch and waits for the loop to end. The cache keeps its content.
   *
   * @example
   * ```ts ignore
   * await informer.stop();
   * ```
   */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  /**
   * Whether the first list has been applied (the cache is complete).
   *
   * @example
   * ```ts ignore
   * if (!informer.hasSynced()) return;
   * ```
   */
  hasSynced(): boolean {
    return this.#synced;
  }

  /**
   * Resolves once the first list has been applied.
   *
   * @throws {Error} when `timeoutMs` elapses first.
   * @example
   * ```ts ignore
   * await informer.waitForSync(60_000);
   * ```
   */
  waitForSync(timeoutMs = 120_000): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`informer ${this.name} not synced after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#syncWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The resourceVersion the next watch resumes from.
   *
   * @example
   * ```ts ignore
   * informer.lastResourceVersion(); // "12345"
   * ```
   */
  lastResourceVersion(): string {
    return this.#lastRv;
  }

  /**
   * Milliseconds since the API server last showed this informer a sign of life: an event, a
   * bookmark, a completed list or an accepted watch. A healthy informer stays under
   * `idleTimeoutMs` (bookmarks, or the reconnect after a silence); readiness probes can
   * compare it with a larger threshold.
   *
   * @example
   * ```ts ignore
   * const fresh = informer.lastEventAgeMs() < 180_000;
   * ```
   */
  lastEventAgeMs(): number {
    return performance.now() - this.#lastActivity;
  }

  /**
   * Closes the current watch and opens a new one from `resourceVersion` (default: the last
   * seen). Recovers a watch suspected stuck; tests pass an ancient resourceVersion to make the
   * API server answer 410 and exercise the relist path.
   *
   * @example
   * ```ts ignore
   * informer.restartWatch("1"); // → 410 Gone → relist
   * ```
   */
  restartWatch(resourceVersion?: string): void {
    this.#forcedRv = resourceVersion ?? this.#lastRv;
    this.#watchAbort?.abort();
  }

  async #run(stop: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#opts.backoff);
    let needList = true;
    while (!stop.aborted) {
      try {
        if (needList) {
          await this.#relist(stop);
          needList = false;
        }
        if (this.#forcedRv !== undefined) {
          this.#lastRv = this.#forcedRv;
          this.#forcedRv = undefined;
        }
        const { events, ms } = await this.#watchOnce(stop, backoff);
        // A watch the server ends at once, without a single event, is a failure in
        // disguise (e.g. a proxy closing streams): back off rather than spin.
        if (events === 0 && ms < 1000 && this.#forcedRv === undefined && !stop.aborted) {
          throw new Error("watch closed immediately");
        }
      } catch (e) {
        if (stop.aborted) break;
        if (isGone(e)) {
          this.stats.expired++;
          this.#log.info("watch expired (410), relisting", {
            informer: this.name,
            rv: this.#lastRv,
          });
          needList = true;
          // The first 410 relists at once (events were lost; the sooner the better). A 410
          // again right after a fresh list, with no event in between, is not compaction but a
          // misbehaving server: back off then.
          if (this.#goneInRow++ > 0) await sleep(backoff.next(), stop);
          continue;
        }
        if (e instanceof Error && e.name === "WatchIdleError") {
          // Normal on a cluster so quiet that the API server has no newer resourceVersion to
          // put in a bookmark; a real problem only if it keeps failing afterwards.
          this.stats.idleTimeouts++;
          this.#log.info("watch silent, reconnecting", { informer: this.name });
          continue;
        }
        this.stats.errors++;
        this.#announceWatch = true;
        if (!this.#synced) needList = true;
        const delay = backoff.next();
        this.#log.warn("list/watch failed, backing off", {
          informer: this.name,
          error: e instanceof Error ? e.message : String(e),
          delayMs: Math.round(delay),
        });
        await sleep(delay, stop);
      }
    }
  }

  async #relist(stop: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await listAll(this.#transport, this.#path, {
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      pageSize: this.#opts.pageSize,
      signal: stop,
    });
    if (stop.aborted) return;
    const objs: T[] = [];
    for (const raw of items) {
      const obj = this.#decode(raw);
      if (obj) objs.push(obj);
    }
    const diff = this.store.replace(objs);
    this.#lastRv = resourceVersion;
    this.#lastActivity = performance.now();
    this.stats.lists++;
    for (const obj of diff.added) this.#emit((h) => h.onAdd?.(obj));
    for (const [o, n] of diff.updated) this.#emit((h) => h.onUpdate?.(o, n));
    for (const obj of diff.deleted) {
      this.#emit((h) => h.onDelete?.(obj, { finalStateUnknown: true }));
    }
    this.#announceWatch = true;
    if (!this.#synced) {
      this.#synced = true;
      this.#log.info("informer synced", {
        informer: this.name,
        objects: objs.length,
        rv: resourceVersion,
      });
      for (const w of this.#syncWaiters.splice(0)) w();
    } else {
      // After a 410 or a failed watch: what the watch missed, as the relist found it.
      this.#log.info("informer relisted", {
        informer: this.name,
        objects: objs.length,
        added: diff.added.length,
        updated: diff.updated.length,
        deleted: diff.deleted.length,
        rv: resourceVersion,
      });
    }
  }

  async #watchOnce(stop: AbortSignal, backoff: Backoff): Promise<{ events: number; ms: number }> {
    const abort = this.#watchAbort = new AbortController();
    // Either stop() or restartWatch() ends this watch; stop may already have fired.
    const signal = AbortSignal.any([stop, abort.signal]);
    const started = performance.now();
    let events = 0;
    try {
      for await (
        const ev of watchEvents(this.#transport, this.#path, {
          resourceVersion: this.#lastRv,
          labelSelector: this.#opts.labelSelector,
          fieldSelector: this.#opts.fieldSelector,
          idleTimeoutMs: this.#opts.idleTimeoutMs ?? 150_000,
          signal,
          onOpen: () => {
            this.stats.watches++;
            this.#lastActivity = performance.now();
            this.#log(this.#announceWatch ? "info" : "debug", "watch started", {
              informer: this.name,
              rv: this.#lastRv,
            });
            this.#announceWatch = false;
          },
        })
      ) {
        this.#apply(ev);
        events++;
        backoff.reset();
      }
    } finally {
      this.#watchAbort = undefined;
    }
    return { events, ms: performance.now() - started };
  }

  #apply(ev: WatchEvent): void {
    this.#lastActivity = performance.now();
    if (ev.type === "ERROR") {
      const status = (ev.object ?? {}) as { code?: number };
      throw kubeErrorFrom(status.code ?? 500, ev.object);
    }
    const rv = (ev.object as KubeObject | undefined)?.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      this.stats.bookmarks++;
      if (rv) this.#lastRv = rv;
      return;
    }
    this.#goneInRow = 0;
    const obj = this.#decode(ev.object);
    if (rv) this.#lastRv = rv;
    if (ev.type === "DELETED") {
      // The event carries the object's final state; if that does not decode, the last
      // cached state stands in for it. Either way the key leaves the cache.
      const old = this.store.delete(objectKey(obj ?? ev.object as KubeObject));
      const last = obj ?? old;
      if (!last) return;
      this.stats.events++;
      this.#emit((h) => h.onDelete?.(last, { finalStateUnknown: false }));
      return;
    }
    if (!obj) return;
    this.stats.events++;
    const old = this.store.upsert(obj);
    if (!old) this.#emit((h) => h.onAdd?.(obj));
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      this.#emit((h) => h.onUpdate?.(old, obj));
    }
  }

  #decode(raw: unknown): T | undefined {
    try {
      return this.#resource.decode(raw);
    } catch (e) {
      // An object the API server accepted but our schema rejects: skipping it keeps the
      // watch alive. On a watch event the previous cached state (if any) stays; on a relist
      // the object is missing from the list, so it leaves the cache.
      this.stats.decodeErrors++;
      this.#log.warn("object does not decode, skipped", {
        informer: this.name,
        object: objectKey(raw as KubeObject),
        error: e instanceof Error ? e.message : String(e),
        // Each problem names its field (`spec.rules[0].targetModels: …`): what to fix.
        ...(e instanceof ResourceValidationError ? { problems: e.problems } : {}),
      });
      return undefined;
    }
  }

  #emit(fn: (h: InformerHandlers<T>) => void): void {
    for (const h of this.#handlers) this.#call(() => fn(h));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log.error("informer handler threw", {
        informer: this.name,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
}
