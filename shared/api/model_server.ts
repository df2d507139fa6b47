/**
 * ModelServer (`networking.serving.volcano.sh/v1alpha1`): which pods serve a model, on which
 * port, how to pair prefill and decode pods, and how KV cache moves between them.
 *
 * @module
 */
import { z } from "zod";
import { NETWORKING_GROUP, resourceSchema } from "./common.ts";
import { duration, int32, stringMap, withRules } from "./schema.ts";

/** ModelServer's apiVersion. */
export const MODEL_SERVER_API_VERSION = `${NETWORKING_GROUP}/v1alpha1` as const;

/** The inference engines the router knows the wire protocol of. */
export const InferenceEngine = z.enum(["vLLM", "SGLang"]);
/** An inference engine. */
export type InferenceEngine = z.output<typeof InferenceEngine>;

/**
 * KV connector types. `sglang` is not in upstream's enum (upstream picks it implicitly for
 * SGLang engines); we accept it explicitly too.
 */
export const KvConnectorType = z.enum(["http", "lmcache", "nixl", "mooncake", "sglang"]);
/** A KV connector type. */
export type KvConnectorType = z.output<typeof KvConnectorType>;

/** How prefill and decode pods are grouped and told apart. */
export const PdGroup = z.object({
  groupKey: z.string().min(1)
    .describe("Label whose value identifies a PD group; prefill and decode pair within one."),
  prefillLabels: stringMap().describe("Labels that mark a prefill pod."),
  decodeLabels: stringMap().describe("Labels that mark a decode pod."),
});
/** A PD group definition. */
export type PdGroup = z.output<typeof PdGroup>;

/** Selects the pods of a ModelServer (in its namespace). */
export const WorkloadSelector = withRules(
  z.object({
    matchLabels: stringMap().optional(),
    pdGroup: PdGroup.optional(),
  }),
  [{
    rule: "has(self.matchLabels) && size(self.matchLabels) > 0",
    message: "matchLabels must have at least one label",
    fieldPath: ".matchLabels",
    check: (s) => Object.keys(s.matchLabels ?? {}).length > 0,
  }],
);
/** A workload selector. */
export type WorkloadSelector = z.output<typeof WorkloadSelector>;

/** Timeouts and retries towards the engines. */
export const TrafficPolicy = z.object({
  timeout: duration().optional().describe("Time allowed until the engine's response headers."),
  retry: z.object({
    attempts: int32().min(0).optional().describe("Attempts after the first one."),
    retryInterval: duration().default("100ms"),
  }).optional(),
});
/** A traffic policy. */
export type TrafficPolicy = z.output<typeof TrafficPolicy>;

/** ModelServer's spec. */
export const ModelServerSpec = z.object({
  model: z.string().max(256).optional()
    .describe("Model name sent to the engine; replaces the request's model (LoRA excepted)."),
  inferenceEngine: InferenceEngine,
  workloadSelector: WorkloadSelector,
  workloadPort: z.object({
    port: int32().min(1).max(65535),
    protocol: z.enum(["http", "https"]).default("http"),
  }),
  trafficPolicy: TrafficPolicy.optional(),
  kvConnector: z.object({
    type: KvConnectorType.default("http"),
  }).optional(),
});
/** ModelServer's spec. */
export type ModelServerSpec = z.output<typeof ModelServerSpec>;

/** A whole ModelServer object. */
export const ModelServer = resourceSchema(
  MODEL_SERVER_API_VERSION,
  "ModelServer",
  ModelServerSpec,
  z.object({}),
);
/** A ModelServer. */
export type ModelServer = z.output<typeof ModelServer>;
