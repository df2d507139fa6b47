/**
 * The seam between where routing state comes from (a directory of YAML, the Kubernetes API) and
 * the datastore the request path reads. A source delivers ModelRoutes, ModelServers and Pods as
 * upsert/delete events, in batches applied atomically, and says when its initial state is in.
 *
 * A Kubernetes source plugs in by turning informer callbacks into {@linkcode DiscoveryEvent}s
 * (ModelRoute and ModelServer objects parsed with `parseResource` from `@kthena/shared/api`,
 * Pods passed as they come: `V1Pod` fits {@linkcode Pod}) and calling `markSynced` once every
 * informer has listed.
 *
 * @module
 */
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import type { Pod } from "../datastore/pod.ts";

/** The kinds a source delivers. */
export type DiscoveryKind = "ModelRoute" | "ModelServer" | "Pod";

/**
 * One change. Objects carry their own `metadata.namespace`/`name`; deletes name the object by
 * `namespace/name`.
 *
 * @example
 * ```ts
 * import type { DiscoveryEvent } from "./source.ts";
 * const e: DiscoveryEvent = { type: "delete", kind: "Pod", key: "default/engine-0" };
 * ```
 */
export type DiscoveryEvent =
  | { type: "upsert"; kind: "ModelRoute"; object: ModelRoute }
  | { type: "upsert"; kind: "ModelServer"; object: ModelServer }
  | { type: "upsert"; kind: "Pod"; object: Pod }
  | { type: "delete"; kind: DiscoveryKind; key: string };

/**
 * Where a source delivers events; the datastore implements it.
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
