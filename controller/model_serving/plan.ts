/**
 * The ModelServing reconcile plan: from the desired spec and the observed children to the writes
 * that move the cluster one step closer, and the status that describes where it stands.
 *
 * A pure function of its input, so every rule (gap filling, victim ordering, rollout budgets,
 * recovery policies, grace periods) is unit-tested without an API server, and a restarted
 * controller computes the same plan from the same cluster. Upstream semantics, step by step:
 *
 * 1. serving groups: create the missing ordinals in `[0, replicas)` (lowest first); delete
 *    surplus groups, not-running first, then lowest `pod-deletion-cost`, then highest ordinal,
 *    partition-protected groups last;
 * 2. per group and role: the same for role replicas; missing pods are recreated, failed pods are
 *    handled by `recoveryPolicy` once `restartGracePeriodSeconds` has passed;
 * 3. rolling update: outdated groups (or role replicas, for `RoleRollingUpdate`) are deleted
 *    within the `maxUnavailable` budget and come back at the same ordinal on the new revision;
 *    the first `partition` keep the revision recorded in their ControllerRevision;
 * 4. headless Services and Volcano PodGroups follow the groups that remain;
 * 5. status: counts, revisions, conditions, the scale selector.
 *
 * @module
 */
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import type {
  Condition,
  ModelServing,
  ModelServingStatus,
  PodGroup,
  Role,
} from "@kthena/shared/api";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { headlessServiceName, servingGroupName } from "@kthena/shared/naming";
import {
  buildControllerRevision,
  buildHeadlessService,
  buildPod,
  buildPodGroup,
  type ControllerRevision,
} from "./children.ts";
import { resolveIntOrPercent } from "@kthena/shared/api";
import {
  deletionCost,
  groupRevision,
  livePods,
  type ObservedGroup,
  type ObservedPod,
  type ObservedRoleReplica,
  observeGroups,
} from "./observe.ts";
import { modelServingRevision, roleTemplateHash } from "./revision.ts";
import { sameResources } from "./quantity.ts";

/** Everything the plan is computed from. */
export interface PlanInput {
  /** The ModelServing, parsed with defaults. */
  ms: ModelServing;
  /** Its pods (owned by its UID). */
  pods: readonly V1Pod[];
  /** Names of its headless Services. */
  services: ReadonlySet<string>;
  /** Its PodGroups by name (empty when gang scheduling does not apply). */
  podGroups: ReadonlyMap<string, PodGroup>;
  /** The roles recorded by its ControllerRevisions, by revision. */
  revisions: ReadonlyMap<string, Role[]>;
  /** Volcano gang scheduling applies: PodGroup CRD installed and `schedulerName: volcano`. */
  gang: boolean;
  /** Volcano's PodGroup supports `subGroupPolicy` (role-level gangs). */
  subGroupPolicy: boolean;
  /** The current time, ms since the epoch. */
  now: number;
}

/** A pod to delete, with its UID as a precondition (never delete a newer pod of that name). */
export interface PodDeletion {
  name: string;
  uid?: string;
  reason: string;
}

/** A Kubernetes Event to record on the ModelServing. */
export interface PlannedEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** The writes of one reconcile, and the status to report. */
export interface Plan {
  revision: string;
  /** Write first: pods of a new revision must never exist without their record. */
  controllerRevision?: ControllerRevision;
  createPods: V1Pod[];
  deletePods: PodDeletion[];
  createServices: V1Service[];
  deleteServices: string[];
  applyPodGroups: PodGroup[];
  deletePodGroups: string[];
  events: PlannedEvent[];
  /** Reconcile again after this long (a grace period is running). */
  requeueAfterMs?: number;
  status: ModelServingStatus;
  /** Role replicas (`group/role-id`) that are running, for transition events. */
  runningRoleReplicas: string[];
}

/** A role replica's pods are all there and ready. */
function replicaReady(rr: ObservedRoleReplica, role: Role): boolean {
  const live = livePods(rr);
  return live.length === role.workerReplicas + 1 && live.every((p) => p.ready);
}

/**
 * Computes the plan.
 *
 * @example
 * ```ts
 * import { planModelServing } from "./plan.ts";
 * ```
 */
