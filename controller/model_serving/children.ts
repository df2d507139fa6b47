/**
 * The objects a ModelServing owns, built from its spec: pods (entry and workers), headless
 * Services, Volcano PodGroups and ControllerRevisions. Pure functions; names, labels,
 * annotations and injected environment follow upstream Kthena exactly, because ModelServers
 * (and people) select pods by them.
 *
 * @module
 */
import type {
  V1Container,
  V1EnvVar,
  V1OwnerReference,
  V1Pod,
  V1Service,
} from "@kubernetes/client-node";
import {
  MODEL_SERVING_API_VERSION,
  type ModelServing,
  POD_GROUP_API_VERSION,
  type PodGroup,
  type PodTemplateSpec,
  type Role,
} from "@kthena/shared/api";
import { Annotations, InjectedEnv, ModelServingLabels as L } from "@kthena/shared/labels";
import {
  controllerRevisionName,
  entryAddress,
  headlessServiceName,
  podName,
  roleId,
  servingGroupName,
} from "@kthena/shared/naming";
import { addResources } from "./quantity.ts";

/** Where a pod sits: group, role replica and index within it (0 = entry). */
export interface PodPosition {
  groupIdx: number;
  role: Role;
  roleIdx: number;
  podIdx: number;
}

/** What else pod building needs to know. */
export interface PodContext {
  /** The revision label the pod carries (the group's revision). */
  revision: string;
  /** The role template hash label the pod carries. */
  roleTemplateHash: string;
  /** Whether Volcano gang scheduling applies (PodGroup CRD present and scheduler volcano). */
  gang: boolean;
}

/**
 * The controller owner reference every child of a ModelServing carries.
 *
 * @example
 * ```ts
 * import { ownerRef } from "./children.ts";
 * ownerRef({ metadata: { name: "m", uid: "u" } } as never).controller; // true
 * ```
 */
export function ownerRef(ms: ModelServing, blockOwnerDeletion = true): V1OwnerReference {
  return {
    apiVersion: MODEL_SERVING_API_VERSION,
    kind: "ModelServing",
    name: ms.metadata.name ?? "",
    uid: ms.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion,
  };
}

/**
 * Builds one pod of a role replica. Index 0 is the entry pod (from `entryTemplate`), the
 * others are workers (from `workerTemplate`).
 *
 * Controller labels are applied after the template's, so a template cannot overwrite them
 * (upstream lets it, which breaks its own indexes).
 *
 * @example
 * ```ts
 * import { buildPod } from "./children.ts";
 * ```
 */
export function buildPod(ms: ModelServing, pos: PodPosition, ctx: PodContext): V1Pod {
  const msName = ms.metadata.name ?? "";
  const ns = ms.metadata.namespace ?? "default";
  const isEntry = pos.podIdx === 0;
  const template: PodTemplateSpec | undefined = isEntry
    ? pos.role.entryTemplate
    : pos.role.workerTemplate;
  if (!template) throw new Error(`role ${pos.role.name} has workers but no workerTemplate`);
  const group = servingGroupName(msName, pos.groupIdx);
  const rid = roleId(pos.role.name, pos.roleIdx);

  const labels: Record<string, string> = {
    ...(template.metadata?.labels ?? {}),
    [L.name]: msName,
    [L.groupName]: group,
    [L.role]: pos.role.name,
    [L.roleId]: rid,
    [L.revision]: ctx.revision,
    [L.roleTemplateHash]: ctx.roleTemplateHash,
  };
  if (isEntry) labels[L.entry] = "true";
  const annotations: Record<string, string> = { ...(template.metadata?.annotations ?? {}) };
  if (ctx.gang) {
    annotations[Annotations.podGroupName] = group;
    annotations[Annotations.taskSpec] = rid;
  }

  const env: V1EnvVar[] = [
    { name: InjectedEnv.groupSize, value: String(pos.role.workerReplicas + 1) },
    {
      name: InjectedEnv.entryAddress,
      value: entryAddress(msName, pos.groupIdx, pos.role.name, pos.roleIdx, ns),
    },
    { name: InjectedEnv.workerIndex, value: String(pos.podIdx) },
  ];
  const spec = structuredClone(template.spec);
  spec.schedulerName = ms.spec.schedulerName;
  spec.containers = spec.containers.map((c) => injectEnv(c, env));
  if (spec.initContainers) spec.initContainers = spec.initContainers.map((c) => injectEnv(c, env));

  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName(msName, pos.groupIdx, pos.role.name, pos.roleIdx, pos.podIdx),
      namespace: ns,
      labels,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [ownerRef(ms)],
    },
    spec,
  };
}

/** Replaces the injected variables in a container (upstream appends them at the end). */
function injectEnv(container: V1Container, injected: V1EnvVar[]): V1Container {
  const names = new Set(injected.map((e) => e.name));
  return {
    ...container,
    env: [...(container.env ?? []).filter((e) => !names.has(e.name)), ...injected],
  };
}

