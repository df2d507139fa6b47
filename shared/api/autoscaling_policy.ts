/**
 * AutoscalingPolicy (`workload.serving.volcano.sh/v1alpha1`): what to measure and how fast to
 * react when scaling ModelServings.
 *
 * Two designs meet here, and both are accepted:
 * - the design the seed documents describe, where a policy holds metrics and behaviour and an
 *   {@linkcode ./autoscaling_policy_binding.ts AutoscalingPolicyBinding} says what it scales;
 * - upstream's later design, where the policy itself carries one target (`homogeneousTarget`,
 *   `heterogeneousTarget` or `disaggregatedTarget`).
 *
 * @module
 */
import { z } from "zod";
import type { V1LabelSelector, V1ObjectReference } from "@kubernetes/client-node";
import { conditionList, resourceSchema, WORKLOAD_GROUP } from "./common.ts";
import { duration, int32, int64, k8sType, quantity, withRules } from "./schema.ts";

/** AutoscalingPolicy's apiVersion. */
export const AUTOSCALING_POLICY_API_VERSION = `${WORKLOAD_GROUP}/v1alpha1` as const;

const withinThirtyMinutes = (field: string) => ({
  rule: `!has(self.${field}) || duration(self.${field}) <= duration('30m')`,
  message: `${field} must be between 0 and 30m`,
  fieldPath: `.${field}`,
});

/** Rate limits for stable scaling (scale-up's `stablePolicy`, and `scaleDown`). */
export const StablePolicy = withRules(
  z.object({
    instances: int32().min(0).default(1).describe("Most replicas added or removed per period."),
    percent: int32().min(0).max(1000).default(100).describe("Most change per period, in %."),
    period: duration().default("15s"),
    selectPolicy: z.enum(["Or", "And"]).default("Or")
      .describe("Or: either limit suffices; And: both limits apply."),
    stabilizationWindow: duration().optional(),
  }),
  [withinThirtyMinutes("period"), withinThirtyMinutes("stabilizationWindow")],
);

/** Rate limits while in panic mode (sudden load). */
export const PanicPolicy = withRules(
  z.object({
    percent: int32().min(0).max(1000).default(1000),
    period: duration(),
    panicThresholdPercent: int32().min(110).max(1000).default(200)
      .describe("Panic starts when recommended*100 >= current*panicThresholdPercent."),
    panicModeHold: duration().default("60s"),
  }),
  [withinThirtyMinutes("period"), withinThirtyMinutes("panicModeHold")],
);

/** How fast to scale up and down. */
export const Behavior = z.object({
  scaleUp: z.object({
    stablePolicy: StablePolicy.optional(),
    panicPolicy: PanicPolicy.optional(),
  }).optional(),
  scaleDown: StablePolicy.optional(),
});

const metricTargetRule = {
  rule: "quantity(string(self.targetValue)).isGreaterThan(quantity('0'))",
  message: "metric target value must be greater than 0",
  fieldPath: ".targetValue",
  check: (m: { targetValue: number | string }) => quantityIsPositive(m.targetValue),
};

/** A metric and the value per replica to keep it at. */
export const MetricTarget = withRules(
  z.object({
    name: z.string().min(1).max(253).describe("Metric name; metricSources keys refer to it."),
    targetValue: quantity(),
  }),
  [metricTargetRule],
);
/** A metric target. */
export type MetricTarget = z.output<typeof MetricTarget>;

/** A list of metric targets with unique names. */
export function metricList(): z.ZodType<MetricTarget[]> {
  return withRules(z.array(MetricTarget).max(16), [{
    rule: "self.all(m, self.exists_one(n, n.name == m.name))",
    message: "duplicate metric name is not allowed",
    check: (ms) => new Set(ms.map((m) => m.name)).size === ms.length,
  }]);
}