export function planModelServing(input: PlanInput): Plan {
  const { ms, now } = input;
  const msName = ms.metadata.name ?? "";
  const specRoles = ms.spec.template.roles;
  const revision = modelServingRevision(specRoles);
  const replicas = ms.spec.replicas;
  const strategy = ms.spec.rolloutStrategy?.type ?? "ServingGroupRollingUpdate";
  const groupRolling = strategy === "ServingGroupRollingUpdate";
  const partition = groupRolling
    ? resolveIntOrPercent(
      ms.spec.rolloutStrategy?.rollingUpdateConfiguration?.partition,
      replicas,
      "up",
    )
    : 0;
  const currentRevision = ms.status?.currentRevision;
  const grace = (ms.spec.template.restartGracePeriodSeconds ?? 0) * 1000;
  const policy = ms.spec.recoveryPolicy;

  const plan: Plan = {
    revision,
    createPods: [],
    deletePods: [],
    createServices: [],
    deleteServices: [],
    applyPodGroups: [],
    deletePodGroups: [],
    events: [],
    status: {},
    runningRoleReplicas: [],
  };
  const revisions = new Map(input.revisions);
  if (!revisions.has(revision)) {
    plan.controllerRevision = buildControllerRevision(ms, revision, specRoles);
    revisions.set(revision, specRoles);
  }

  /** The roles a group of revision `rev` is built from: its recorded pod templates, the
   * current replica counts (upstream keeps old counts, so protected groups never scale). */
  const rolesFor = (rev: string): Role[] => {
    if (rev === revision) return specRoles;
    const old = revisions.get(rev);
    if (!old) return specRoles;
    return specRoles.map((r) => {
      const o = old.find((x) => x.name === r.name);
      return o
        ? { ...o, replicas: r.replicas, maxUnavailable: r.maxUnavailable, partition: r.partition }
        : r;
    });
  };
  const oldRevisionUsable = currentRevision !== undefined && currentRevision !== revision &&
    revisions.has(currentRevision);

  const observed = observeGroups(input.pods, now);
  const deletedGroups = new Set<number>();
  const deletedReplicas = new Set<string>(); // `${group}/${role}/${roleIdx}`
  const createdReplicas: { groupIdx: number; role: Role; roleIdx: number }[] = [];
  const groupRevisions = new Map<number, string>();
  let requeue = Infinity;

  const deleteGroup = (g: ObservedGroup, reason: string) => {
    if (deletedGroups.has(g.idx)) return;
    deletedGroups.add(g.idx);
    for (const byIdx of g.roles.values()) {
      for (const rr of byIdx.values()) deleteReplicaPods(g.idx, rr, reason);
    }
  };
  const deleteReplicaPods = (groupIdx: number, rr: ObservedRoleReplica, reason: string) => {
    deletedReplicas.add(`${groupIdx}/${rr.role}/${rr.roleIdx}`);
    for (const p of livePods(rr)) {
      plan.deletePods.push({ name: p.name, uid: p.pod.metadata?.uid, reason });
    }
  };
  const deleteReplica = (groupIdx: number, rr: ObservedRoleReplica, reason: string) => {
    deleteReplicaPods(groupIdx, rr, reason);
    plan.events.push({
      type: "Normal",
      reason: "RoleDeleting",
      message: `Role ${rr.role}/${rr.role}-${rr.roleIdx} in ServingGroup ` +
        `${servingGroupName(msName, groupIdx)} is now Deleting`,
    });
  };
  const createReplica = (groupIdx: number, role: Role, roleIdx: number, rev: string, from = 0) => {
    const hash = roleTemplateHash(role);
    for (let podIdx = from; podIdx <= role.workerReplicas; podIdx++) {
      plan.createPods.push(
        buildPod(ms, { groupIdx, role, roleIdx, podIdx }, {
          revision: rev,
          roleTemplateHash: hash,
          gang: input.gang,
        }),
      );
    }
    if (from === 0) {
      createdReplicas.push({ groupIdx, role, roleIdx });
      plan.events.push({
        type: "Normal",
        reason: "RoleCreating",
        message: `Role ${role.name}/${role.name}-${roleIdx} in ServingGroup ` +
          `${servingGroupName(msName, groupIdx)} is now Creating`,
      });
    }
  };

  const groupAvailable = (g: ObservedGroup): boolean => {
    if (g.terminating || deletedGroups.has(g.idx)) return false;
    for (const role of groupRoles(g.idx)) {
      const live = [...(g.roles.get(role.name)?.values() ?? [])].filter((rr) =>
        livePods(rr).length > 0
      );
      if (live.length !== role.replicas || !live.every((rr) => replicaReady(rr, role))) {
        return false;
      }
    }
    return true;
  };

  // ---- 1. serving groups: scale up (fill gaps) and down (victims) ----
  const all = [...observed.values()].sort((a, b) => a.idx - b.idx);
  const active = all.filter((g) => !g.terminating);
  const roleRolling = strategy === "RoleRollingUpdate";
  for (const g of all) {
    // Under RoleRollingUpdate a group is on the new revision once every role replica has the
    // current template hash (replicas that never changed keep their old revision label);
    // until then it is on the revision its outdated pods carry. A partition-protected replica
    // with no live pod (deleted, maybe still terminating) will come back on the current
    // revision, so its group is not updated either: otherwise currentRevision would move to
    // the update revision meanwhile and the replica would be rebuilt from the new template.
    if (roleRolling) {
      const protectedGap = oldRevisionUsable && protectedReplicaMissing(g, specRoles);
      groupRevisions.set(
        g.idx,
        roleHashesCurrent(g, specRoles) && !protectedGap
          ? revision
          : outdatedRevision(g, revision) || (protectedGap ? currentRevision! : revision),
      );
    } else {
      groupRevisions.set(g.idx, groupRevision(g) || revision);
    }
  }
  /** The roles of a group: its revision's templates, or the spec's under RoleRollingUpdate
   * (where protection is per role replica, by the role's own partition). */
  const groupRoles = (idx: number): Role[] =>
    roleRolling ? specRoles : rolesFor(groupRevisions.get(idx) ?? revision);
  const protectedGroups = new Set(active.slice(0, partition).map((g) => g.idx));

  if (active.length > replicas) {
    const victims = orderVictims(
      active.map((g) => ({
        key: g.idx,
        running: groupAvailable(g),
        cost: deletionCost([...g.roles.values()].flatMap((m) => [...m.values()].flatMap(livePods))),
        protected: protectedGroups.has(g.idx),
      })),
    ).slice(0, active.length - replicas);
    for (const idx of victims) deleteGroup(observed.get(idx)!, "scale down");
  }
  const newGroups: number[] = [];
  if (all.length < replicas) {
    const used = new Set(all.map((g) => g.idx));
    for (let i = 0; newGroups.length < replicas - all.length; i++) {
      if (!used.has(i)) newGroups.push(i);
    }
  }
  for (const idx of newGroups) {
    const rev = idx < partition && oldRevisionUsable ? currentRevision! : revision;
    groupRevisions.set(idx, rev);
    for (const role of groupRoles(idx)) {
      for (let r = 0; r < role.replicas; r++) createReplica(idx, role, r, rev);
    }
  }

  // ---- 2. per group and role: role scaling, missing pods, failures ----
  // A role replica that is wholly missing from a group that was running is a loss, unless the
  // spec changed since the last reconcile (then it is a scale-up). The generation check uses
  // state kept in the cluster (status.observedGeneration), so it survives restarts.
  const specSettled = ms.status?.observedGeneration !== undefined &&
    ms.status.observedGeneration === ms.metadata.generation;
  for (const g of active) {
    if (deletedGroups.has(g.idx)) continue;
    const rev = groupRevisions.get(g.idx)!;
    const roles = groupRoles(g.idx);
    if (policy === "ServingGroupRecreate" && specSettled && groupStarted(g)) {
      const lost = roles.find((role) =>
        [...(g.roles.get(role.name)?.values() ?? [])].filter((rr) => livePods(rr).length > 0)
          .length <
          role.replicas
      );
      if (lost) {
        deleteGroup(g, `a replica of role ${lost.name} disappeared`);
        continue;
      }
    }
    const roleNames = new Set(roles.map((r) => r.name));
    // Roles that left the spec: their replicas go.
    for (const [name, byIdx] of g.roles) {
      if (roleNames.has(name)) continue;
      for (const rr of byIdx.values()) {
        if (livePods(rr).length > 0) deleteReplica(g.idx, rr, "role removed");
      }
    }
    for (const role of roles) {
      const byIdx = g.roles.get(role.name) ?? new Map<number, ObservedRoleReplica>();
      const liveReplicas = [...byIdx.values()].filter((rr) => livePods(rr).length > 0)
        .sort((a, b) => a.roleIdx - b.roleIdx);
      const rolePartition = roleRolling
        ? resolveIntOrPercent(role.partition, role.replicas, "up")
        : 0;

      // Recovery first: a broken replica is rebuilt whole or in part, by policy.
      for (const rr of liveReplicas) {
        if (deletedGroups.has(g.idx)) break;
        const live = livePods(rr);
        const failed = live.filter((p) => p.failed);
        const templateRole = replicaRole(rr, role, rolesFor);
        if (failed.length > 0) {
          const due = failed.filter((p) => (p.failedSince ?? now) + grace <= now);
          for (const p of failed) {
            const left = (p.failedSince ?? now) + grace - now;
            if (left > 0) requeue = Math.min(requeue, left);
          }
          if (due.length === 0) continue;
          if (policy === "ServingGroupRecreate") deleteGroup(g, `pod ${due[0]!.name} failed`);
          else if (policy === "RoleRecreate") {
            deleteReplica(g.idx, rr, `pod ${due[0]!.name} failed`);
          } else {for (const p of due) {
              plan.deletePods.push({
                name: p.name,
                uid: p.pod.metadata?.uid,
                reason: "pod failed",
              });
            }}
          continue;
        }
        if (live.length < templateRole.workerReplicas + 1) {
          const wasRunning = live.some((p) => p.started);
          if (wasRunning && policy === "ServingGroupRecreate") {
            deleteGroup(g, `a pod of ${rr.role}-${rr.roleIdx} disappeared`);
          } else if (wasRunning && policy === "RoleRecreate") {
            deleteReplica(g.idx, rr, `a pod of ${rr.role}-${rr.roleIdx} disappeared`);
          } else {
            const have = new Set(live.map((p) => p.podIdx));
            const rrRev = live[0]?.revision || rev;
            for (let podIdx = 0; podIdx <= templateRole.workerReplicas; podIdx++) {
              if (have.has(podIdx)) continue;
              plan.createPods.push(
                buildPod(ms, { groupIdx: g.idx, role: templateRole, roleIdx: rr.roleIdx, podIdx }, {
                  revision: rrRev,
                  roleTemplateHash: roleTemplateHash(templateRole),
                  gang: input.gang,
                }),
              );
            }
          }
        }
      }
      if (deletedGroups.has(g.idx)) break;

      // Role scale down (surplus replicas) and up (fill gaps in [0, replicas)).
      const remaining = liveReplicas.filter((rr) =>
        !deletedReplicas.has(`${g.idx}/${rr.role}/${rr.roleIdx}`)
      );
      if (remaining.length > role.replicas) {
        const victims = orderVictims(remaining.map((rr) => ({
          key: rr.roleIdx,
          running: replicaReady(rr, role),
          cost: deletionCost(livePods(rr)),
          protected: rr.roleIdx < rolePartition,
        }))).slice(0, remaining.length - role.replicas);
        for (const idx of victims) deleteReplica(g.idx, byIdx.get(idx)!, "scale down");
      }
      const occupied = new Set(
        [...byIdx.values()].filter((rr) => rr.pods.size > 0).map((rr) => rr.roleIdx),
      );
      const missing = role.replicas - [...byIdx.values()].filter((rr) => rr.pods.size > 0).length;
      for (let r = 0, made = 0; made < missing; r++) {
        if (occupied.has(r)) continue;
        made++;
        if (r < rolePartition && oldRevisionUsable) {
          const oldRole = rolesFor(currentRevision!).find((x) => x.name === role.name) ?? role;
          createReplica(g.idx, oldRole, r, currentRevision!);
        } else {
          createReplica(g.idx, role, r, roleRolling ? revision : rev);
        }
      }

      // Role rolling update: outdated replicas within the role's budget.
      if (roleRolling) {
        const hash = roleTemplateHash(role);
        const stay = remaining.filter((rr) =>
          !deletedReplicas.has(`${g.idx}/${rr.role}/${rr.roleIdx}`)
        );
        const outdated = stay.filter((rr) =>
          rr.roleIdx >= rolePartition && livePods(rr).some((p) => p.roleTemplateHash !== hash)
        );
        const ready = stay.filter((rr) => replicaReady(rr, role)).length;
        const maxUnavailable = Math.max(
          1,
          resolveIntOrPercent(role.maxUnavailable, role.replicas, "down"),
        );
        let budget = ready - (role.replicas - maxUnavailable);
        for (const rr of sortOutdated(outdated, (rr) => replicaReady(rr, role))) {
          const isReady = replicaReady(rr, role);
          if (isReady && budget <= 0) continue;
          if (isReady) budget--;
          deleteReplica(g.idx, rr, "rolling update");
        }
      }
    }
  }

  // ---- 3. group rolling update ----
  if (groupRolling) {
    const maxUnavailable = Math.max(
      1,
      resolveIntOrPercent(
        ms.spec.rolloutStrategy?.rollingUpdateConfiguration?.maxUnavailable ?? 1,
        replicas,
        "down",
      ),
    );
    const considered = active.filter((g) => !deletedGroups.has(g.idx));
    const available = considered.filter(groupAvailable).length;
    let budget = available - (replicas - maxUnavailable);
    const sorted = [...all].sort((a, b) => a.idx - b.idx);
    const candidates = sorted.slice(partition)
      .filter((g) =>
        !g.terminating && !deletedGroups.has(g.idx) && groupRevisions.get(g.idx) !== revision
      );
    for (const g of sortOutdated(candidates, groupAvailable)) {
      const isAvailable = groupAvailable(g);
      if (isAvailable && budget <= 0) continue;
      if (isAvailable) budget--;
      deleteGroup(g, "rolling update");
    }
  }

  // ---- 4. headless Services and PodGroups of what remains ----
  const remainingGroups = [
    ...active.filter((g) => !deletedGroups.has(g.idx)).map((g) => g.idx),
    ...newGroups,
  ];
  const wantServices = new Map<string, V1Service>();
  for (const idx of remainingGroups) {
    const g = observed.get(idx);
    for (const role of groupRoles(idx)) {
      if (role.workerReplicas === 0) continue;
      const idxs = new Set<number>();
      for (const rr of g?.roles.get(role.name)?.values() ?? []) {
        if (livePods(rr).length > 0 && !deletedReplicas.has(`${idx}/${rr.role}/${rr.roleIdx}`)) {
          idxs.add(rr.roleIdx);
        }
      }
      for (const c of createdReplicas) {
        if (c.groupIdx === idx && c.role.name === role.name) idxs.add(c.roleIdx);
      }
      for (const r of idxs) {
        wantServices.set(
          headlessServiceName(msName, idx, role.name, r),
          buildHeadlessService(ms, idx, role.name, r),
        );
      }
    }
  }
  for (const [name, svc] of wantServices) {
    if (!input.services.has(name)) plan.createServices.push(svc);
  }
  for (const name of input.services) if (!wantServices.has(name)) plan.deleteServices.push(name);

  if (input.gang) {
    const want = new Map<string, PodGroup>();
    for (const idx of remainingGroups) {
      const pg = buildPodGroup(ms, idx, groupRoles(idx), input.subGroupPolicy);
      want.set(pg.metadata.name!, pg);
    }
    for (const [name, pg] of want) {
      const have = input.podGroups.get(name);
      if (!have || !samePodGroupSpec(have, pg)) plan.applyPodGroups.push(pg);
    }
    for (const name of input.podGroups.keys()) if (!want.has(name)) plan.deletePodGroups.push(name);
  } else {
    for (const name of input.podGroups.keys()) plan.deletePodGroups.push(name);
  }

  // ---- 5. status ----
  plan.status = computeStatus(input, {
    revision,
    observed,
    deletedGroups,
    groupRevisions,
    groupAvailable,
    partition,
    plannedChanges: plan.createPods.length + plan.deletePods.length > 0,
    now,
  });
  for (const g of active) {
    if (deletedGroups.has(g.idx)) continue;
    for (const role of groupRoles(g.idx)) {
      for (const rr of g.roles.get(role.name)?.values() ?? []) {
        if (replicaReady(rr, role)) {
          plan.runningRoleReplicas.push(
            `${servingGroupName(msName, g.idx)}/${role.name}-${rr.roleIdx}`,
          );
        }
      }
    }
  }
  if (requeue !== Infinity) plan.requeueAfterMs = Math.ceil(requeue);
  return plan;
}

