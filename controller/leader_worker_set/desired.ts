/**
 * What a LeaderWorkerSet becomes: one ModelServing of the same name with a single role
 * `default` (the leader as entry pod, `size - 1` workers) and the `lws-standard-labels` plugin,
 * and the status the LeaderWorkerSet shows for it (kthena-controllers.md §2.12). Pure
 * functions; the controller reads the cluster and writes.
 *
 * Upstream deep-compares its desired spec with the server's copy, which the API server has
 * defaulted, so it writes a no-op Update on every event. Here the controller compares only the
 * fields it sets ({@linkcode containsFields}) plus a hash of the desired spec kept in an
 * annotation (which catches fields removed from the LeaderWorkerSet, invisible to a compare of
 * what is set), and writes only when one of them differs.
 *
 * @module
 */
import {
  formatIssues,
  type LeaderWorkerSet,
  type LeaderWorkerSetStatus,
  MODEL_SERVING_API_VERSION,
  type ModelServing,
  type OwnerReference,
  PodTemplateSpec,
} from "@kthena/shared/api";
import { LeaderWorkerSetAnnotations } from "@kthena/shared/labels";
import { controllerRef } from "@kthena/shared/k8s";
import { hashRevision } from "../model_serving/revision.ts";

/** The plugin every ModelServing made from a LeaderWorkerSet runs. */
export const LWS_PLUGIN = "lws-standard-labels";
/** The name of the single role (upstream's). */
export const LWS_ROLE = "default";

/** The ModelServing fields the controller owns, as it applies them. */
export interface DesiredModelServing {
  apiVersion: typeof MODEL_SERVING_API_VERSION;
  kind: "ModelServing";
  metadata: {
    name: string;
    namespace: string;
    ownerReferences: OwnerReference[];
    annotations: Record<string, string>;
  };
  spec: {
    replicas: number;
    plugins: { name: string; type: "BuiltIn" }[];
    template: {
      roles: {
        name: string;
        replicas: number;
        entryTemplate: PodTemplateSpec;
        workerReplicas: number;
        workerTemplate: PodTemplateSpec;
      }[];
    };
  };
}

/** A LeaderWorkerSet whose templates cannot become a ModelServing; `field` names the cause. */
export class InvalidLeaderWorkerSet extends Error {
  /**
   * @example
   * ```ts
   * import { InvalidLeaderWorkerSet } from "./desired.ts";
   * new InvalidLeaderWorkerSet("spec.leaderWorkerTemplate.workerTemplate.spec: Required").field;
   * // "spec.leaderWorkerTemplate.workerTemplate.spec"
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "InvalidLeaderWorkerSet";
  }

  /** The first field the message names. */
  get field(): string {
    return this.message.split(": ")[0] ?? "";
  }
}

/**
 * A LeaderWorkerSet pod template as a ModelServing takes it: labels, annotations and spec
 * (the rest of its metadata, such as a name, has no meaning in a template).
 */
function podTemplate(raw: Record<string, unknown>, field: string): PodTemplateSpec {
  const parsed = PodTemplateSpec.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidLeaderWorkerSet(formatIssues(parsed.error, field).join("; "));
  }
  const { labels, annotations } = parsed.data.metadata ?? {};
  const metadata = {
    ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  return {
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    spec: parsed.data.spec,
  };
}

/**
 * The ModelServing a LeaderWorkerSet asks for: name and namespace of the LeaderWorkerSet, its
 * controller reference, `spec.replicas` groups of one role `default` with the leader template
 * (or the worker template when there is none) as entry and `size - 1` workers, and the
 * `lws-standard-labels` plugin.
 *
 * @throws {InvalidLeaderWorkerSet} when a template is not a pod template (no `spec`, …).
 * @example
 * ```ts
 * import { LeaderWorkerSet } from "@kthena/shared/api";
 * import { desiredModelServing } from "./desired.ts";
 * const lws = LeaderWorkerSet.parse({
 *   apiVersion: "leaderworkerset.x-k8s.io/v1",
 *   kind: "LeaderWorkerSet",
 *   metadata: { name: "llm", namespace: "dev", uid: "u" },
 *   spec: { leaderWorkerTemplate: { size: 2, workerTemplate: { spec: { containers: [] } } } },
 * });
 * desiredModelServing(lws).spec.template.roles[0]?.workerReplicas; // 1
 * ```
 */
