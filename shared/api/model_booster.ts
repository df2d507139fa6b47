/**
 * ModelBooster (`workload.serving.volcano.sh/v1alpha1`): one object that describes a model and
 * its engine workers; the controller turns it into a ModelServing, a ModelServer, a ModelRoute
 * and, when `autoscalingPolicy` is given, an AutoscalingPolicy and its binding.
 *
 * Replica counts accept both forms users meet: upstream's fixed `backend.replicas`, and the
 * seed documents' `backend.minReplicas`/`maxReplicas` bounds (the ModelServing starts at
 * `replicas`, else `minReplicas`, else 1; an autoscaling policy moves it within the bounds).
 *
 * @module
 */
import { z } from "zod";
import type {
  V1Affinity,
  V1EnvFromSource,
  V1EnvVar,
  V1ResourceRequirements,
  V1Toleration,
} from "@kubernetes/client-node";
import { conditionList, resourceSchema, WORKLOAD_GROUP } from "./common.ts";
import { AutoscalingPolicySpec } from "./autoscaling_policy.ts";
import { ModelMatch } from "./model_route.ts";
import { freeForm, int32, int64, k8sList, k8sType, withRules } from "./schema.ts";

/** ModelBooster's apiVersion. */
export const MODEL_BOOSTER_API_VERSION = `${WORKLOAD_GROUP}/v1alpha1` as const;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsLabel = {
  message: "must be lowercase letters, digits and '-', alphanumeric at both ends",
};

/** Kinds of worker pools. */
export const WorkerType = z.enum(["server", "prefill", "decode", "controller", "coordinator"]);
/** A worker type. */
export type WorkerType = z.output<typeof WorkerType>;

/** A pool of engine workers. */
export const ModelWorker = z.object({
  type: WorkerType.default("server"),
  image: z.string().regex(/^\S+$/, { message: "must not contain whitespace" }).optional(),
  replicas: int32().min(0).max(1_000_000).default(1).describe("Role replicas of this worker."),
  pods: int32().min(0).max(1_000_000).default(1)
    .describe("Pods per replica; more than 1 runs a multi-node (Ray) server."),
  resources: k8sType<V1ResourceRequirements>("io.k8s.api.core.v1.ResourceRequirements")
    .optional(),
  affinity: k8sType<V1Affinity>("io.k8s.api.core.v1.Affinity").optional(),
  tolerations: k8sList<V1Toleration>("io.k8s.api.core.v1.Toleration").optional(),
  config: freeForm().optional().describe("Engine arguments; each key becomes --key value."),
});
/** A worker pool. */
export type ModelWorker = z.output<typeof ModelWorker>;

const countOf = (ws: ModelWorker[], t: WorkerType) => ws.filter((w) => w.type === t).length;

/** The engine backend of a model. */
export const ModelBackend = withRules(
  z.object({
    name: z.string().min(1).regex(DNS1123_LABEL, dnsLabel),
    type: z.enum(["vLLM", "vLLMDisaggregated"]),
    modelURI: z.string().regex(/^(hf:\/\/|s3:\/\/|obs:\/\/|pvc:\/\/|ms:\/\/).+/, {
      message: "must start with hf://, s3://, obs://, pvc:// or ms://",
    }),
    cacheURI: z.string().regex(/^(hostpath:\/\/|pvc:\/\/).+/, {
      message: "must start with hostpath:// or pvc://",
    }).optional(),
    envFrom: k8sList<V1EnvFromSource>("io.k8s.api.core.v1.EnvFromSource").optional(),
    env: k8sList<V1EnvVar>("io.k8s.api.core.v1.EnvVar", { mapKey: "name" }).optional(),
    replicas: int32().min(0).max(1_000_000).optional().describe("Serving groups."),
    minReplicas: int32().min(0).max(1_000_000).optional(),
    maxReplicas: int32().min(1).max(1_000_000).optional(),
    workers: z.array(ModelWorker).min(1).max(1000),
    schedulerName: z.string().optional(),
    runtimeClassName: z.string().optional(),
  }),
  [
    {
      rule:
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
      message: "minReplicas must not exceed maxReplicas",
      fieldPath: ".minReplicas",
      check: (b) =>
        b.minReplicas === undefined || b.maxReplicas === undefined ||
        b.minReplicas <= b.maxReplicas,
    },
    {
      rule: "self.type != 'vLLM' || (size(self.workers) == 1 && self.workers[0].type == 'server')",
      message: "a vLLM backend needs exactly one worker, of type server",
      fieldPath: ".workers",
      check: (b) =>
        b.type !== "vLLM" || (b.workers.length === 1 && b.workers[0]?.type === "server"),
    },
    {
      rule: "self.type != 'vLLMDisaggregated' || (self.workers.all(w, w.type == 'prefill' || " +
        "w.type == 'decode') && self.workers.exists_one(w, w.type == 'prefill') && " +
        "self.workers.exists_one(w, w.type == 'decode'))",
      message: "a vLLMDisaggregated backend needs exactly one prefill and one decode worker",
      fieldPath: ".workers",
      check: (b) =>
        b.type !== "vLLMDisaggregated" ||
        (b.workers.every((w) => w.type === "prefill" || w.type === "decode") &&
          countOf(b.workers, "prefill") === 1 && countOf(b.workers, "decode") === 1),
    },
  ],
);
/** A model backend. */
export type ModelBackend = z.output<typeof ModelBackend>;

/** ModelBooster's spec. */
export const ModelBoosterSpec = z.object({
  name: z.string().max(64).regex(DNS1123_LABEL, dnsLabel).optional()
    .describe("Model name clients use (ModelRoute modelName); defaults to metadata.name."),
  owner: z.string().optional(),
  backend: ModelBackend,
  modelMatch: ModelMatch.optional(),
  autoscalingPolicy: AutoscalingPolicySpec.optional()
    .describe("When set, an AutoscalingPolicy and binding scale the backend."),
});
/** ModelBooster's spec. */
export type ModelBoosterSpec = z.output<typeof ModelBoosterSpec>;

/** A whole ModelBooster object. */
export const ModelBooster = resourceSchema(
  MODEL_BOOSTER_API_VERSION,
  "ModelBooster",
  ModelBoosterSpec,
  z.object({
    conditions: conditionList().optional(),
    observedGeneration: int64().optional(),
  }),
);
/** A ModelBooster. */
export type ModelBooster = z.output<typeof ModelBooster>;
