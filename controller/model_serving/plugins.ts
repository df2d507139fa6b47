/**
 * ModelServing plugins (`spec.plugins`): named built-ins that mutate a pod just before the
 * controller creates it (kthena-controllers.md §2.11).
 *
 * A chain is built once per reconcile from the spec, in list order; each entry runs only on
 * the pods its `scope` selects. Plugins change what a pod looks like, never which pod it is:
 * the chain restores the pod's name, namespace, owner references and the controller's
 * `modelserving.volcano.sh/*` labels afterwards, because the controller finds, counts and
 * rolls pods by them. Plugin output is also outside the revision hash (it hashes the roles
 * only, as upstream), so a plugin-added label, annotation or variable never makes a pod look
 * outdated.
 *
 * Upstream also has `OnPodReady` hooks; no built-in uses them, so they do not exist here.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import { formatIssues, type ModelServing } from "@kthena/shared/api";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { parseOrdinal } from "@kthena/shared/naming";
import { demoPodTweaks } from "./demo_pod_tweaks.ts";
import { lwsStandardLabels } from "./lws_standard_labels.ts";

/** Where the pod a hook sees sits, and the pod itself. */
export interface PodHookRequest {
  /** The ModelServing being reconciled (parsed, defaults applied). */
  modelServing: ModelServing;
  /** The serving group ordinal. */
  groupIndex: number;
  roleName: string;
  /** The role replica ordinal within the group. */
  roleIndex: number;
  /** The entry pod of its role replica (the others are workers). */
  isEntry: boolean;
  /** The pod about to be created; hooks change it in place. */
  pod: V1Pod;
}

/**
 * A plugin: mutates a pod before it is created. Throwing fails the reconcile (it is retried).
 *
 * @example
 * ```ts
 * import type { PodPlugin } from "./plugins.ts";
 * const tag: PodPlugin = {
 *   name: "tag",
 *   onPodCreate: ({ pod }) => {
 *     pod.metadata = { ...pod.metadata, labels: { ...pod.metadata?.labels, tagged: "yes" } };
 *   },
 * };
 * ```
 */
export interface PodPlugin {
  readonly name: string;
  onPodCreate(req: PodHookRequest): void;
}

/**
 * Makes a plugin from its `config`. Throws a `z.ZodError` when the config does not fit; the
 * chain reports it under `spec.plugins[i].config`.
 */
export type PluginFactory = (config: Record<string, unknown> | undefined) => PodPlugin;

/**
 * One entry of `spec.plugins`, as loose as the chain accepts it (the parsed `PluginSpec`
 * fits; so does an object read from anywhere else, whose `type` may be anything).
 */
export interface PluginSpecLike {
  name: string;
  type?: string;
  config?: Record<string, unknown>;
  scope?: { roles?: string[]; target?: string };
}

/** A `spec.plugins` entry the controller cannot use; `field` names it. */
export class PluginError extends Error {
  /**
   * @param field The offending field, e.g. `spec.plugins[1].name`.
   * @example
   * ```ts
   * import { PluginError } from "./plugins.ts";
   * new PluginError("spec.plugins[0].name", "unknown plugin").message;
   * // "spec.plugins[0].name: unknown plugin"
   * ```
   */
  constructor(readonly field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = "PluginError";
  }
}

/**
 * The built-in plugins by name.
 *
 * @example
 * ```ts
 * import { BUILT_IN_PLUGINS } from "./plugins.ts";
 * [...BUILT_IN_PLUGINS.keys()]; // ["demo-pod-tweaks", "lws-standard-labels"]
 * ```
 */
export const BUILT_IN_PLUGINS: ReadonlyMap<string, PluginFactory> = new Map([
  ["demo-pod-tweaks", demoPodTweaks],
  ["lws-standard-labels", lwsStandardLabels],
]);

/**
 * Whether a plugin runs on a pod, by its `scope` (upstream's rules): no scope → yes; a
 * non-empty `roles` list that does not name the pod's role → no; then `target` empty or `All`
 * → yes, `Entry` → entry pods only, `Worker` → workers only.
 *
 * @example
 * ```ts
 * import { pluginApplies } from "./plugins.ts";
 * pluginApplies({ name: "p", scope: { target: "Worker" } }, { roleName: "decode", isEntry: true }); // false
 * ```
 */
export function pluginApplies(
  spec: PluginSpecLike,
  req: Pick<PodHookRequest, "roleName" | "isEntry">,
): boolean {
  const scope = spec.scope;
  if (!scope) return true;
  if (scope.roles && scope.roles.length > 0 && !scope.roles.includes(req.roleName)) return false;
  switch (scope.target ?? "") {
    case "":
    case "All":
      return true;
    case "Entry":
      return req.isEntry;
    case "Worker":
      return !req.isEntry;
    default:
      return false;
  }
}

/** The plugins of one ModelServing, ready to run on its pods. */
export class PluginChain {
  /**
   * @param entries The plugins with their specs (for the scope), in list order.
   * @example
   * ```ts
   * import { PluginChain } from "./plugins.ts";
   * new PluginChain([]).length; // 0
   * ```
   */
  constructor(readonly entries: readonly { spec: PluginSpecLike; plugin: PodPlugin }[]) {}

  /** How many plugins the chain has. */
  get length(): number {
    return this.entries.length;
  }

