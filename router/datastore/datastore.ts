/**
 * The in-memory routing state the request path reads without I/O: ModelRoutes indexed by model
 * and LoRA name (oldest first, as upstream orders them), and for each ModelServer the endpoints
 * it selects and its prefill/decode groups.
 *
 * Sources write through {@linkcode Datastore.apply} in batches; derived indexes are rebuilt once
 * per batch and replaced wholesale (copy-on-write), so a request in flight keeps the consistent
 * view it started with and never sees half a batch.
 *
 * Differences from upstream's store, on purpose: a ModelServer whose selector stops matching
 * loses its pods (upstream keeps the old set), pods are re-grouped when `pdGroup` changes, and a
 * pod moving between PD groups leaves no stale entry (upstream weaknesses §7.11).
 *
 * @module
 */
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import type { DiscoveryEvent, DiscoveryKind, DiscoverySink } from "../discovery/source.ts";
import { type Endpoint, makeEndpoint, type PdRole } from "./endpoint.ts";
import {
  annotationPort,
  isPodReady,
  matchesLabels,
  objectKey,
  type Pod,
  PodAnnotations,
} from "./pod.ts";

/** The pods of one PD group of a ModelServer. */
export interface PdGroupPods {
  /** Value of the group label. */
  readonly group: string;
  /** Prefill endpoints of the group. */
  readonly prefill: readonly Endpoint[];
  /** Decode endpoints of the group. */
  readonly decode: readonly Endpoint[];
}

/** Prefill/decode topology of a ModelServer with `workloadSelector.pdGroup`. */
export interface PdTopology {
  /** Groups by group-label value. */
  readonly groups: ReadonlyMap<string, PdGroupPods>;
  /** Every decode endpoint, across groups. */
  readonly decode: readonly Endpoint[];
}

/** A ModelServer with what it currently selects. */
export interface ServerView {
  /** `namespace/name`. */
  readonly key: string;
  /** The ModelServer object. */
  readonly server: ModelServer;
  /** Ready pods with an IP that match `workloadSelector.matchLabels`. */
  readonly endpoints: readonly Endpoint[];
  /** PD groups, when the ModelServer has `pdGroup`. */
  readonly pd?: PdTopology;
}

/** What changed in one batch; handed to listeners (caches keyed by pod, rate limiters, …). */
export interface DatastoreChange {
  /** Keys of routes, servers and pods that were upserted or deleted. */
  readonly routes: ReadonlySet<string>;
  readonly servers: ReadonlySet<string>;
  readonly pods: ReadonlySet<string>;
  /** Pods that were deleted or stopped being ready. */
  readonly podsGone: ReadonlySet<string>;
}

const EMPTY_ROUTES: readonly ModelRoute[] = Object.freeze([]);

/** Milliseconds of a `creationTimestamp` (a string, a `Date`, or absent = Go's zero time). */
function creationMs(route: ModelRoute): number {
  const ts = route.metadata.creationTimestamp;
  if (ts instanceof Date) return ts.getTime();
  if (typeof ts === "string") {
    const ms = Date.parse(ts);
    return Number.isNaN(ms) ? 0 : ms;
  }
  return 0;
}

/** Upstream's route order: oldest first, then resourceVersion (as text), then `ns/name`. */
function compareRoutes(a: ModelRoute, b: ModelRoute): number {
  const byTime = creationMs(a) - creationMs(b);
  if (byTime !== 0) return byTime;
  const rvA = a.metadata.resourceVersion ?? "";
  const rvB = b.metadata.resourceVersion ?? "";
  if (rvA !== rvB) return rvA < rvB ? -1 : 1;
  const kA = objectKey(a);
  const kB = objectKey(b);
  return kA < kB ? -1 : kA > kB ? 1 : 0;
}

/**
 * The routing datastore.
 *
 * @example
 * ```ts
 * import { Datastore } from "./datastore.ts";
 * import { ModelRoute } from "@kthena/shared/api";
 * const store = new Datastore();
 * store.apply([{
 *   type: "upsert",
 *   kind: "ModelRoute",
 *   object: ModelRoute.parse({
 *     apiVersion: "networking.serving.volcano.sh/v1alpha1",
 *     kind: "ModelRoute",
 *     metadata: { name: "r" },
 *     spec: { modelName: "m", rules: [{ targetModels: [{ modelServerName: "s" }] }] },
 *   }),
 * }]);
 * store.routesForModel("m").length; // 1
 * ```
 */
