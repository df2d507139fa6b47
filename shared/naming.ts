/**
 * The names of everything the controllers create, derived from ordinals so that a rebuilt
 * group, role or pod gets back the same identity (and the same DNS name).
 *
 * | object | name |
 * |---|---|
 * | serving group, PodGroup | `{ms}-{groupIdx}` |
 * | role replica (role id), Volcano task | `{role}-{roleIdx}` |
 * | pod | `{ms}-{groupIdx}-{role}-{roleIdx}-{podIdx}` (podIdx 0 = entry) |
 * | headless Service | the entry pod's name |
 * | ControllerRevision | `{ms}-{revision}` |
 * | ModelBooster's ModelServing and ModelServer | `{mb}-{backend}` |
 * | ModelBooster's ModelRoute | `{mb}` |
 *
 * @module
 */

/**
 * The serving group (and PodGroup) name: `{ms}-{groupIdx}`.
 *
 * @example
 * ```ts
 * import { servingGroupName } from "./naming.ts";
 * servingGroupName("qwen", 0); // "qwen-0"
 * ```
 */
export function servingGroupName(modelServing: string, groupIdx: number): string {
  return `${modelServing}-${groupIdx}`;
}

/**
 * The role replica id (and Volcano task name): `{role}-{roleIdx}`.
 *
 * @example
 * ```ts
 * import { roleId } from "./naming.ts";
 * roleId("prefill", 1); // "prefill-1"
 * ```
 */
export function roleId(role: string, roleIdx: number): string {
  return `${role}-${roleIdx}`;
}

/**
 * A pod's name: `{ms}-{groupIdx}-{role}-{roleIdx}-{podIdx}`; podIdx 0 is the entry pod.
 *
 * @example
 * ```ts
 * import { podName } from "./naming.ts";
 * podName("qwen", 0, "decode", 0, 0); // "qwen-0-decode-0-0"
 * ```
 */
export function podName(
  modelServing: string,
  groupIdx: number,
  role: string,
  roleIdx: number,
  podIdx: number,
): string {
  return `${modelServing}-${groupIdx}-${role}-${roleIdx}-${podIdx}`;
}

/**
 * The headless Service of a role replica: named like its entry pod.
 *
 * @example
 * ```ts
 * import { headlessServiceName } from "./naming.ts";
 * headlessServiceName("qwen", 0, "prefill", 0); // "qwen-0-prefill-0-0"
 * ```
 */
export function headlessServiceName(
  modelServing: string,
  groupIdx: number,
  role: string,
  roleIdx: number,
): string {
  return podName(modelServing, groupIdx, role, roleIdx, 0);
}

/**
 * `ENTRY_ADDRESS`: the entry pod's DNS name through its headless Service, `{pod}.{namespace}`.
 *
 * @example
 * ```ts
 * import { entryAddress } from "./naming.ts";
 * entryAddress("qwen", 0, "prefill", 0, "default"); // "qwen-0-prefill-0-0.default"
 * ```
 */
export function entryAddress(
  modelServing: string,
  groupIdx: number,
  role: string,
  roleIdx: number,
  namespace: string,
): string {
  return `${headlessServiceName(modelServing, groupIdx, role, roleIdx)}.${namespace}`;
}

/**
 * A ControllerRevision's name: `{ms}-{revision}`.
 *
 * @example
 * ```ts
 * import { controllerRevisionName } from "./naming.ts";
 * controllerRevisionName("qwen", "5c6b8d9f4"); // "qwen-5c6b8d9f4"
 * ```
 */
export function controllerRevisionName(modelServing: string, revision: string): string {
  return `${modelServing}-${revision}`;
}

/**
 * The name of the ModelServing, ModelServer (and AutoscalingPolicy and binding) a ModelBooster
 * generates: `{mb}-{backend}`, or `{mb}` when the backend has no name.
 *
 * @example
 * ```ts
 * import { boosterChildName } from "./naming.ts";
 * boosterChildName("deepseek-v2-lite", "deepseek-v2-lite"); // "deepseek-v2-lite-deepseek-v2-lite"
 * ```
 */
export function boosterChildName(modelBooster: string, backend: string): string {
  return backend ? `${modelBooster}-${backend}` : modelBooster;
}

/**
 * Splits a name that ends in `-{n}` into its prefix and ordinal, as upstream does with
 * `(.*)-([0-9]+)$`. Returns undefined when there is no numeric suffix.
 *
 * @example
 * ```ts
 * import { parseOrdinal } from "./naming.ts";
 * parseOrdinal("qwen-3"); // { prefix: "qwen", ordinal: 3 }
 * ```
 */
export function parseOrdinal(name: string): { prefix: string; ordinal: number } | undefined {
  const m = name.match(/^(.*)-([0-9]+)$/);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  return { prefix: m[1], ordinal: Number(m[2]) };
}