  /**
   * Runs every plugin whose scope selects the pod, in list order, then puts back what
   * identifies the pod to the controller (name, namespace, owner references, controller
   * labels), whatever a plugin did to them.
   *
   * @example
   * ```ts ignore
   * chain.onPodCreate(podCreateRequest(ms, pod));
   * ```
   */
  onPodCreate(req: PodHookRequest): void {
    if (this.entries.length === 0) return;
    const meta = req.pod.metadata ?? {};
    const identity = {
      name: meta.name,
      namespace: meta.namespace,
      ownerReferences: structuredClone(meta.ownerReferences),
      labels: Object.fromEntries(
        Object.values(L).flatMap((k) => {
          const v = meta.labels?.[k];
          return v === undefined ? [] : [[k, v] as const];
        }),
      ),
    };
    for (const { spec, plugin } of this.entries) {
      if (pluginApplies(spec, req)) plugin.onPodCreate(req);
    }
    const after = req.pod.metadata ??= {};
    after.name = identity.name;
    after.namespace = identity.namespace;
    after.ownerReferences = identity.ownerReferences;
    after.labels = { ...after.labels, ...identity.labels };
  }
}

/**
 * Builds the chain of `spec.plugins`.
 *
 * @throws {PluginError} naming `spec.plugins[i].type` for a type other than `BuiltIn`,
 *   `spec.plugins[i].name` for a name the registry does not know, and the config field for
 *   a config that does not fit the plugin.
 * @example
 * ```ts
 * import { buildPluginChain } from "./plugins.ts";
 * buildPluginChain([{ name: "lws-standard-labels", type: "BuiltIn" }]).length; // 1
 * buildPluginChain(undefined).length; // 0
 * ```
 */
export function buildPluginChain(
  specs: readonly PluginSpecLike[] | undefined,
  registry: ReadonlyMap<string, PluginFactory> = BUILT_IN_PLUGINS,
): PluginChain {
  return new PluginChain((specs ?? []).map((spec, i) => buildEntry(spec, i, registry)));
}

/**
 * Every problem of `spec.plugins`, as `field: message` lines (empty when the chain builds):
 * what the admission webhook reports, so a ModelServing the controller could not run never
 * gets in.
 *
 * @example
 * ```ts
 * import { pluginProblems } from "./plugins.ts";
 * pluginProblems([{ name: "lws-standard-labels" }, { name: "nope" }]);
 * // ['spec.plugins[1].name: unknown plugin "nope" (built-in plugins: demo-pod-tweaks, lws-standard-labels)']
 * ```
 */
export function pluginProblems(
  specs: readonly PluginSpecLike[] | undefined,
  registry: ReadonlyMap<string, PluginFactory> = BUILT_IN_PLUGINS,
): string[] {
  return (specs ?? []).flatMap((spec, i) => {
    try {
      buildEntry(spec, i, registry);
      return [];
    } catch (e) {
      if (e instanceof PluginError) return [e.message];
      throw e;
    }
  });
}

/** One entry of the chain, from `spec.plugins[i]`; throws a {@linkcode PluginError}. */
function buildEntry(
  spec: PluginSpecLike,
  i: number,
  registry: ReadonlyMap<string, PluginFactory>,
): { spec: PluginSpecLike; plugin: PodPlugin } {
  const at = `spec.plugins[${i}]`;
  // The CRD defaults `type` to BuiltIn; an object that skipped defaulting is BuiltIn too.
  const type = spec.type ?? "BuiltIn";
  if (type !== "BuiltIn") {
    throw new PluginError(`${at}.type`, `unsupported plugin type ${JSON.stringify(type)}`);
  }
  const factory = registry.get(spec.name);
  if (!factory) {
    throw new PluginError(
      `${at}.name`,
      `unknown plugin ${JSON.stringify(spec.name)} (built-in plugins: ${
        [...registry.keys()].join(", ")
      })`,
    );
  }
  try {
    return { spec, plugin: factory(spec.config) };
  } catch (e) {
    if (!(e instanceof z.ZodError)) throw e;
    // Every line is `field: problem`; the first field is the one the error names.
    const [first = `${at}.config: invalid`, ...more] = formatIssues(e, `${at}.config`);
    const cut = first.indexOf(": ");
    throw new PluginError(first.slice(0, cut), [first.slice(cut + 2), ...more].join("; "));
  }
}

/**
 * The hook request of a pod the controller built, read from the labels it put on it.
 *
 * @throws {Error} when the pod lacks the controller's labels (not one of ours).
 * @example
 * ```ts ignore
 * const req = podCreateRequest(ms, pod);
 * req.groupIndex; // 0 for "{ms}-0-…"
 * ```
 */
export function podCreateRequest(modelServing: ModelServing, pod: V1Pod): PodHookRequest {
  const labels = pod.metadata?.labels ?? {};
  const group = parseOrdinal(labels[L.groupName] ?? "");
  const rid = parseOrdinal(labels[L.roleId] ?? "");
  const roleName = labels[L.role];
  if (!group || !rid || !roleName) {
    throw new Error(`pod ${pod.metadata?.name} lacks the ModelServing controller's labels`);
  }
  return {
    modelServing,
    groupIndex: group.ordinal,
    roleName,
    roleIndex: rid.ordinal,
    isEntry: labels[L.entry] === "true",
    pod,
  };
}