export class Datastore implements DiscoverySink {
  readonly #routes = new Map<string, ModelRoute>();
  readonly #servers = new Map<string, ModelServer>();
  readonly #pods = new Map<string, Pod>();
  readonly #podsByNamespace = new Map<string, Set<string>>();
  #byModel = new Map<string, readonly ModelRoute[]>();
  #byLora = new Map<string, readonly ModelRoute[]>();
  #modelNames: readonly string[] = [];
  readonly #views = new Map<string, ServerView>();
  readonly #synced = new Set<string>();
  readonly #listeners = new Set<(change: DatastoreChange) => void>();
  #generation = 0;

  /** Increases with every applied batch. */
  get generation(): number {
    return this.#generation;
  }

  /** Applies a batch of events, then rebuilds the affected indexes once. */
  apply(events: readonly DiscoveryEvent[]): void {
    if (events.length === 0) return;
    const routes = new Set<string>();
    const servers = new Set<string>();
    const pods = new Set<string>();
    const podsGone = new Set<string>();
    const dirtyNamespaces = new Set<string>();
    const wasReady = new Map<string, boolean>();

    const note = (kind: DiscoveryKind, key: string) => {
      if (kind === "ModelRoute") routes.add(key);
      else if (kind === "ModelServer") servers.add(key);
      else {
        pods.add(key);
        if (!wasReady.has(key)) {
          const old = this.#pods.get(key);
          wasReady.set(key, old !== undefined && isPodReady(old));
        }
      }
      if (kind !== "ModelRoute") dirtyNamespaces.add(key.slice(0, key.indexOf("/")));
    };

    for (const e of events) {
      if (e.type === "delete") {
        note(e.kind, e.key);
        if (e.kind === "ModelRoute") this.#routes.delete(e.key);
        else if (e.kind === "ModelServer") this.#servers.delete(e.key);
        else this.#deletePod(e.key);
        continue;
      }
      const key = objectKey(e.object);
      note(e.kind, key);
      if (e.kind === "ModelRoute") this.#routes.set(key, e.object);
      else if (e.kind === "ModelServer") this.#servers.set(key, e.object);
      else this.#setPod(key, e.object);
    }

    if (routes.size > 0) this.#rebuildRouteIndex();
    if (servers.size > 0 || pods.size > 0) this.#rebuildViews(dirtyNamespaces, servers);
    for (const [key, ready] of wasReady) {
      const pod = this.#pods.get(key);
      if (ready && (pod === undefined || !isPodReady(pod))) podsGone.add(key);
    }
    this.#generation++;
    const change: DatastoreChange = { routes, servers, pods, podsGone };
    for (const listener of this.#listeners) listener(change);
  }

  /** Records that a source delivered its initial state. */
  markSynced(source: string): void {
    this.#synced.add(source);
  }

  /** Whether `source` delivered its initial state. */
  hasSynced(source: string): boolean {
    return this.#synced.has(source);
  }

  /** Registers a listener called after every batch; returns the function that removes it. */
  onChange(listener: (change: DatastoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Routes whose `modelName` is `model`, oldest first. */
  routesForModel(model: string): readonly ModelRoute[] {
    return this.#byModel.get(model) ?? EMPTY_ROUTES;
  }

  /** Routes that list `adapter` in `loraAdapters`, oldest first. */
  routesForLora(adapter: string): readonly ModelRoute[] {
    return this.#byLora.get(adapter) ?? EMPTY_ROUTES;
  }

  /** Every model name and LoRA adapter name a route serves, sorted, without duplicates. */
  modelNames(): readonly string[] {
    return this.#modelNames;
  }

  /** A ModelServer and what it selects, by `namespace/name`. */
  server(key: string): ServerView | undefined {
    return this.#views.get(key);
  }

  /** All ModelServers. */
  servers(): IterableIterator<ServerView> {
    return this.#views.values();
  }

  /** All routes. */
  routes(): IterableIterator<ModelRoute> {
    return this.#routes.values();
  }

  /** A pod by `namespace/name`. */
  pod(key: string): Pod | undefined {
    return this.#pods.get(key);
  }

  #setPod(key: string, pod: Pod): void {
    const ns = key.slice(0, key.indexOf("/"));
    this.#pods.set(key, pod);
    let set = this.#podsByNamespace.get(ns);
    if (!set) this.#podsByNamespace.set(ns, set = new Set());
    set.add(key);
  }

  #deletePod(key: string): void {
    const ns = key.slice(0, key.indexOf("/"));
    this.#pods.delete(key);
    const set = this.#podsByNamespace.get(ns);
    set?.delete(key);
    if (set?.size === 0) this.#podsByNamespace.delete(ns);
  }

  #rebuildRouteIndex(): void {
    const byModel = new Map<string, ModelRoute[]>();
    const byLora = new Map<string, ModelRoute[]>();
    const push = (map: Map<string, ModelRoute[]>, name: string, route: ModelRoute) => {
      const list = map.get(name);
      if (list) list.push(route);
      else map.set(name, [route]);
    };
    for (const route of this.#routes.values()) {
      if (route.spec.modelName) push(byModel, route.spec.modelName, route);
      for (const adapter of new Set(route.spec.loraAdapters ?? [])) push(byLora, adapter, route);
    }
    for (const list of byModel.values()) list.sort(compareRoutes);
    for (const list of byLora.values()) list.sort(compareRoutes);
    this.#byModel = byModel;
    this.#byLora = byLora;
    this.#modelNames = [...new Set([...byModel.keys(), ...byLora.keys()])].sort();
  }

