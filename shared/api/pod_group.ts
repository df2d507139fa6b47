/**
 * Volcano's PodGroup (`scheduling.volcano.sh/v1beta1`), in the shape the ModelServing
 * controller writes for gang scheduling. Volcano owns this CRD; ours is only installed in test
 * clusters that have no Volcano.
 *
 * @module
 */
import { z } from "zod";
import type { V1LabelSelector } from "@kubernetes/client-node";
import { resourceSchema, SCHEDULING_GROUP } from "./common.ts";
import { freeForm, int32, k8sType, quantity } from "./schema.ts";
import { NetworkTopologySpec } from "./model_serving.ts";

/** PodGroup's apiVersion. */
export const POD_GROUP_API_VERSION = `${SCHEDULING_GROUP}/v1beta1` as const;

/** A role-level gang inside the group (Volcano ≥ 1.14). */
export const SubGroupPolicy = z.object({
  name: z.string(),
  labelSelector: k8sType<V1LabelSelector>("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")
    .optional(),
  matchLabelKeys: z.array(z.string()).optional(),
  subGroupSize: int32().optional(),
  minSubGroups: int32().optional(),
  networkTopology: NetworkTopologySpec.optional(),
});

/** PodGroup's spec. */
export const PodGroupSpec = z.object({
  minMember: int32().min(0).optional(),
  minTaskMember: z.record(z.string(), int32()).optional(),
  queue: z.string().optional(),
  priorityClassName: z.string().optional(),
  minResources: z.record(z.string(), quantity()).optional(),
  networkTopology: NetworkTopologySpec.optional(),
  subGroupPolicy: z.array(SubGroupPolicy).optional(),
});
/** PodGroup's spec. */
export type PodGroupSpec = z.output<typeof PodGroupSpec>;

/** A whole PodGroup object. */
export const PodGroup = resourceSchema(
  POD_GROUP_API_VERSION,
  "PodGroup",
  PodGroupSpec,
  z.object({
    phase: z.string().optional(),
    conditions: z.array(freeForm()).optional().describe("Volcano's PodGroupConditions."),
    running: int32().optional(),
    succeeded: int32().optional(),
    failed: int32().optional(),
  }),
);
/** A PodGroup. */
export type PodGroup = z.output<typeof PodGroup>;
