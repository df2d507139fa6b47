/**
 * The LeaderWorkerSet → ModelServing controller (kthena-controllers.md §2.12): every
 * LeaderWorkerSet (`leaderworkerset.x-k8s.io/v1`) gets a ModelServing of the same name that it
 * controls, built by {@linkcode desiredModelServing}, and shows that ModelServing's group
 * counts in its status. The ModelServing controller does the rest; the `lws-standard-labels`
 * plugin gives the pods LeaderWorkerSet's labels. Deleting the LeaderWorkerSet deletes the
 * ModelServing and its pods through garbage collection (owner references, no finalizers).
 *
 * The LeaderWorkerSet API is optional: the controller looks it up by API discovery when it
 * starts and again every `checkIntervalMs` while it is missing, and only then starts its
 * informers and workers. Missing is not an error.
 *
 * @module
 */
import type { ReconcilerOptions } from "../reconciler_options.ts";
import { z } from "zod";
import {
  LEADER_WORKER_SET,
  type LeaderWorkerSet,
  LWS_GROUP,
  MODEL_SERVING,
  type ModelServing,
} from "@kthena/shared/api";
import {
  Controller,
  controllerOf,
  customResource,
  EventRecorder,
  hasCode,
  type Informer,
  isAlreadyExists,
  type KubeClient,
  type Logger,
  objectKey,
  ownerKeyOf,
  type ReconcileOutcome,
  type ResourceClient,
  silentLogger,
  splitKey,
  TerminalError,
} from "@kthena/shared/k8s";
import {
  desiredModelServing,
  InvalidLeaderWorkerSet,
  lwsStatusFor,
  modelServingPatch,
  needsUpdate,
} from "./desired.ts";

/** The owner kind, for mapping ModelServing events back to their LeaderWorkerSet. */
const LWS_KIND = { group: LWS_GROUP, kind: "LeaderWorkerSet" };

/** Options of {@linkcode LeaderWorkerSetController}. */
export interface LeaderWorkerSetControllerOptions extends ReconcilerOptions {
  /** Concurrent reconciles. Default 1 (upstream runs this controller with one worker). */
  workers?: number;
  /** How often to look for the LeaderWorkerSet API while it is missing. Default 30 s. */
  checkIntervalMs?: number;
}

/** The part of an API discovery document (`APIResourceList`) the detection reads. */
const ResourceList = z.object({
  resources: z.array(z.object({ name: z.string(), kind: z.string() })).default([]),
});

/**
 * The LeaderWorkerSet controller. `run()` resolves when stopped; until the LeaderWorkerSet API
 * exists it only polls discovery, and `ready()` is true (there is nothing to sync).
 *
 * @example
 * ```ts ignore
 * import { KubeClient } from "@kthena/shared/k8s";
 * import { LeaderWorkerSetController } from "./controller.ts";
 * const c = new LeaderWorkerSetController({ client: KubeClient.load() });
 * const done = c.run();
 * // …
 * await c.stop();
 * await done;
 * ```
 */
export class LeaderWorkerSetController {
  /** Started once the LeaderWorkerSet API is found. */
  leaderWorkerSets: Informer<LeaderWorkerSet> | undefined;
  modelServings: Informer<ModelServing> | undefined;
  controller: Controller<LeaderWorkerSet> | undefined;

  readonly #opts: LeaderWorkerSetControllerOptions;
  readonly #client: KubeClient;
  readonly #lwsClient: ResourceClient<LeaderWorkerSet>;
  readonly #msClient: ResourceClient<ModelServing>;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #stopped = Promise.withResolvers<void>();
  #stopping = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #detecting = false;
  #running: Promise<void> | undefined;

  constructor(opts: LeaderWorkerSetControllerOptions) {
    this.#opts = opts;
    this.#client = opts.client;
    this.#log = opts.logger ?? silentLogger;
    this.#events = opts.events ??
      new EventRecorder(opts.client, {
        component: "leaderworkerset-controller",
        logger: this.#log,
      });
    this.#lwsClient = opts.client.resource<LeaderWorkerSet>(LEADER_WORKER_SET);
    this.#msClient = opts.client.resource<ModelServing>(MODEL_SERVING);
  }