/** Where a metric comes from: the pods themselves, or a Prometheus query. */
export const MetricSource = withRules(
  z.object({
    type: z.enum(["Pod", "Prometheus"]).optional()
      .describe("Optional; must agree with the source configured (seed-document form)."),
    pod: z.object({
      name: z.string().optional().describe("Metric family to read; defaults to the metric key."),
      uri: z.string().regex(/^\//).default("/metrics"),
      port: int32().min(1).max(65535).default(8100),
      labelSelector: k8sType<V1LabelSelector>(
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
      ).optional(),
    }).optional(),
    prometheus: z.object({
      serverURL: z.string().min(1).regex(/^https?:\/\//, {
        message: "must start with http:// or https://",
      }),
      query: z.string().min(1).describe("PromQL instant query returning one value."),
      auth: z.object({}).optional(),
    }).optional(),
  }),
  [
    {
      rule: "has(self.pod) != has(self.prometheus)",
      message: "exactly one of pod or prometheus must be set",
      check: (s) => (s.pod === undefined) !== (s.prometheus === undefined),
    },
    {
      rule: "!has(self.type) || ((self.type == 'Pod') == has(self.pod))",
      message: "type must name the source that is set",
      fieldPath: ".type",
      check: (s) => s.type === undefined || (s.type === "Pod") === (s.pod !== undefined),
    },
  ],
);
/** A metric source. */
export type MetricSource = z.output<typeof MetricSource>;

/** Metric sources keyed by metric name. */
function metricSources(): z.ZodType<Record<string, MetricSource>> {
  return z.record(z.string(), MetricSource).meta({ maxProperties: 16 });
}

/** A reference to a ModelServing. */
export const TargetRef = withRules(
  k8sType<V1ObjectReference>("io.k8s.api.core.v1.ObjectReference"),
  [{
    rule: "(!has(self.kind) || size(self.kind) == 0 || self.kind == 'ModelServing') && " +
      "has(self.name) && size(self.name) > 0",
    message: "targetRef must name a ModelServing (kind empty or ModelServing, name set)",
    check: (r) => (!r.kind || r.kind === "ModelServing") && !!r.name,
  }],
);

/** What a homogeneous or heterogeneous target scales, and where its metrics come from. */
export const Target = z.object({
  targetRef: TargetRef,
  subTargets: z.object({ kind: z.enum(["Role"]), name: z.string().min(1) }).optional()
    .describe("Scale one role of the ModelServing instead of its serving groups."),
  metricSources: metricSources().optional(),
});
/** A target. */
export type Target = z.output<typeof Target>;

const minMaxRule = {
  rule: "self.minReplicas <= self.maxReplicas",
  message: "minReplicas must not exceed maxReplicas",
  fieldPath: ".minReplicas",
  check: (t: { minReplicas: number; maxReplicas: number }) => t.minReplicas <= t.maxReplicas,
};

/** Scales one ModelServing (or one of its roles) between bounds. */
export const HomogeneousTarget = withRules(
  z.object({
    target: Target,
    minReplicas: int32().min(0).max(1_000_000),
    maxReplicas: int32().min(1).max(1_000_000),
  }),
  [minMaxRule],
);

/** Splits one replica count over several ModelServings by cost. */
export const HeterogeneousTarget = z.object({
  params: z.array(withRules(
    z.object({
      target: Target,
      cost: int32().min(0).default(0).describe("Relative cost of one replica."),
      minReplicas: int32().min(0).max(1_000_000),
      maxReplicas: int32().min(1).max(1_000_000),
    }),
    [minMaxRule],
  )).min(1).max(16),
  costExpansionRatePercent: int32().min(0).default(200),
});

/** Scales the roles of a PD-disaggregated ModelServing, optionally keeping their ratio. */
export const DisaggregatedTarget = withRules(
  z.object({
    targetRef: TargetRef,
    roles: withRules(
      z.record(
        z.string().min(1),
        withRules(
          z.object({
            minReplicas: int32().min(0).max(1_000_000),
            maxReplicas: int32().min(1).max(1_000_000),
            metrics: metricList().optional(),
            metricSources: metricSources().optional(),
          }),
          [minMaxRule],
        ),
      ).meta({ minProperties: 1, maxProperties: 2 }),
      [{
        rule: "size(self) >= 1 && size(self) <= 2",
        message: "roles must have one or two entries",
        check: (r) => Object.keys(r).length >= 1 && Object.keys(r).length <= 2,
      }],
    ),
    ratioConstraint: withRules(
      z.object({
        numeratorRole: z.string().min(1),
        denominatorRole: z.string().min(1),
        minRatio: quantity(),
        maxRatio: quantity(),
      }),
      [{
        rule: "self.numeratorRole != self.denominatorRole",
        message: "numeratorRole and denominatorRole must differ",
        check: (r) => r.numeratorRole !== r.denominatorRole,
      }],
    ).optional(),
  }),
  [{
    rule: "!has(self.ratioConstraint) || size(self.roles) >= 2",
    message: "ratioConstraint needs two roles",
    fieldPath: ".ratioConstraint",
    check: (t) => t.ratioConstraint === undefined || Object.keys(t.roles).length >= 2,
  }],
);

