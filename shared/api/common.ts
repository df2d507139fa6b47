/**
 * Types shared by several custom resources: object metadata, conditions, pod templates and
 * the envelope (`apiVersion`, `kind`, `metadata`, `spec`, `status`) every resource has.
 *
 * @module
 */
import { z } from "zod";
import type { V1PodSpec } from "@kubernetes/client-node";
import { type CelRule, int64, k8sType, stringMap, withRules } from "./schema.ts";

/** The group of the workload kinds (ModelBooster, ModelServing, autoscaling). */
export const WORKLOAD_GROUP = "workload.serving.volcano.sh";
/** The group of the networking kinds (ModelServer, ModelRoute). */
export const NETWORKING_GROUP = "networking.serving.volcano.sh";
/** Volcano's scheduling group (PodGroup). */
export const SCHEDULING_GROUP = "scheduling.volcano.sh";

/** An owner reference, as the controller writes it on children. */
export const OwnerReference = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});
/** An owner reference. */
export type OwnerReference = z.output<typeof OwnerReference>;

/**
 * Object metadata. Only the fields our programs read are typed; the rest is kept as it is
 * (the API server, not this parser, validates metadata).
 */
export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.unknown().optional(),
  deletionTimestamp: z.unknown().optional(),
  labels: stringMap().optional(),
  annotations: stringMap().optional(),
  ownerReferences: z.array(OwnerReference.loose()).optional(),
  finalizers: z.array(z.string()).optional(),
});
/** Object metadata. */
export type ObjectMeta = z.output<typeof ObjectMeta>;

/** `metav1.Condition`, the standard status condition. */
export const Condition = z.object({
  type: z.string().max(316).regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
  ),
  status: z.enum(["True", "False", "Unknown"]),
  observedGeneration: int64().min(0).optional(),
  lastTransitionTime: z.string().meta({ format: "date-time" }),
  reason: z.string().min(1).max(1024).regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});
/** A status condition. */
export type Condition = z.output<typeof Condition>;

/** A list of conditions keyed by `type`, as `metav1.Condition` lists are declared. */
export function conditionList(): z.ZodType<Condition[]> {
  return z.array(Condition).meta({
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
  });
}

/**
 * A pod template as ModelServing embeds it: labels and annotations, and a full PodSpec.
 * (Upstream's `Metadata` type keeps only labels and annotations; so do we.)
 */
export const PodTemplateSpec = z.object({
  metadata: z.object({
    labels: stringMap().optional(),
    annotations: stringMap().optional(),
  }).optional(),
  spec: k8sType<V1PodSpec>("io.k8s.api.core.v1.PodSpec"),
});
/** A pod template. */
export type PodTemplateSpec = z.output<typeof PodTemplateSpec>;

/**
 * Builds the schema of a whole resource: the envelope around `spec` and `status`, plus CEL
 * rules at the root (the only place where CEL can read `metadata.name`).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { resourceSchema } from "./common.ts";
 * const Thing = resourceSchema("example.com/v1", "Thing", z.object({ size: z.int() }));
 * Thing.parse({ apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "a" }, spec: { size: 1 } });
 * ```
 */
export function resourceSchema<
  const A extends string,
  const K extends string,
  Spec extends z.ZodType,
  Status extends z.ZodType = z.ZodObject<Record<never, never>>,
>(
  apiVersion: A,
  kind: K,
  spec: Spec,
  status?: Status,
  rootRules: CelRule<{ metadata: ObjectMeta; spec: z.output<Spec> }>[] = [],
) {
  const object = z.object({
    apiVersion: z.literal(apiVersion),
    kind: z.literal(kind),
    metadata: ObjectMeta.default({}),
    spec,
    status: (status ?? z.object({})).optional(),
  });
  return rootRules.length === 0 ? object : withRules(object, rootRules as never);
}
