/**
 * The minimal shape every Kubernetes object has, as the runtime reads it, and object keys
 * (`namespace/name`, or `name` for cluster-scoped objects) — the unit of work of the queue and
 * of the informer caches. Both client-node's models (`V1Pod`) and our zod types (`ModelRoute`)
 * fit {@linkcode KubeObject}.
 *
 * @module
 */

/** An owner reference as the runtime reads it. */
export interface OwnerReferenceLike {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The metadata fields the runtime reads. */
export interface ObjectMetaLike {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReferenceLike[];
  deletionTimestamp?: unknown;
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMetaLike;
}

/** A namespace and a name; `namespace` is empty for cluster-scoped objects. */
export interface ObjectName {
  namespace: string;
  name: string;
}

/**
 * The cache and queue key of an object: `namespace/name`, or `name` when cluster-scoped.
 *
 * @example
 * ```ts
 * import { objectKey } from "./object.ts";
 * objectKey({ metadata: { namespace: "dev", name: "qwen" } }); // "dev/qwen"
 * ```
 */
export function objectKey(obj: KubeObject): string {
  const name = obj.metadata?.name ?? "";
  const ns = obj.metadata?.namespace ?? "";
  return ns === "" ? name : `${ns}/${name}`;
}

/**
 * Builds a key from a namespace and a name.
 *
 * @example
 * ```ts
 * import { keyOf } from "./object.ts";
 * keyOf("dev", "qwen"); // "dev/qwen"
 * ```
 */
export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * Splits a key back into namespace and name.
 *
 * @example
 * ```ts
 * import { splitKey } from "./object.ts";
 * splitKey("dev/qwen"); // { namespace: "dev", name: "qwen" }
 * splitKey("node-1"); // { namespace: "", name: "node-1" }
 * ```
 */
export function splitKey(key: string): ObjectName {
  const i = key.indexOf("/");
  return i < 0
    ? { namespace: "", name: key }
    : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/**
 * The API group of an apiVersion (`""` for the core group).
 *
 * @example
 * ```ts
 * import { groupOf } from "./object.ts";
 * groupOf("networking.serving.volcano.sh/v1alpha1"); // "networking.serving.volcano.sh"
 * groupOf("v1"); // ""
 * ```
 */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf("/");
  return i < 0 ? "" : apiVersion.slice(0, i);
}