  #rebuildViews(namespaces: ReadonlySet<string>, servers: ReadonlySet<string>): void {
    for (const key of servers) {
      if (!this.#servers.has(key)) this.#views.delete(key);
    }
    for (const [key, server] of this.#servers) {
      const ns = key.slice(0, key.indexOf("/"));
      if (!namespaces.has(ns)) continue;
      this.#views.set(key, this.#buildView(key, ns, server));
    }
  }

  #buildView(key: string, namespace: string, server: ModelServer): ServerView {
    const selector = server.spec.workloadSelector;
    const pdGroup = selector.pdGroup;
    const port = server.spec.workloadPort.port;
    const endpoints: Endpoint[] = [];
    const groups = new Map<string, { group: string; prefill: Endpoint[]; decode: Endpoint[] }>();
    const decode: Endpoint[] = [];
    const podKeys = [...(this.#podsByNamespace.get(namespace) ?? [])].sort();
    for (const podKey of podKeys) {
      const pod = this.#pods.get(podKey)!;
      if (!isPodReady(pod) || !matchesLabels(pod.metadata?.labels, selector.matchLabels)) continue;
      const podPort = annotationPort(pod, PodAnnotations.workloadPort) ?? port;
      const role = pdGroup ? pdRoleOf(pod, pdGroup) : undefined;
      // Upstream ignores `protocol: https` and always speaks plain HTTP to engines.
      const endpoint = makeEndpoint(pod, podPort, role, server.spec.workloadPort.protocol);
      endpoints.push(endpoint);
      if (!role) continue;
      let g = groups.get(role.group);
      if (!g) groups.set(role.group, g = { group: role.group, prefill: [], decode: [] });
      g[role.role].push(endpoint);
      if (role.role === "decode") decode.push(endpoint);
    }
    return {
      key,
      server,
      endpoints,
      ...(pdGroup ? { pd: { groups, decode } } : {}),
    };
  }
}

/**
 * Upstream's PD categorisation: the group is the value of `groupKey` (no value, no role); a pod
 * matching all (non-empty) `decodeLabels` is decode, else one matching all `prefillLabels` is
 * prefill.
 */
function pdRoleOf(
  pod: Pod,
  pdGroup: NonNullable<ModelServer["spec"]["workloadSelector"]["pdGroup"]>,
): { role: PdRole; group: string } | undefined {
  const labels = pod.metadata?.labels;
  const group = labels?.[pdGroup.groupKey];
  if (!group) return undefined;
  if (Object.keys(pdGroup.decodeLabels).length > 0 && matchesLabels(labels, pdGroup.decodeLabels)) {
    return { role: "decode", group };
  }
  if (
    Object.keys(pdGroup.prefillLabels).length > 0 && matchesLabels(labels, pdGroup.prefillLabels)
  ) {
    return { role: "prefill", group };
  }
  return undefined;
}
