/**
 * AutoscalingPolicyBinding (`workload.serving.volcano.sh/v1alpha1`): binds an
 * AutoscalingPolicy (in the same namespace) to what it scales, as the seed documents describe:
 * one ModelServing (or one role of it) between bounds, or several ModelServings split by cost.
 *
 * @module
 */
import { z } from "zod";
import { conditionList, resourceSchema, WORKLOAD_GROUP } from "./common.ts";
import { HeterogeneousTarget, HomogeneousTarget } from "./autoscaling_policy.ts";
import { withRules } from "./schema.ts";

/** AutoscalingPolicyBinding's apiVersion. */
export const AUTOSCALING_POLICY_BINDING_API_VERSION = `${WORKLOAD_GROUP}/v1alpha1` as const;

/** AutoscalingPolicyBinding's spec. */
export const AutoscalingPolicyBindingSpec = withRules(
  z.object({
    policyRef: z.object({
      name: z.string().min(1).describe("An AutoscalingPolicy in this namespace."),
    }),
    homogeneousTarget: HomogeneousTarget.optional(),
    heterogeneousTarget: HeterogeneousTarget.optional(),
  }),
  [{
    rule: "has(self.heterogeneousTarget) != has(self.homogeneousTarget)",
    message: "Either heterogeneousTarget or homogeneousTarget must be set, but not both.",
    check: (s) => (s.heterogeneousTarget === undefined) !== (s.homogeneousTarget === undefined),
  }],
);
/** AutoscalingPolicyBinding's spec. */
export type AutoscalingPolicyBindingSpec = z.output<typeof AutoscalingPolicyBindingSpec>;

/** A whole AutoscalingPolicyBinding object. */
export const AutoscalingPolicyBinding = resourceSchema(
  AUTOSCALING_POLICY_BINDING_API_VERSION,
  "AutoscalingPolicyBinding",
  AutoscalingPolicyBindingSpec,
  z.object({ conditions: conditionList().optional() }),
);
/** An AutoscalingPolicyBinding. */
export type AutoscalingPolicyBinding = z.output<typeof AutoscalingPolicyBinding>;