/** Some pod of the group has run. */
function groupStarted(g: ObservedGroup): boolean {
  for (const byIdx of g.roles.values()) {
    for (const rr of byIdx.values()) if (livePods(rr).some((p) => p.started)) return true;
  }
  return false;
}

/** The role a replica's own pods were built from (their revision's template). */
function replicaRole(
  rr: ObservedRoleReplica,
  fallback: Role,
  rolesFor: (rev: string) => Role[],
): Role {
  const rev = livePods(rr)[0]?.revision;
  if (!rev) return fallback;
  return rolesFor(rev).find((r) => r.name === fallback.name) ?? fallback;
}

/** A scale-down candidate. */
interface VictimCandidate {
  key: number;
  running: boolean;
  cost: number;
  protected: boolean;
}

/**
 * Scale-down order: unprotected before protected; within each, not-running first, then lowest
 * deletion cost, then highest ordinal. Returns the keys in deletion order.
 *
 * @example
 * ```ts
 * import { orderVictims } from "./plan.ts";
 * orderVictims([
 *   { key: 0, running: true, cost: 0, protected: false },
 *   { key: 1, running: true, cost: 0, protected: false },
 * ]); // [1, 0]
 * ```
 */
export function orderVictims(candidates: readonly VictimCandidate[]): number[] {
  return [...candidates].sort((a, b) =>
    Number(a.protected) - Number(b.protected) ||
    Number(a.running) - Number(b.running) ||
    a.cost - b.cost ||
    b.key - a.key
  ).map((c) => c.key);
}

