/**
 * ModelRoute (`networking.serving.volcano.sh/v1alpha1`): maps the model a request names (or a
 * LoRA adapter) to ModelServers, through ordered rules with header/URI matches and weights.
 *
 * @module
 */
import { z } from "zod";
import { NETWORKING_GROUP, resourceSchema } from "./common.ts";
import { int32, withRules } from "./schema.ts";

/** ModelRoute's apiVersion. */
export const MODEL_ROUTE_API_VERSION = `${NETWORKING_GROUP}/v1alpha1` as const;

/** Matches a string exactly, by prefix or by (unanchored, RE2) regular expression. */
export const StringMatch = withRules(
  z.object({
    exact: z.string().max(1024).optional(),
    prefix: z.string().max(1024).optional(),
    regex: z.string().max(1024).optional(),
  }),
  [{
    rule: "[has(self.exact), has(self.prefix), has(self.regex)].filter(x, x).size() == 1",
    message: "exactly one of exact, prefix or regex must be set",
    check: (m) => [m.exact, m.prefix, m.regex].filter((x) => x !== undefined).length === 1,
  }],
);
/** A string match. */
export type StringMatch = z.output<typeof StringMatch>;

/** Conditions on a request; all given ones must hold. */
export const ModelMatch = z.object({
  headers: z.record(z.string(), StringMatch).meta({ maxProperties: 16 }).optional(),
  uri: StringMatch.optional(),
  body: z.object({ model: z.string().optional() }).optional(),
});
/** A model match. */
export type ModelMatch = z.output<typeof ModelMatch>;

/** A weighted backend of a rule. */
export const TargetModel = withRules(
  z.object({
    modelServerName: z.string().optional(),
    externalModelProviderName: z.string().optional(),
    weight: int32().min(0).max(100).default(100).describe("Relative weight among targets."),
  }),
  [{
    rule: "has(self.modelServerName) != has(self.externalModelProviderName)",
    message: "exactly one of modelServerName or externalModelProviderName must be set",
    check: (t) => (t.modelServerName === undefined) !== (t.externalModelProviderName === undefined),
  }],
);
/** A target model. */
export type TargetModel = z.output<typeof TargetModel>;

/** A routing rule; the first rule that matches wins. */
export const Rule = z.object({
  name: z.string().optional(),
  modelMatch: ModelMatch.optional(),
  targetModels: z.array(TargetModel).min(1).max(16),
});
/** A routing rule. */
export type Rule = z.output<typeof Rule>;

/** A Gateway API parent reference. */
export const ParentReference = z.object({
  group: z.string().max(253).default("gateway.networking.k8s.io"),
  kind: z.string().min(1).max(63).default("Gateway"),
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63).optional(),
  sectionName: z.string().min(1).max(253).optional(),
  port: int32().min(1).max(65535).optional(),
});

/** Token rate limits per route. */
export const RateLimit = z.object({
  inputTokensPerUnit: int32().min(1).optional(),
  outputTokensPerUnit: int32().min(1).optional(),
  unit: z.enum(["second", "minute", "hour", "day", "month"]).default("second"),
  global: z.object({
    redis: z.object({
      address: z.string().min(1).describe("host:port of the Redis server."),
    }).optional(),
  }).optional(),
});
/** A rate limit. */
export type RateLimit = z.output<typeof RateLimit>;

/** ModelRoute's spec. */
export const ModelRouteSpec = withRules(
  z.object({
    modelName: withRules(z.string(), [{
      rule: "self == oldSelf",
      message: "modelName is immutable",
    }]).optional(),
    loraAdapters: z.array(z.string().min(1)).max(10).optional(),
    parentRefs: z.array(ParentReference).optional(),
    rules: z.array(Rule).min(1).max(16),
    rateLimit: RateLimit.optional(),
  }),
  [{
    rule:
      "(has(self.modelName) && self.modelName != '') || (has(self.loraAdapters) && size(self.loraAdapters) > 0)",
    message: "ModelName and LoraAdapters cannot both be empty",
    check: (s) => !!s.modelName || (s.loraAdapters?.length ?? 0) > 0,
  }],
);
/** ModelRoute's spec. */
export type ModelRouteSpec = z.output<typeof ModelRouteSpec>;

/** A whole ModelRoute object. */
export const ModelRoute = resourceSchema(
  MODEL_ROUTE_API_VERSION,
  "ModelRoute",
  ModelRouteSpec,
  z.object({}),
);
/** A ModelRoute. */
export type ModelRoute = z.output<typeof ModelRoute>;
