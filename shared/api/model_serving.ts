/**
 * ModelServing (`workload.serving.volcano.sh/v1alpha1`): a number of serving groups, each made
 * of roles (prefill, decode, …), each role replica an entry pod plus `workerReplicas` workers.
 *
 * Field names, defaults and enums follow upstream Kthena. Rules upstream enforced in its
 * admission webhook are CEL rules here where CEL can express them, so `kubectl apply` rejects
 * bad objects with a message naming the field even without the webhook.
 *
 * @module
 */
import { z } from "zod";
import { conditionList, PodTemplateSpec, resourceSchema, WORKLOAD_GROUP } from "./common.ts";
import { countOrPercent, freeForm, int32, int64, withRules } from "./schema.ts";
import { resolveIntOrPercent } from "./int_or_percent.ts";

/** ModelServing's apiVersion. */
export const MODEL_SERVING_API_VERSION = `${WORKLOAD_GROUP}/v1alpha1` as const;

/** A DNS-1035 label: lowercase letters, digits and `-`, starting with a letter. */
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Volcano's network topology constraint for a gang. */
export const NetworkTopologySpec = z.object({
  mode: z.enum(["hard", "soft"]).default("hard")
    .describe("hard: the gang must fit within highestTierAllowed; soft: best effort."),
  highestTierAllowed: z.int().min(0).optional(),
  highestTierName: z.string().max(253).optional(),
});
/** A network topology constraint. */
export type NetworkTopologySpec = z.output<typeof NetworkTopologySpec>;

/** A role of a serving group: `replicas` role replicas of one entry pod and its workers. */
export const Role = withRules(
  z.object({
    name: z.string().max(12).regex(DNS1035_LABEL, {
      message:
        "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter",
    }).describe("Role name, e.g. prefill or decode. Part of every pod name."),
    replicas: int32().min(0).default(1).describe("Role replicas per serving group (xPyD)."),
    entryTemplate: PodTemplateSpec.describe("Template of the entry (leader) pod."),
    // Upstream requires workerReplicas; the vLLM-Ascend guide's example omits it, and users were
    // promised that example works, so it defaults to 0 (a single-pod role replica).
    workerReplicas: int32().min(0).default(0)
      .describe("Worker pods per role replica, besides the entry."),
    workerTemplate: PodTemplateSpec.optional().describe("Template of the worker pods."),
    maxUnavailable: countOrPercent().default(1)
      .describe("Role replicas that may be unavailable during a RoleRollingUpdate."),
    partition: countOrPercent().optional()
      .describe("The first N role replicas keep the old revision (RoleRollingUpdate only)."),
  }),
  [{
    rule: "self.workerReplicas == 0 || has(self.workerTemplate)",
    message: "workerTemplate is required when workerReplicas > 0",
    fieldPath: ".workerTemplate",
    check: (r) => r.workerReplicas === 0 || r.workerTemplate !== undefined,
  }],
);
/** A role. */
export type Role = z.output<typeof Role>;

/** Gang scheduling policy of a serving group. */
export const GangPolicy = z.object({
  minRoleReplicas: withRules(z.record(z.string(), int32().min(0)).meta({ maxProperties: 4 }), [{
    rule: "self == oldSelf",
    message: "minRoleReplicas is immutable",
  }]).optional().describe("Minimum role replicas per role that must be schedulable together."),
});