/**
 * The headless Service of a role replica, named like its entry pod, so `ENTRY_ADDRESS`
 * resolves even before the entry pod is ready (`publishNotReadyAddresses`).
 *
 * @example
 * ```ts
 * import { buildHeadlessService } from "./children.ts";
 * ```
 */
export function buildHeadlessService(
  ms: ModelServing,
  groupIdx: number,
  role: string,
  roleIdx: number,
): V1Service {
  const msName = ms.metadata.name ?? "";
  const group = servingGroupName(msName, groupIdx);
  const rid = roleId(role, roleIdx);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: headlessServiceName(msName, groupIdx, role, roleIdx),
      namespace: ms.metadata.namespace ?? "default",
      labels: { [L.name]: msName, [L.groupName]: group, [L.role]: role, [L.roleId]: rid },
      ownerReferences: [ownerRef(ms)],
    },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { [L.groupName]: group, [L.role]: role, [L.roleId]: rid, [L.entry]: "true" },
    },
  };
}

/** Role replicas of `role` that must be schedulable together (the gang minimum). */
export function minRoleReplicas(ms: ModelServing, role: Role): number {
  const min = ms.spec.template.gangPolicy?.minRoleReplicas?.[role.name];
  return min === undefined ? role.replicas : Math.min(min, role.replicas);
}

/**
 * The Volcano PodGroup of a serving group: the gang of all its pods (`minMember`, the sum of
 * container requests as `minResources`), and with Volcano ≥ 1.14 one sub-group per role.
 *
 * @example
 * ```ts
 * import { buildPodGroup } from "./children.ts";
 * ```
 */
export function buildPodGroup(
  ms: ModelServing,
  groupIdx: number,
  roles: readonly Role[],
  subGroupPolicy: boolean,
): PodGroup {
  const msName = ms.metadata.name ?? "";
  const group = servingGroupName(msName, groupIdx);
  let minMember = 0;
  const parts: [Record<string, string | number> | undefined, number][] = [];
  for (const role of roles) {
    const n = minRoleReplicas(ms, role);
    minMember += (1 + role.workerReplicas) * n;
    for (const c of role.entryTemplate.spec.containers) parts.push([requests(c), n]);
    for (const c of role.workerTemplate?.spec.containers ?? []) {
      parts.push([requests(c), n * role.workerReplicas]);
    }
  }
  const topology = ms.spec.template.networkTopology;
  const queue = ms.metadata.annotations?.[Annotations.queueName];
  return {
    apiVersion: POD_GROUP_API_VERSION,
    kind: "PodGroup",
    metadata: {
      name: group,
      namespace: ms.metadata.namespace ?? "default",
      labels: { [L.name]: msName, [L.groupName]: group },
      annotations: { [Annotations.podGroupName]: group },
      // Volcano's own controllers do not expect blockOwnerDeletion on PodGroups (upstream).
      ownerReferences: [{ ...ownerRef(ms, false), blockOwnerDeletion: undefined }],
    },
    spec: {
      minMember,
      minResources: addResources(parts),
      ...(queue ? { queue } : {}),
      ...(topology?.groupPolicy ? { networkTopology: topology.groupPolicy } : {}),
      ...(subGroupPolicy
        ? {
          subGroupPolicy: roles.map((role) => ({
            name: role.name,
            labelSelector: { matchLabels: { [L.name]: msName, [L.role]: role.name } },
            matchLabelKeys: [L.roleId],
            subGroupSize: 1 + role.workerReplicas,
            minSubGroups: minRoleReplicas(ms, role),
            ...(topology?.rolePolicy ? { networkTopology: topology.rolePolicy } : {}),
          })),
        }
        : {}),
    },
  };
}

function requests(c: V1Container): Record<string, string | number> | undefined {
  return c.resources?.requests as Record<string, string | number> | undefined;
}

/** An apps/v1 ControllerRevision as the controller writes it. */
export interface ControllerRevision {
  apiVersion: "apps/v1";
  kind: "ControllerRevision";
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: V1OwnerReference[];
  };
  revision: number;
  data: { data: Role[] };
}

/**
 * The ControllerRevision that remembers the roles of a revision, so partition-protected groups
 * can be rebuilt from their own (older) template. Layout as upstream: `data.data` = roles.
 *
 * @example
 * ```ts
 * import { buildControllerRevision } from "./children.ts";
 * ```
 */
export function buildControllerRevision(
  ms: ModelServing,
  revision: string,
  roles: readonly Role[],
): ControllerRevision {
  const msName = ms.metadata.name ?? "";
  return {
    apiVersion: "apps/v1",
    kind: "ControllerRevision",
    metadata: {
      name: controllerRevisionName(msName, revision),
      namespace: ms.metadata.namespace ?? "default",
      labels: { [L.name]: msName, [L.revision]: revision },
      ownerReferences: [ownerRef(ms)],
    },
    revision: 1,
    data: { data: structuredClone([...roles]) },
  };
}
