/**
 * The observed state of a ModelServing, derived from its pods on every reconcile.
 *
 * Upstream keeps groups and roles in an in-memory datastore that is the source of truth and is
 * only rebuilt from pod labels on restart, losing transitional states and timers. Here nothing
 * is remembered between reconciles: pod labels say where a pod belongs and which revision it
 * was made from, pod status says whether it is ready or failed, and the time a pod failed comes
 * from its own conditions. A restarted controller therefore sees exactly what the last one saw.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { parseOrdinal } from "@kthena/shared/naming";

/** A pod, with its place and health read from labels and status. */
export interface ObservedPod {
  pod: V1Pod;
  name: string;
  groupIdx: number;
  role: string;
  roleIdx: number;
  podIdx: number;
  revision: string;
  roleTemplateHash: string;
  /** Being deleted (`deletionTimestamp` set). */
  terminating: boolean;
  /** Running with the Ready condition true. */
  ready: boolean;
  /** Ever reached Running (or is it now). */
  started: boolean;
  /** Failed, or restarted and not ready. */
  failed: boolean;
  /** When it failed (ms since epoch), from its conditions; undefined when unknown. */
  failedSince?: number;
}

/** One role replica: an entry pod and its workers. */
export interface ObservedRoleReplica {
  role: string;
  roleIdx: number;
  pods: Map<number, ObservedPod>;
}

/** One serving group. */
export interface ObservedGroup {
  idx: number;
  /** role name → role index → replica. */
  roles: Map<string, Map<number, ObservedRoleReplica>>;
  /** Every pod of the group is being deleted. */
  terminating: boolean;
}

/**
 * Reads a pod's place and health. Returns undefined for a pod whose labels do not follow the
 * naming scheme (it is not ours to manage).
 *
 * @example
 * ```ts
 * import { observePod } from "./observe.ts";
 * ```
 */
export function observePod(pod: V1Pod, now: number): ObservedPod | undefined {
  const labels = pod.metadata?.labels ?? {};
  const group = parseOrdinal(labels[L.groupName] ?? "");
  const rid = parseOrdinal(labels[L.roleId] ?? "");
  const self = parseOrdinal(pod.metadata?.name ?? "");
  const role = labels[L.role];
  if (!group || !rid || !self || !role || rid.prefix !== role) return undefined;

  const status = pod.status;
  const readyCond = status?.conditions?.find((c) => c.type === "Ready");
  const ready = status?.phase === "Running" && readyCond?.status === "True";
  const restarted = [
    ...(status?.containerStatuses ?? []),
    ...(status?.initContainerStatuses ?? []),
  ].some((c) => (c.restartCount ?? 0) > 0);
  const failed = status?.phase === "Failed" ||
    (!ready && restarted && (status?.phase === "Running" || status?.phase === "Pending"));
  return {
    pod,
    name: pod.metadata?.name ?? "",
    groupIdx: group.ordinal,
    role,
    roleIdx: rid.ordinal,
    podIdx: self.ordinal,
    revision: labels[L.revision] ?? "",
    roleTemplateHash: labels[L.roleTemplateHash] ?? "",
    terminating: !!pod.metadata?.deletionTimestamp,
    ready,
    started: ready || status?.phase === "Running" || restarted,
    failed,
    failedSince: failed ? failureTime(pod, now) : undefined,
  };
}

/** When a pod stopped being healthy: its Ready condition's last transition, else now. */
function failureTime(pod: V1Pod, now: number): number {
  const t = pod.status?.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime;
  const ms = t === undefined ? NaN : Date.parse(String(t instanceof Date ? t.toISOString() : t));
  return Number.isFinite(ms) ? ms : now;
}

/**
 * Groups a ModelServing's pods into serving groups and role replicas.
 *
 * @example
 * ```ts
 * import { observeGroups } from "./observe.ts";
 * observeGroups([], Date.now()).size; // 0
 * ```
 */
export function observeGroups(pods: readonly V1Pod[], now: number): Map<number, ObservedGroup> {
  const groups = new Map<number, ObservedGroup>();
  for (const pod of pods) {
    const p = observePod(pod, now);
    if (!p) continue;
    let g = groups.get(p.groupIdx);
    if (!g) {
      g = { idx: p.groupIdx, roles: new Map(), terminating: true };
      groups.set(p.groupIdx, g);
    }
    if (!p.terminating) g.terminating = false;
    let byIdx = g.roles.get(p.role);
    if (!byIdx) {
      byIdx = new Map();
      g.roles.set(p.role, byIdx);
    }
    let rr = byIdx.get(p.roleIdx);
    if (!rr) {
      rr = { role: p.role, roleIdx: p.roleIdx, pods: new Map() };
      byIdx.set(p.roleIdx, rr);
    }
    rr.pods.set(p.podIdx, p);
  }
  return groups;
}

/** The pods of a role replica that are not being deleted. */
export function livePods(rr: ObservedRoleReplica): ObservedPod[] {
  return [...rr.pods.values()].filter((p) => !p.terminating);
}

/** The revision most pods of a group carry (ties: the lexically smallest), or "" if none. */
export function groupRevision(g: ObservedGroup): string {
  const count = new Map<string, number>();
  for (const byIdx of g.roles.values()) {
    for (const rr of byIdx.values()) {
      for (const p of livePods(rr)) count.set(p.revision, (count.get(p.revision) ?? 0) + 1);
    }
  }
  let best = "";
  let bestN = 0;
  for (const [rev, n] of [...count].sort(([a], [b]) => a.localeCompare(b))) {
    if (n > bestN) [best, bestN] = [rev, n];
  }
  return best;
}

/** Σ of the `controller.kubernetes.io/pod-deletion-cost` annotations of some pods. */
export function deletionCost(pods: readonly ObservedPod[]): number {
  let sum = 0;
  for (const p of pods) {
    const v = Number(p.pod.metadata?.annotations?.["controller.kubernetes.io/pod-deletion-cost"]);
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