/** The template of every serving group (upstream's `ServingGroup` type). */
export const ServingGroup = withRules(
  z.object({
    restartGracePeriodSeconds: int64().min(0).default(0)
      .describe("Seconds a failed pod may recover before it is rebuilt."),
    gangPolicy: GangPolicy.optional(),
    networkTopology: z.object({
      groupPolicy: NetworkTopologySpec.optional(),
      rolePolicy: NetworkTopologySpec.optional(),
    }).optional(),
    roles: withRules(z.array(Role).min(1).max(4), [{
      rule: "self.all(x, self.exists_one(y, y.name == x.name))",
      message: "roles name must be unique",
      check: (roles) => new Set(roles.map((r) => r.name)).size === roles.length,
    }]),
  }),
  [
    {
      rule: "!has(oldSelf.gangPolicy) || has(self.gangPolicy)",
      message: "gangPolicy is required once set",
    },
    {
      rule:
        "!has(self.gangPolicy) || !has(self.gangPolicy.minRoleReplicas) || self.gangPolicy.minRoleReplicas.all(k, self.roles.exists(r, r.name == k))",
      message: "gangPolicy.minRoleReplicas keys must be role names",
      fieldPath: ".gangPolicy.minRoleReplicas",
      check: (t) =>
        Object.keys(t.gangPolicy?.minRoleReplicas ?? {}).every((k) =>
          t.roles.some((r) => r.name === k)
        ),
    },
    {
      rule:
        "!has(self.gangPolicy) || !has(self.gangPolicy.minRoleReplicas) || self.roles.all(r, !(r.name in self.gangPolicy.minRoleReplicas) || self.gangPolicy.minRoleReplicas[r.name] <= r.replicas)",
      message: "gangPolicy.minRoleReplicas must not exceed the role's replicas",
      fieldPath: ".gangPolicy.minRoleReplicas",
      check: (t) =>
        t.roles.every((r) => (t.gangPolicy?.minRoleReplicas?.[r.name] ?? 0) <= r.replicas),
    },
  ],
);
/** A serving group template. */
export type ServingGroup = z.output<typeof ServingGroup>;

/** How new revisions roll out. */
export const RolloutStrategy = withRules(
  z.object({
    type: z.enum(["ServingGroupRollingUpdate", "RoleRollingUpdate"]).default(
      "ServingGroupRollingUpdate",
    ),
    rollingUpdateConfiguration: z.object({
      maxUnavailable: countOrPercent().default(1)
        .describe("Serving groups that may be unavailable during the update."),
      partition: countOrPercent().optional()
        .describe("The first N serving groups keep the old revision."),
    }).optional(),
  }),
  [{
    rule: "self.type != 'RoleRollingUpdate' || !has(self.rollingUpdateConfiguration)",
    message: "rollingUpdateConfiguration is forbidden when type is RoleRollingUpdate",
    fieldPath: ".rollingUpdateConfiguration",
    check: (s) => s.type !== "RoleRollingUpdate" || s.rollingUpdateConfiguration === undefined,
  }],
);
/** A rollout strategy. */
export type RolloutStrategy = z.output<typeof RolloutStrategy>;

/** A built-in plugin that mutates pods before creation. */
export const PluginSpec = z.object({
  name: z.string().min(1),
  type: z.enum(["BuiltIn"]).default("BuiltIn"),
  config: freeForm().optional(),
  scope: z.object({
    roles: z.array(z.string()).optional(),
    target: z.enum(["All", "Entry", "Worker"]).default("All"),
  }).optional(),
});
/** A plugin of `spec.plugins`. */
export type PluginSpec = z.output<typeof PluginSpec>;

/** The recovery policies: what is rebuilt when a pod fails. */
export const RecoveryPolicy = z.enum(["ServingGroupRecreate", "RoleRecreate", "None"]);

/**
 * CEL that resolves an int-or-percent field against a total, rounding down, the way
 * {@linkcode resolveIntOrPercent} does: `25%` of 10 is 2.
 */
function resolveCel(field: string, total: string): string {
  return `(type(${field}) == int ? int(${field}) : ` +
    `int(string(${field}).split('%')[0]) * ${total} / 100)`;
}

const isRoleRolling = (s: { rolloutStrategy?: RolloutStrategy | undefined }) =>
  s.rolloutStrategy?.type === "RoleRollingUpdate";

