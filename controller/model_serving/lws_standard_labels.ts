/**
 * The built-in plugin `lws-standard-labels`: on the pods of a ModelServing owned by a
 * LeaderWorkerSet, the labels the LeaderWorkerSet controller would put on its own pods
 * (`leaderworkerset.sigs.k8s.io/name`, `group-index`, `worker-index`, `group-key`), so
 * Services, monitors and tools written for LeaderWorkerSet select them. Pods of other
 * ModelServings are left alone. The LeaderWorkerSet controller (controller/leader_worker_set)
 * adds this plugin to every ModelServing it makes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { LeaderWorkerSetLabels as LWS } from "@kthena/shared/labels";
import { parseOrdinal } from "@kthena/shared/naming";
import type { PodPlugin } from "./plugins.ts";

/**
 * LeaderWorkerSet's group key: the lowercase hex SHA-1 of `{lwsName}-{groupIndex}`.
 *
 * @example
 * ```ts
 * import { lwsGroupKey } from "./lws_standard_labels.ts";
 * lwsGroupKey("test-lws-basic", 0).length; // 40
 * ```
 */
export function lwsGroupKey(lwsName: string, groupIndex: number): string {
  return createHash("sha1").update(`${lwsName}-${groupIndex}`).digest("hex");
}

/**
 * Makes the plugin (it takes no config; one given is ignored, as upstream).
 *
 * @example
 * ```ts
 * import { lwsStandardLabels } from "./lws_standard_labels.ts";
 * lwsStandardLabels(undefined).name; // "lws-standard-labels"
 * ```
 */
export function lwsStandardLabels(_config: Record<string, unknown> | undefined): PodPlugin {
  return {
    name: "lws-standard-labels",
    onPodCreate({ modelServing, groupIndex, isEntry, pod }) {
      const owner = modelServing.metadata.ownerReferences?.find((r) =>
        r.kind === "LeaderWorkerSet"
      );
      if (!owner) return;
      // Workers are numbered by their pod name's suffix, `{ms}-{g}-{role}-{r}-{i}` (upstream).
      const workerIndex = isEntry ? 0 : parseOrdinal(pod.metadata?.name ?? "")?.ordinal;
      const meta = pod.metadata ??= {};
      meta.labels = {
        ...meta.labels,
        [LWS.name]: owner.name,
        [LWS.groupIndex]: String(groupIndex),
        ...(workerIndex !== undefined ? { [LWS.workerIndex]: String(workerIndex) } : {}),
        [LWS.groupKey]: lwsGroupKey(owner.name, groupIndex),
      };
    },
  };
}