/** Outdated units to replace: not-running ones first (free), then by highest ordinal. */
function sortOutdated<T extends { idx?: number; roleIdx?: number }>(
  items: T[],
  running: (t: T) => boolean,
): T[] {
  const ord = (t: T) => t.idx ?? t.roleIdx ?? 0;
  return [...items].sort((a, b) => Number(running(a)) - Number(running(b)) || ord(b) - ord(a));
}

function samePodGroupSpec(have: PodGroup, want: PodGroup): boolean {
  const a = have.spec;
  const b = want.spec;
  return a.minMember === b.minMember &&
    sameResources(a.minResources, b.minResources) &&
    (a.queue ?? "") === (b.queue ?? "") &&
    JSON.stringify(a.networkTopology ?? null) === JSON.stringify(b.networkTopology ?? null) &&
    JSON.stringify(a.subGroupPolicy ?? null) === JSON.stringify(b.subGroupPolicy ?? null);
}

interface StatusContext {
  revision: string;
  observed: Map<number, ObservedGroup>;
  deletedGroups: Set<number>;
  groupRevisions: Map<number, string>;
  groupAvailable: (g: ObservedGroup) => boolean;
  partition: number;
  plannedChanges: boolean;
  now: number;
}

/**
 * The status a plan reports. Counts are of serving groups; revisions work like a StatefulSet's
 * (`currentRevision` moves to `updateRevision` once every group is updated); all three
 * conditions are always written, True or False, with `lastTransitionTime` kept while the
 * status of a condition does not change.
 */
