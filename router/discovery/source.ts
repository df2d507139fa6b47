/**
 * The seam between where routing state comes from (a directory of YAML, the Kubernetes API) and
 * the datastore the request path reads. A source delivers ModelRoutes, ModelServers and Pods as
 * upsert/delete events, in batches applied atomically, and says when its initial state is in.
 *
 * The datastore is the one owner of routing state: a source only builds events (with
 * {@linkcode upsertEvent} and {@linkcode deleteEvent}) and hands them to its
 * {@linkcode DiscoverySink}; it never reads or changes the datastore otherwise. That keeps
 * every source's changes going through the same batching, indexing and change notification.
 *
 * The Kubernetes source turns informer callbacks into events (ModelRoute and ModelServer
 * objects already validated against the shared schemas by the informers' decoders, Pods as
 * client-node decodes them: `V1Pod` fits {@linkcode Pod}) and calls `markSynced` once every
 * informer has listed; the file source diffs the directory against what it delivered.
 *
 * @module
 */
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import { objectKey, type Pod } from "../datastore/pod.ts";

/** The object each kind a source delivers is carried as. */
export interface DiscoveryObjects {
  ModelRoute: ModelRoute;
  ModelServer: ModelServer;
  Pod: Pod;
}

/** The kinds a source delivers. */
export type DiscoveryKind = keyof DiscoveryObjects;

/** An object of kind `K` was created or changed; it carries its own namespace and name. */
export type UpsertEvent<K extends DiscoveryKind = DiscoveryKind> = {
  [k in K]: { type: "upsert"; kind: k; object: DiscoveryObjects[k] };
}[K];

/** An object is gone, named by `namespace/name` (the datastore's key, see `objectKey`). */
export interface DeleteEvent {
  type: "delete";
  kind: DiscoveryKind;
  key: string;
}

/**
 * One change. Build them with {@linkcode upsertEvent} and {@linkcode deleteEvent}, which keep
 * kind and object type together and key deletes the way the datastore keys upserts.
 *
 * @example
 * ```ts
 * import type { DiscoveryEvent } from "./source.ts";
 * const e: DiscoveryEvent = { type: "delete", kind: "Pod", key: "default/engine-0" };
 * ```
 */
export type DiscoveryEvent = UpsertEvent | DeleteEvent;

/**
 * An upsert of `object` as `kind`.
 *
 * @example
 * ```ts
 * import { upsertEvent } from "./source.ts";
 * const e = upsertEvent("Pod", { metadata: { name: "engine-0" } });
 * e.kind; // "Pod"
 * ```
 */
export function upsertEvent<K extends DiscoveryKind>(
  kind: K,
  object: DiscoveryObjects[K],
): UpsertEvent<K> {
  // TypeScript cannot see that `{kind: K, object: DiscoveryObjects[K]}` is one member of the
  // mapped union; the signature is what keeps callers honest.
  return { type: "upsert", kind, object } as UpsertEvent<K>;
}

/**
 * A delete of the `kind` object named by `target`: a `namespace/name` key, or the object's
 * last state (keyed as the datastore keys upserts, so a source cannot delete under a key the
 * datastore never used, e.g. for an object without a namespace).
 *
 * @example
 * ```ts
 * import { deleteEvent } from "./source.ts";
 * deleteEvent("Pod", { metadata: { name: "engine-0" } }).key; // "default/engine-0"
 * deleteEvent("ModelRoute", "prod/chat").key; // "prod/chat"
 * ```
 */
export function deleteEvent(
  kind: DiscoveryKind,
  target: string | { metadata?: { name?: string; namespace?: string } },
): DeleteEvent {
  return { type: "delete", kind, key: typeof target === "string" ? target : objectKey(target) };
}

/**
 * Where a source delivers events; the datastore implements it (a fake in tests).
 *
 * @example
 * ```ts
 * import type { DiscoverySink } from "./source.ts";
 * const log: DiscoverySink = { apply: (events) => console.log(events.length), markSynced: () => {} };
 * ```
 */
export interface DiscoverySink {
  /** Applies a batch of events; readers see all of it or none of it. */
  apply(events: readonly DiscoveryEvent[]): void;
  /** The source has delivered its initial state. */
  markSynced(source: string): void;
}

/**
 * A source of routing state.
 *
 * @example
 * ```ts
 * import type { DiscoverySink, DiscoverySource } from "./source.ts";
 * class Empty implements DiscoverySource {
 *   readonly name = "empty";
 *   start(sink: DiscoverySink): Promise<void> {
 *     sink.markSynced(this.name);
 *     return Promise.resolve();
 *   }
 *   stop(): Promise<void> {
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export interface DiscoverySource {
  /** Name used in logs and in `markSynced`. */
  readonly name: string;
  /** Starts delivering; resolves once the initial state is applied and marked synced. */
  start(sink: DiscoverySink): Promise<void>;
  /** Stops delivering; resolves when no further event will come. */
  stop(): Promise<void>;
}