export function desiredModelServing(lws: LeaderWorkerSet): DesiredModelServing {
  const lwt = lws.spec.leaderWorkerTemplate;
  const base = "spec.leaderWorkerTemplate";
  const workerTemplate = podTemplate(lwt.workerTemplate, `${base}.workerTemplate`);
  const entryTemplate = lwt.leaderTemplate
    ? podTemplate(lwt.leaderTemplate, `${base}.leaderTemplate`)
    : structuredClone(workerTemplate);
  const spec: DesiredModelServing["spec"] = {
    replicas: lws.spec.replicas,
    plugins: [{ name: LWS_PLUGIN, type: "BuiltIn" }],
    template: {
      roles: [{
        name: LWS_ROLE,
        replicas: 1,
        entryTemplate,
        workerReplicas: Math.max(lwt.size - 1, 0),
        workerTemplate,
      }],
    },
  };
  return {
    apiVersion: MODEL_SERVING_API_VERSION,
    kind: "ModelServing",
    metadata: {
      name: lws.metadata.name ?? "",
      namespace: lws.metadata.namespace ?? "default",
      ownerReferences: [controllerRef(lws)],
      annotations: { [LeaderWorkerSetAnnotations.specHash]: hashRevision(spec) },
    },
    spec,
  };
}

/**
 * Whether `have` holds every field `want` sets, with the same value: objects by their keys
 * (extra keys in `have`, such as server defaults, do not matter), arrays element by element
 * and of the same length, scalars by equality. A `null` or empty object/array wanted matches
 * an absent field (the API server drops nulls and may drop empty values).
 *
 * @example
 * ```ts
 * import { containsFields } from "./desired.ts";
 * containsFields({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }); // true
 * containsFields({ a: [1, 2] }, { a: [1] }); // false
 * ```
 */
export function containsFields(have: unknown, want: unknown): boolean {
  if (want === undefined) return true;
  if (want === null) return have === undefined || have === null;
  if (Array.isArray(want)) {
    if (have === undefined && want.length === 0) return true;
    return Array.isArray(have) && have.length === want.length &&
      want.every((w, i) => containsFields(have[i], w));
  }
  if (typeof want === "object") {
    const entries = Object.entries(want as Record<string, unknown>);
    if (have === undefined && entries.length === 0) return true;
    if (typeof have !== "object" || have === null || Array.isArray(have)) return false;
    return entries.every(([k, w]) => containsFields((have as Record<string, unknown>)[k], w));
  }
  return have === want;
}

/**
 * Whether the ModelServing differs from what the LeaderWorkerSet asks for: a different spec
 * hash (the LeaderWorkerSet changed since the last write, removals included), or a field the
 * controller sets that someone else changed.
 *
 * @example
 * ```ts ignore
 * if (needsUpdate(desired, ms)) await modelServings.patch(ns, name, modelServingPatch(desired));
 * ```
 */
export function needsUpdate(desired: DesiredModelServing, have: ModelServing): boolean {
  const key = LeaderWorkerSetAnnotations.specHash;
  if (have.metadata.annotations?.[key] !== desired.metadata.annotations[key]) return true;
  return !containsFields(have.spec, desired.spec);
}

/**
 * The JSON merge patch that brings an existing ModelServing to `desired`: the hash annotation
 * and the spec fields the controller sets. Arrays replace wholesale in a merge patch, so
 * `plugins` and `template.roles` become exactly the desired ones (removals included), while
 * spec fields the controller does not set (e.g. `template.gangPolicy`, `schedulerName`) and
 * other annotations stay as they are. Owner references are not touched: the controller only
 * patches ModelServings it already controls.
 *
 * @example
 * ```ts ignore
 * await client.resource(MODEL_SERVING).patch(ns, name, modelServingPatch(desired));
 * ```
 */
export function modelServingPatch(desired: DesiredModelServing): {
  metadata: { annotations: Record<string, string> };
  spec: DesiredModelServing["spec"];
} {
  return { metadata: { annotations: { ...desired.metadata.annotations } }, spec: desired.spec };
}

/**
 * The status a LeaderWorkerSet shows for its ModelServing: `replicas` = the ModelServing's
 * serving groups, `readyReplicas` = its available ones (0 while it does not exist).
 *
 * @example
 * ```ts
 * import { lwsStatusFor } from "./desired.ts";
 * lwsStatusFor(undefined); // { replicas: 0, readyReplicas: 0 }
 * ```
 */
export function lwsStatusFor(
  ms: Pick<ModelServing, "status"> | undefined,
): Required<LeaderWorkerSetStatus> {
  return {
    replicas: ms?.status?.replicas ?? 0,
    readyReplicas: ms?.status?.availableReplicas ?? 0,
  };
}