function computeStatus(input: PlanInput, c: StatusContext): ModelServingStatus {
  const { ms } = input;
  const groups = [...c.observed.values()];
  const live = groups.filter((g) => !g.terminating && !c.deletedGroups.has(g.idx));
  const available = live.filter(c.groupAvailable).length;
  const updated = live.filter((g) => c.groupRevisions.get(g.idx) === c.revision).length;
  const previous = ms.status?.currentRevision;
  const nonUpdated = live.filter((g) => c.groupRevisions.get(g.idx) !== c.revision);
  let currentRevision: string;
  if (nonUpdated.length === 0 && live.length >= ms.spec.replicas) currentRevision = c.revision;
  else if (previous && nonUpdated.some((g) => c.groupRevisions.get(g.idx) === previous)) {
    currentRevision = previous;
  } else {currentRevision = mostCommon(nonUpdated.map((g) => c.groupRevisions.get(g.idx)!)) ??
      previous ?? c.revision;}
  const current = live.filter((g) => c.groupRevisions.get(g.idx) === currentRevision).length;

  const replicas = groups.length;
  const progressing = available < ms.spec.replicas || replicas !== ms.spec.replicas ||
    c.plannedChanges;
  // Groups within the partition stay on their revision by design: not "updating".
  const updating = live.sort((a, b) => a.idx - b.idx).slice(c.partition)
    .some((g) => c.groupRevisions.get(g.idx) !== c.revision);
  const firstRole = ms.spec.template.roles[0]?.name ?? "";
  const generation = ms.metadata.generation;
  const conditions = [
    condition(
      ms,
      "Available",
      !progressing,
      !progressing ? "AllGroupsReady" : "GroupsNotReady",
      !progressing
        ? "All Serving groups are ready"
        : `${available}/${ms.spec.replicas} serving groups are ready`,
      c.now,
    ),
    condition(
      ms,
      "Progressing",
      progressing,
      progressing ? "GroupProgressing" : "AllGroupsReady",
      progressing
        ? `${replicas - available} serving groups are progressing`
        : "No serving group is progressing",
      c.now,
    ),
    condition(
      ms,
      "UpdateInProgress",
      updating,
      updating ? "GroupsUpdating" : "UpdateComplete",
      updating
        ? `${updated}/${live.length} serving groups are on revision ${c.revision}`
        : `All serving groups are on revision ${currentRevision}`,
      c.now,
    ),
  ];
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    replicas,
    availableReplicas: available,
    updatedReplicas: updated,
    currentReplicas: current,
    currentRevision,
    updateRevision: c.revision,
    conditions,
    labelSelector: [
      `${L.entry}=true`,
      `${L.name}=${ms.metadata.name ?? ""}`,
      `${L.role}=${firstRole}`,
      `${L.roleId}=${firstRole}-0`,
    ].join(","),
  };
}

