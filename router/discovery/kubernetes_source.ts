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
 * @module
 */
import { MODEL_ROUTE, MODEL_SERVER, type ModelRoute, type ModelServer } from "@kthena/shared/api";
import {
  customResource,
  type Informer,
  type KubeClient,
  type KubeObject,
  objectKey,
  PODS,
} from "@kthena/shared/k8s";
import type { Pod } from "../datastore/pod.ts";
import type { DiscoveryEvent, DiscoveryKind, DiscoverySink, DiscoverySource } from "./source.ts";

/** Options of {@linkcode KubernetesSource}. */
export interface KubernetesSourceOptions {
  client: KubeClient;
  /** Watch one namespace only; all namespaces when absent. */
  namespace?: string;
  /** How long to wait for the first list of every informer. Default 2 min. */
  syncTimeoutMs?: number;
}

/**
 * Delivers the cluster's ModelRoutes, ModelServers and Pods.
 *
 * @example
 * ```ts ignore
 * import { KubeClient } from "@kthena/shared/k8s";
 * import { KubernetesSource } from "./kubernetes_source.ts";
 * const source = new KubernetesSource({ client: KubeClient.load() });
 * await source.start(datastore);
 * ```
 */
export class KubernetesSource implements DiscoverySource {
  readonly name = "kubernetes";
  readonly routes: Informer<ModelRoute & KubeObject>;
  readonly servers: Informer<ModelServer & KubeObject>;
  readonly pods: Informer<Pod & KubeObject>;
  readonly #syncTimeoutMs: number;
  #pending: DiscoveryEvent[] = [];
  #flushScheduled = false;
  #live = false;
  #sink: DiscoverySink | undefined;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(opts: KubernetesSourceOptions) {
    const scope = opts.namespace ? { namespace: opts.namespace } : {};
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
    this.#watch("ModelRoute", this.routes);
    this.#watch("ModelServer", this.servers);
    this.#watch("Pod", this.pods);
    for (const i of this.#informers()) i.start();
    await Promise.all(this.#informers().map((i) => i.waitForSync(this.#syncTimeoutMs)));
    // One consistent first batch from the caches; nothing can interleave with this block.
    const first: DiscoveryEvent[] = [
      ...this.servers.store.list().map((object) => ({
        type: "upsert" as const,
        kind: "ModelServer" as const,
        object,
      })),
      ...this.pods.store.list().map((object) => ({
        type: "upsert" as const,
        kind: "Pod" as const,
        object,
      })),
      ...this.routes.store.list().map((object) => ({
        type: "upsert" as const,
        kind: "ModelRoute" as const,
        object,
      })),
    ];
    this.#pending = [];
    this.#live = true;
    sink.apply(first);
    sink.markSynced(this.name);
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

  #watch<T extends KubeObject>(kind: DiscoveryKind, informer: Informer<T>): void {
    const upsert = (object: T) =>
      this.#push({ type: "upsert", kind, object } as unknown as DiscoveryEvent);
    this.#unsubscribe.push(informer.addHandler({
      onAdd: upsert,
      onUpdate: (_, object) => upsert(object),
      onDelete: (object) => this.#push({ type: "delete", kind, key: objectKey(object) }),
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
