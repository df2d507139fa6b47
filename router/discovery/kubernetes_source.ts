/**
 * The Kubernetes discovery source: informers on ModelRoutes, ModelServers and Pods (all
 * namespaces) feeding the router's datastore.
 *
 * The informers (shared/k8s) watch with Deno's own `fetch`, reconnect when a watch goes idle
 * and relist after a 410, so the router keeps seeing changes after long quiet periods.
 *
 * Ordering: the first state is delivered as one batch, built from the informers' caches once all
 * three have listed, so a request never sees routes without their servers or servers without
 * their pods. Events that arrive before that are already in the caches and are not replayed;
 * afterwards every event is applied as it comes, coalesced per microtask so a burst (a relist,
 * a rollout) becomes one datastore rebuild.
 *
 * Logging (the `log` option): the informers report their first sync, watches (re)started after
 * a relist or a failure, relists after a 410, failures with the backoff chosen, and objects
 * the API server accepted but the router's schema rejects, with the field at fault (such an
 * object is skipped: after a watch event its previous state stays, after a relist it is gone).
 * The source itself reports start, the consistent first state and a sync that times out.
 *
 * @module
 */
import { MODEL_ROUTE, MODEL_SERVER, type ModelRoute, type ModelServer } from "@kthena/shared/api";
import {
  customResource,
  type Informer,
  type KubeClient,
  type KubeObject,
  PODS,
} from "@kthena/shared/k8s";
import type { Pod } from "../datastore/pod.ts";
import { type Logger, silentLogger } from "../log.ts";
import {
  deleteEvent,
  type DiscoveryEvent,
  type DiscoveryKind,
  type DiscoverySink,
  type DiscoverySource,
  upsertEvent,
} from "./source.ts";

/** Options of {@linkcode KubernetesSource}. */
export interface KubernetesSourceOptions {
  client: KubeClient;
  /** Watch one namespace only; all namespaces when absent. */
  namespace?: string;
  /** How long to wait for the first list of every informer. Default 2 min. */
  syncTimeoutMs?: number;
  /** Where the source and its informers report; nothing when absent. */
  log?: Logger;
}

/**
 * Delivers the cluster's ModelRoutes, ModelServers and Pods.
 *
 * @example
 * ```ts ignore
 * import { jsonLogger, KubeClient } from "@kthena/shared/k8s";
 * import { KubernetesSource } from "./kubernetes_source.ts";
 * const source = new KubernetesSource({ client: KubeClient.load(), log: jsonLogger("info") });
 * await source.start(datastore);
 * ```
 */
export class KubernetesSource implements DiscoverySource {
  readonly name = "kubernetes";
  readonly routes: Informer<ModelRoute & KubeObject>;
  readonly servers: Informer<ModelServer & KubeObject>;
  readonly pods: Informer<Pod & KubeObject>;
  readonly #syncTimeoutMs: number;
  readonly #log: Logger;
  readonly #namespace: string | undefined;
  #pending: DiscoveryEvent[] = [];
  #flushScheduled = false;
  #live = false;
  #sink: DiscoverySink | undefined;
  readonly #unsubscribe: (() => void)[] = [];

  /** @param opts Client, namespace, sync timeout, log. */
  constructor(opts: KubernetesSourceOptions) {
    this.#log = opts.log ?? silentLogger;
    this.#namespace = opts.namespace;
    const scope = {
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      logger: this.#log,
    };
    this.routes = opts.client.informer(customResource<ModelRoute & KubeObject>(MODEL_ROUTE), scope);
    this.servers = opts.client.informer(
      customResource<ModelServer & KubeObject>(MODEL_SERVER),
      scope,
    );
    this.pods = opts.client.informer(PODS, scope) as unknown as Informer<Pod & KubeObject>;
    this.#syncTimeoutMs = opts.syncTimeoutMs ?? 120_000;
  }

  /** Starts the informers; resolves once the first state is in the datastore. */
  async start(sink: DiscoverySink): Promise<void> {
    this.#sink = sink;
    this.#watch("ModelRoute", this.routes, (o) => upsertEvent("ModelRoute", o));
    this.#watch("ModelServer", this.servers, (o) => upsertEvent("ModelServer", o));
    this.#watch("Pod", this.pods, (o) => upsertEvent("Pod", o));
    this.#log.info("kubernetes discovery starting", {
      namespace: this.#namespace ?? "(all)",
      informers: this.#informers().map((i) => i.name),
    });
    for (const i of this.#informers()) i.start();
    try {
      await Promise.all(this.#informers().map((i) => i.waitForSync(this.#syncTimeoutMs)));
    } catch (e) {
      // Name the informers still waiting: usually missing RBAC or CRDs not installed, which
      // their own "list/watch failed" warnings explain.
      this.#log.error("kubernetes discovery did not sync", {
        timeoutMs: this.#syncTimeoutMs,
        waiting: this.#informers().filter((i) => !i.hasSynced()).map((i) => i.name),
      });
      throw e;
    }
    // One consistent first batch from the caches; nothing can interleave with this block.
    const first: DiscoveryEvent[] = [
      ...this.servers.store.list().map((object) => upsertEvent("ModelServer", object)),
      ...this.pods.store.list().map((object) => upsertEvent("Pod", object)),
      ...this.routes.store.list().map((object) => upsertEvent("ModelRoute", object)),
    ];
    this.#pending = [];
    this.#live = true;
    sink.apply(first);
    sink.markSynced(this.name);
    this.#log.info("kubernetes discovery synced", {
      modelRoutes: this.routes.store.size,
      modelServers: this.servers.store.size,
      pods: this.pods.store.size,
    });
  }

  /** Stops the informers. */
  async stop(): Promise<void> {
    this.#live = false;
    for (const off of this.#unsubscribe.splice(0)) off();
    await Promise.all(this.#informers().map((i) => i.stop()));
  }

  #informers(): Informer<KubeObject>[] {
    return [this.routes, this.servers, this.pods] as Informer<KubeObject>[];
  }

  /** `toUpsert` is per kind (not derived from `kind`) so that each call site is type-checked. */
  #watch<T extends KubeObject>(
    kind: DiscoveryKind,
    informer: Informer<T>,
    toUpsert: (object: T) => DiscoveryEvent,
  ): void {
    const upsert = (object: T) => this.#push(toUpsert(object));
    this.#unsubscribe.push(informer.addHandler({
      onAdd: upsert,
      onUpdate: (_, object) => upsert(object),
      onDelete: (object) => this.#push(deleteEvent(kind, object)),
    }));
  }

  #push(event: DiscoveryEvent): void {
    if (!this.#live) return; // the first batch is built from the caches
    this.#pending.push(event);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      const batch = this.#pending;
      this.#pending = [];
      if (this.#live && batch.length > 0) this.#sink?.apply(batch);
    });
  }
}