/** Every role replica of the group has the current template hash of its role. */
function roleHashesCurrent(g: ObservedGroup, roles: readonly Role[]): boolean {
  for (const role of roles) {
    const hash = roleTemplateHash(role);
    for (const rr of g.roles.get(role.name)?.values() ?? []) {
      if (livePods(rr).some((p: ObservedPod) => p.roleTemplateHash !== hash)) return false;
    }
  }
  return true;
}

/** Some role replica protected by its role's `partition` has no live pod in the group. */
function protectedReplicaMissing(g: ObservedGroup, roles: readonly Role[]): boolean {
  for (const role of roles) {
    const partition = Math.min(
      resolveIntOrPercent(role.partition, role.replicas, "up"),
      role.replicas,
    );
    for (let r = 0; r < partition; r++) {
      const rr = g.roles.get(role.name)?.get(r);
      if (!rr || livePods(rr).length === 0) return true;
    }
  }
  return false;
}

/** The most common revision among a group's pods that are not on `current`. */
function outdatedRevision(g: ObservedGroup, current: string): string | undefined {
  const revs: string[] = [];
  for (const byIdx of g.roles.values()) {
    for (const rr of byIdx.values()) {
      for (const p of livePods(rr)) if (p.revision !== current) revs.push(p.revision);
    }
  }
  return mostCommon(revs);
}

function mostCommon(values: string[]): string | undefined {
  const n = new Map<string, number>();
  for (const v of values) n.set(v, (n.get(v) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

function condition(
  ms: ModelServing,
  type: string,
  status: boolean,
  reason: string,
  message: string,
  now: number,
): Condition {
  const s = status ? "True" : "False";
  const prev = ms.status?.conditions?.find((c) => c.type === type);
  return {
    type,
    status: s,
    reason,
    message,
    lastTransitionTime: prev && prev.status === s
      ? prev.lastTransitionTime
      : new Date(now).toISOString().replace(/\.\d+Z$/, "Z"),
    ...(ms.metadata.generation !== undefined ? { observedGeneration: ms.metadata.generation } : {}),
  };
}