  /** Looks for the API (now and periodically while missing) and runs; resolves when stopped. */
  async run(): Promise<void> {
    if (!(await this.#detect()) && !this.#stopping) {
      this.#timer = setInterval(() => void this.#detect(), this.#opts.checkIntervalMs ?? 30_000);
    }
    await this.#stopped.promise;
    await this.#running;
  }

  /** Stops polling, the workers and the informers. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.controller?.stop();
    await this.leaderWorkerSets?.stop();
    await this.modelServings?.stop();
    this.#stopped.resolve();
  }

  /** Every cache has synced (trivially true while the API is missing). */
  ready(): boolean {
    return [this.leaderWorkerSets, this.modelServings].every((i) => !i || i.hasSynced());
  }

  /**
   * Whether the API server serves `leaderworkerset.x-k8s.io/v1` LeaderWorkerSets; starts the
   * controller the first time it does. Discovery needs no RBAC beyond what every
   * authenticated client has.
   */
  async #detect(): Promise<boolean> {
    if (this.controller) return true;
    if (this.#detecting || this.#stopping) return false;
    this.#detecting = true;
    try {
      const res = await this.#client.transport.request(`/apis/${LWS_GROUP}/v1`);
      if (!res.ok) {
        await res.body?.cancel();
        if (res.status !== 404) {
          this.#log.warn("cannot look for the LeaderWorkerSet API", { status: res.status });
        }
        return false;
      }
      const list = ResourceList.safeParse(await res.json());
      const found = list.success &&
        list.data.resources.some((r) =>
          r.kind === "LeaderWorkerSet" && r.name === "leaderworkersets"
        );
      if (!found || this.#stopping) return false;
      clearInterval(this.#timer);
      this.#start();
      this.#log.info("LeaderWorkerSet API found; controller started");
      return true;
    } catch (e) {
      this.#log.warn("cannot look for the LeaderWorkerSet API", { error: String(e) });
      return false;
    } finally {
      this.#detecting = false;
    }
  }

  #start(): void {
    const log = this.#log;
    const lws = this.leaderWorkerSets = this.#client.informer(
      customResource<LeaderWorkerSet>(LEADER_WORKER_SET),
      { logger: log },
    );
    const modelServings = this.modelServings = this.#client.informer(
      customResource<ModelServing>(MODEL_SERVING),
      { logger: log },
    );
    this.controller = new Controller<LeaderWorkerSet>({
      name: "leaderworkerset",
      informer: lws,
      workers: this.#opts.workers ?? 1,
      resyncPeriodMs: this.#opts.resyncPeriodMs,
      watches: [{
        informer: modelServings,
        // Status changes matter too (they are mirrored), so every event of a ModelServing a
        // LeaderWorkerSet controls reaches it. A ModelServing of the same name that it does
        // not control is in its way: its deletion must bring the LeaderWorkerSet back.
        map: (ms) => {
          const owner = ownerKeyOf(ms, LWS_KIND);
          if (owner) return [owner];
          const key = objectKey(ms);
          return lws.store.has(key) ? [key] : [];
        },
      }],
      reconcile: (key) => this.reconcile(key),
      metrics: this.#opts.metrics,
      logger: log,
    });
    lws.start();
    modelServings.start();
    this.#running = this.controller.run().catch((e) => {
      log.error("leaderworkerset controller failed", { error: String(e) });
    });
  }

  /**
   * Reconciles one LeaderWorkerSet: create or correct its ModelServing, then mirror the
   * ModelServing's counts into its status.
   *
   * @throws {TerminalError} when its templates cannot make a ModelServing, or the API server
   *   rejects the ModelServing (a spec change is needed, which is an event).
   */
  async reconcile(key: string): Promise<ReconcileOutcome | void> {
    const lws = this.leaderWorkerSets?.store.get(key);
    // Deleted: garbage collection removes the ModelServing and its pods.
    if (!lws || lws.metadata.deletionTimestamp) return;
    const { namespace, name } = splitKey(key);
    const ms = this.modelServings?.store.get(key);

    if (ms && controllerOf(ms)?.uid !== lws.metadata.uid) {
      const ref = controllerOf(ms);
      if (ref?.kind === "LeaderWorkerSet") {
        // The ModelServing of a deleted LeaderWorkerSet of the same name: garbage collection
        // removes it, and its delete event brings this key back. Until the collector has got
        // to it (no deletionTimestamp yet), look again now and then.
        return ms.metadata.deletionTimestamp ? undefined : { requeueAfter: 5_000 };
      }
      await this.#events.event(
        lws,
        "Warning",
        "ModelServingExists",
        `ModelServing ${name} exists and is not controlled by this LeaderWorkerSet; ` +
          "it is left alone until it is deleted",
      );
      return;
    }

    let desired;
    try {
      desired = desiredModelServing(lws);
    } catch (e) {
      if (!(e instanceof InvalidLeaderWorkerSet)) throw e;
      await this.#events.event(lws, "Warning", "InvalidSpec", e.message);
      throw new TerminalError(`${key}: ${e.message}`);
    }

    try {
      if (!ms) {
        await this.#msClient.create(desired);
        await this.#events.event(lws, "Normal", "Created", `Created ModelServing ${name}`);
      } else if (needsUpdate(desired, ms)) {
        await this.#msClient.patch(namespace, name, modelServingPatch(desired));
        await this.#events.event(lws, "Normal", "Updated", `Updated ModelServing ${name}`);
      }
    } catch (e) {
      // Not in the cache yet (or someone else's, which the cache will show): come back then.
      if (isAlreadyExists(e)) return { requeueAfter: 1_000 };
      if (hasCode(e, 422)) {
        const msg = e instanceof Error ? e.message : String(e);
        await this.#events.event(lws, "Warning", "InvalidModelServing", msg);
        throw new TerminalError(`${key}: ModelServing rejected: ${msg}`);
      }
      throw e;
    }

    const want = lwsStatusFor(ms);
    const have = lws.status;
    if (have?.replicas !== want.replicas || have?.readyReplicas !== want.readyReplicas) {
      await this.#lwsClient.patchStatus(namespace, name, want);
    }
  }
}
