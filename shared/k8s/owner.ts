/**
 * Owner references: the controller reference a controller writes on the objects it creates,
 * and the reverse mapping from a child's event to its owner's queue key (controller-runtime's
 * `SetControllerReference` and `EnqueueRequestForOwner(OnlyControllerOwner)`).
 *
 * Ownership is what lets a controller watch its children without its own bookkeeping: a pod
 * event is turned into "reconcile the ModelServing that controls this pod", and the garbage
 * collector deletes the children when the owner goes. Only the *controller* reference (at most
 * one per object) counts, so an object shared by several owners triggers one controller.
 *
 * @module
 */
import { groupOf, keyOf, type KubeObject, type OwnerReferenceLike } from "./object.ts";

/** Names a kind by API group and kind (the version does not matter for ownership). */
export interface GroupKind {
  /** `""` for core. */
  group: string;
  kind: string;
}

/**
 * The controller reference to put on an object `owner` creates: `controller: true` and
 * `blockOwnerDeletion: true` (a foreground delete of the owner waits for the child).
 *
 * @param owner The owner; needs a name and a uid.
 * @param type apiVersion and kind, when the owner object lacks them (list items of built-in
 *   kinds come without).
 * @throws {Error} when the owner has no uid, name, apiVersion or kind.
 * @example
 * ```ts
 * import { controllerRef } from "./owner.ts";
 * controllerRef({
 *   apiVersion: "workload.serving.volcano.sh/v1alpha1",
 *   kind: "ModelServing",
 *   metadata: { name: "qwen", uid: "0b9c…" },
 * });
 * // { apiVersion: "workload.serving.volcano.sh/v1alpha1", kind: "ModelServing", name: "qwen",
 * //   uid: "0b9c…", controller: true, blockOwnerDeletion: true }
 * ```
 */
export function controllerRef(
  owner: KubeObject,
  type?: { apiVersion: string; kind: string },
): Required<OwnerReferenceLike> {
  const apiVersion = type?.apiVersion ?? owner.apiVersion;
  const kind = type?.kind ?? owner.kind;
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!apiVersion || !kind || !name || !uid) {
    throw new Error(`controllerRef: the owner needs apiVersion, kind, name and uid`);
  }
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/**
 * The controller reference of an object, if any.
 *
 * @example
 * ```ts
 * import { controllerOf } from "./owner.ts";
 * controllerOf({ metadata: { ownerReferences: [] } }); // undefined
 * ```
 */
export function controllerOf(obj: KubeObject): OwnerReferenceLike | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/**
 * The queue key of the object that controls `child`, when that controller is of kind
 * `owner` (matched by group and kind). Owners are in the child's namespace (Kubernetes does
 * not allow cross-namespace owners).
 *
 * @example
 * ```ts
 * import { ownerKeyOf } from "./owner.ts";
 * const pod = {
 *   metadata: {
 *     namespace: "dev",
 *     name: "qwen-0-prefill-0-0",
 *     ownerReferences: [{
 *       apiVersion: "workload.serving.volcano.sh/v1alpha1",
 *       kind: "ModelServing",
 *       name: "qwen",
 *       uid: "u",
 *       controller: true,
 *     }],
 *   },
 * };
 * ownerKeyOf(pod, { group: "workload.serving.volcano.sh", kind: "ModelServing" }); // "dev/qwen"
 * ```
 */
export function ownerKeyOf(child: KubeObject, owner: GroupKind): string | undefined {
  const ref = controllerOf(child);
  if (!ref || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) {
    return undefined;
  }
  return keyOf(child.metadata?.namespace, ref.name);
}

/**
 * Whether `owner` (by uid) is the controller of `child`. Use it before adopting or deleting
 * a child found by name or label: an object of the same name may belong to someone else, or
 * to a previous owner of the same name.
 *
 * @example
 * ```ts
 * import { isControlledBy } from "./owner.ts";
 * isControlledBy(
 *   { metadata: { ownerReferences: [{ apiVersion: "v1", kind: "X", name: "a", uid: "1", controller: true }] } },
 *   { metadata: { uid: "1" } },
 * ); // true
 * ```
 */
export function isControlledBy(child: KubeObject, owner: KubeObject): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && controllerOf(child)?.uid === uid;
}