/** ModelServing's spec. */
export const ModelServingSpec = withRules(
  z.object({
    replicas: int32().min(0).default(1).describe("Number of serving groups."),
    schedulerName: z.string().default("volcano"),
    plugins: z.array(PluginSpec).optional(),
    template: ServingGroup,
    rolloutStrategy: RolloutStrategy.optional(),
    recoveryPolicy: RecoveryPolicy.default("RoleRecreate"),
  }),
  [
    {
      rule:
        "!(self.recoveryPolicy == 'ServingGroupRecreate' && has(self.rolloutStrategy) && self.rolloutStrategy.type == 'RoleRollingUpdate')",
      message: "recoveryPolicy ServingGroupRecreate cannot be used with RoleRollingUpdate",
      fieldPath: ".recoveryPolicy",
      check: (s) => !(s.recoveryPolicy === "ServingGroupRecreate" && isRoleRolling(s)),
    },
    {
      rule:
        "!has(self.rolloutStrategy) || !has(self.rolloutStrategy.rollingUpdateConfiguration) || " +
        resolveCel(
          "self.rolloutStrategy.rollingUpdateConfiguration.maxUnavailable",
          "self.replicas",
        ) +
        " > 0",
      message: "maxUnavailable cannot be 0",
      fieldPath: ".rolloutStrategy.rollingUpdateConfiguration.maxUnavailable",
      check: (s) =>
        s.rolloutStrategy?.rollingUpdateConfiguration === undefined ||
        resolveIntOrPercent(
            s.rolloutStrategy.rollingUpdateConfiguration.maxUnavailable,
            s.replicas,
            "down",
          ) >
          0,
    },
    {
      rule: "!has(self.rolloutStrategy) || self.rolloutStrategy.type != 'RoleRollingUpdate' || " +
        "self.template.roles.all(r, r.replicas == 0 || (" +
        resolveCel("r.maxUnavailable", "r.replicas") + " >= 1 && " +
        resolveCel("r.maxUnavailable", "r.replicas") + " <= r.replicas))",
      message: "a role's maxUnavailable must resolve to between 1 and its replicas",
      fieldPath: ".template.roles",
      check: (s) =>
        !isRoleRolling(s) || s.template.roles.every((r) => {
          const n = resolveIntOrPercent(r.maxUnavailable, r.replicas, "down");
          return r.replicas === 0 || (n >= 1 && n <= r.replicas);
        }),
    },
    {
      rule:
        "(has(self.rolloutStrategy) && self.rolloutStrategy.type == 'RoleRollingUpdate') || self.template.roles.all(r, !has(r.partition))",
      message: "a role partition is only allowed with rolloutStrategy.type RoleRollingUpdate",
      fieldPath: ".template.roles",
      check: (s) => isRoleRolling(s) || s.template.roles.every((r) => r.partition === undefined),
    },
  ],
);
/** ModelServing's spec. */
export type ModelServingSpec = z.output<typeof ModelServingSpec>;

/** ModelServing's status. */
export const ModelServingStatus = z.object({
  observedGeneration: int64().optional(),
  replicas: int32().optional().describe("Serving groups that exist."),
  currentReplicas: int32().optional().describe("Serving groups on currentRevision."),
  updatedReplicas: int32().optional().describe("Serving groups on updateRevision."),
  availableReplicas: int32().optional().describe("Serving groups that are ready."),
  currentRevision: z.string().optional(),
  updateRevision: z.string().optional(),
  conditions: conditionList().optional(),
  labelSelector: z.string().optional()
    .describe("Selects one pod per serving group, for the scale subresource."),
});
/** ModelServing's status. */
export type ModelServingStatus = z.output<typeof ModelServingStatus>;

/** A whole ModelServing object. */
export const ModelServing = resourceSchema(
  MODEL_SERVING_API_VERSION,
  "ModelServing",
  ModelServingSpec,
  ModelServingStatus,
  [{
    // Headless Services are named like entry pods, so the name must be a DNS-1035 label.
    rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message: "metadata.name must be a DNS-1035 label: lowercase letters, digits and '-', " +
      "starting with a letter",
    reportPath: ".metadata.name",
    check: (ms) => DNS1035_LABEL.test(ms.metadata.name ?? "a"),
  }, {
    // Every pod name `{ms}-{group}-{role}-{roleIdx}-{podIdx}` must stay a DNS-1035 label.
    rule:
      "self.spec.template.roles.all(r, size(self.metadata.name) + size(string(self.spec.replicas)) + size(r.name) + size(string(r.replicas)) + size(string(r.workerReplicas)) + 4 <= 63)",
    message: "metadata.name is too long: {name}-{replicas}-{role}-{roleReplicas}-" +
      "{workerReplicas} must fit in 63 characters",
    reportPath: ".metadata.name",
    check: (ms) =>
      ms.spec.template.roles.every((r) =>
        `${ms.metadata.name ?? ""}-${ms.spec.replicas}-${r.name}-${r.replicas}-${r.workerReplicas}`
          .length <= 63
      ),
  }],
);
/** A ModelServing. */
export type ModelServing = z.output<typeof ModelServing>;