/** AutoscalingPolicy's spec. */
export const AutoscalingPolicySpec = withRules(
  z.object({
    tolerancePercent: int32().min(0).max(100).default(10)
      .describe("No scaling while the metric is within this % of its target."),
    metrics: metricList().optional(),
    behavior: Behavior.optional(),
    homogeneousTarget: HomogeneousTarget.optional(),
    heterogeneousTarget: HeterogeneousTarget.optional(),
    disaggregatedTarget: DisaggregatedTarget.optional(),
  }),
  [
    {
      rule:
        "[has(self.homogeneousTarget), has(self.heterogeneousTarget), has(self.disaggregatedTarget)].filter(x, x).size() <= 1",
      message: "at most one of homogeneousTarget, heterogeneousTarget or disaggregatedTarget " +
        "may be set",
      check: (s) =>
        [s.homogeneousTarget, s.heterogeneousTarget, s.disaggregatedTarget]
          .filter((x) => x !== undefined).length <= 1,
    },
    {
      rule: "has(self.disaggregatedTarget) || (has(self.metrics) && size(self.metrics) > 0)",
      message: "metrics must be set unless disaggregatedTarget is used",
      fieldPath: ".metrics",
      check: (s) => s.disaggregatedTarget !== undefined || (s.metrics?.length ?? 0) > 0,
    },
  ],
);
/** AutoscalingPolicy's spec. */
export type AutoscalingPolicySpec = z.output<typeof AutoscalingPolicySpec>;

/** Replica counts of one scaled target. */
export const TargetScalingStatus = z.object({
  name: z.string().optional(),
  currentReplicas: int32(),
  desiredReplicas: int32(),
  mode: z.enum(["Stable", "Panic"]).optional(),
  lastScaleTime: z.string().meta({ format: "date-time" }).optional(),
});

/** AutoscalingPolicy's status. */
export const AutoscalingPolicyStatus = z.object({
  observedGeneration: int64().optional(),
  conditions: conditionList().optional(),
  homogeneousStatus: TargetScalingStatus.optional(),
  heterogeneousStatus: z.array(TargetScalingStatus).optional(),
  disaggregatedStatus: z.object({
    roles: z.array(TargetScalingStatus),
    ratioStatus: z.object({
      numeratorRole: z.string().optional(),
      denominatorRole: z.string().optional(),
      currentRatio: z.string().optional(),
    }).optional(),
    ratioAdjusted: z.boolean().optional(),
  }).optional(),
});

/** A whole AutoscalingPolicy object. */
export const AutoscalingPolicy = resourceSchema(
  AUTOSCALING_POLICY_API_VERSION,
  "AutoscalingPolicy",
  AutoscalingPolicySpec,
  AutoscalingPolicyStatus,
);
/** An AutoscalingPolicy. */
export type AutoscalingPolicy = z.output<typeof AutoscalingPolicy>;

/**
 * Whether a quantity string or number is greater than zero (`"100m"` yes, `"-1"` and `0` no).
 *
 * @example
 * ```ts
 * import { quantityIsPositive } from "./autoscaling_policy.ts";
 * quantityIsPositive("100m"); // true
 * ```
 */
export function quantityIsPositive(q: number | string): boolean {
  if (typeof q === "number") return q > 0;
  const m = q.trim().match(/^([+-]?)(\d*\.?\d*)/);
  if (!m) return false;
  return m[1] !== "-" && Number(m[2]) > 0;
}
