/**
 * The registry of our custom resource kinds: group, version, names, scope, subresources and
 * printer columns, next to the zod schema of each. CRDs are generated from this list, and the
 * Kubernetes client layer uses it to build API paths. Kinds owned by other projects that the
 * controllers read or write (Volcano's PodGroup, LeaderWorkerSet) are here too, marked not
 * `installed`: their CRDs are generated only for test clusters.
 *
 * @module
 */
import type { z } from "zod";
import { NETWORKING_GROUP, SCHEDULING_GROUP, WORKLOAD_GROUP } from "./common.ts";
import { ModelServing } from "./model_serving.ts";
import { ModelBooster } from "./model_booster.ts";
import { AutoscalingPolicy } from "./autoscaling_policy.ts";
import { AutoscalingPolicyBinding } from "./autoscaling_policy_binding.ts";
import { ModelServer } from "./model_server.ts";
import { ModelRoute } from "./model_route.ts";
import { PodGroup } from "./pod_group.ts";
import { LeaderWorkerSet, LWS_GROUP } from "./leader_worker_set.ts";

/** A printer column (`kubectl get` output). */
export interface PrinterColumn {
  name: string;
  type: "integer" | "string" | "date" | "number" | "boolean";
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything the API server needs to know about one of our kinds. */
export interface ResourceKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  /** The zod schema of a whole object of this kind. */
  schema: z.ZodType;
  subresources: {
    status?: boolean;
    scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
  };
  printerColumns: PrinterColumn[];
  /** Whether `kubectl apply -k manifests` installs this CRD (false: owned by another project). */
  installed: boolean;
}

const age: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

/** ModelServing. */
export const MODEL_SERVING: ResourceKind = {
  group: WORKLOAD_GROUP,
  version: "v1alpha1",
  kind: "ModelServing",
  plural: "modelservings",
  singular: "modelserving",
  schema: ModelServing,
  subresources: {
    status: true,
    scale: {
      specReplicasPath: ".spec.replicas",
      statusReplicasPath: ".status.replicas",
      labelSelectorPath: ".status.labelSelector",
    },
  },
  printerColumns: [
    {
      name: "Replicas",
      type: "integer",
      jsonPath: ".status.replicas",
      description: "Total number of serving groups",
    },
    {
      name: "Available",
      type: "integer",
      jsonPath: ".status.availableReplicas",
      description: "Number of serving groups that are ready",
    },
    {
      name: "Updated",
      type: "integer",
      jsonPath: ".status.updatedReplicas",
      description: "Number of serving groups updated to the latest revision",
    },
    age,
  ],
  installed: true,
};

/** ModelBooster. */
export const MODEL_BOOSTER: ResourceKind = {
  group: WORKLOAD_GROUP,
  version: "v1alpha1",
  kind: "ModelBooster",
  plural: "modelboosters",
  singular: "modelbooster",
  schema: ModelBooster,
  subresources: { status: true },
  printerColumns: [
    {
      name: "Active",
      type: "string",
      jsonPath: ".status.conditions[?(@.type=='Active')].status",
      description: "Whether the model booster is active",
    },
    age,
  ],
  installed: true,
};

/** AutoscalingPolicy. */
export const AUTOSCALING_POLICY: ResourceKind = {
  group: WORKLOAD_GROUP,
  version: "v1alpha1",
  kind: "AutoscalingPolicy",
  plural: "autoscalingpolicies",
  singular: "autoscalingpolicy",
  schema: AutoscalingPolicy,
  subresources: { status: true },
  printerColumns: [age],
  installed: true,
};

/** AutoscalingPolicyBinding. */
export const AUTOSCALING_POLICY_BINDING: ResourceKind = {
  group: WORKLOAD_GROUP,
  version: "v1alpha1",
  kind: "AutoscalingPolicyBinding",
  plural: "autoscalingpolicybindings",
  singular: "autoscalingpolicybinding",
  schema: AutoscalingPolicyBinding,
  subresources: { status: true },
  printerColumns: [
    { name: "Policy", type: "string", jsonPath: ".spec.policyRef.name" },
    age,
  ],
  installed: true,
};

/** ModelServer. */
export const MODEL_SERVER: ResourceKind = {
  group: NETWORKING_GROUP,
  version: "v1alpha1",
  kind: "ModelServer",
  plural: "modelservers",
  singular: "modelserver",
  schema: ModelServer,
  subresources: { status: true },
  printerColumns: [
    { name: "Engine", type: "string", jsonPath: ".spec.inferenceEngine" },
    { name: "Port", type: "integer", jsonPath: ".spec.workloadPort.port" },
    { name: "Protocol", type: "string", jsonPath: ".spec.workloadPort.protocol" },
    age,
  ],
  installed: true,
};

/** ModelRoute. */
export const MODEL_ROUTE: ResourceKind = {
  group: NETWORKING_GROUP,
  version: "v1alpha1",
  kind: "ModelRoute",
  plural: "modelroutes",
  singular: "modelroute",
  schema: ModelRoute,
  subresources: { status: true },
  printerColumns: [
    { name: "Model", type: "string", jsonPath: ".spec.modelName" },
    age,
  ],
  installed: true,
};

/** Volcano's PodGroup (installed only in test clusters). */
export const POD_GROUP: ResourceKind = {
  group: SCHEDULING_GROUP,
  version: "v1beta1",
  kind: "PodGroup",
  plural: "podgroups",
  singular: "podgroup",
  schema: PodGroup,
  subresources: { status: true },
  printerColumns: [
    { name: "Status", type: "string", jsonPath: ".status.phase" },
    { name: "MinMember", type: "integer", jsonPath: ".spec.minMember" },
    age,
  ],
  installed: false,
};

/** kubernetes-sigs' LeaderWorkerSet (installed only in test clusters). */
export const LEADER_WORKER_SET: ResourceKind = {
  group: LWS_GROUP,
  version: "v1",
  kind: "LeaderWorkerSet",
  plural: "leaderworkersets",
  singular: "leaderworkerset",
  schema: LeaderWorkerSet,
  subresources: { status: true },
  printerColumns: [
    { name: "Replicas", type: "integer", jsonPath: ".status.replicas" },
    { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas" },
    age,
  ],
  installed: false,
};

/** Every kind, in a stable order. */
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  MODEL_BOOSTER,
  MODEL_SERVING,
  AUTOSCALING_POLICY,
  AUTOSCALING_POLICY_BINDING,
  MODEL_SERVER,
  MODEL_ROUTE,
  POD_GROUP,
  LEADER_WORKER_SET,
];

/**
 * Finds the registry entry of an apiVersion and kind.
 *
 * @example
 * ```ts
 * import { findKind } from "./resources.ts";
 * findKind("networking.serving.volcano.sh/v1alpha1", "ModelRoute")?.plural; // "modelroutes"
 * ```
 */
export function findKind(apiVersion: string, kind: string): ResourceKind | undefined {
  return RESOURCE_KINDS.find((k) => `${k.group}/${k.version}` === apiVersion && k.kind === kind);
}
