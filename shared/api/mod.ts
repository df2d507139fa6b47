/**
 * The typed model of Kthena's custom resources: zod schemas (parsing with the API server's
 * defaults and validation rules), the TypeScript types inferred from them, the registry of
 * kinds, and CRD generation.
 *
 * @example
 * ```ts
 * import { ModelRoute } from "@kthena/shared/api";
 * const route = ModelRoute.parse({
 *   apiVersion: "networking.serving.volcano.sh/v1alpha1",
 *   kind: "ModelRoute",
 *   metadata: { name: "qwen" },
 *   spec: { modelName: "Qwen/Qwen3-0.6B", rules: [{ targetModels: [{ modelServerName: "qwen" }] }] },
 * });
 * route.spec.rules[0]?.targetModels[0]?.weight; // 100, the default
 * ```
 *
 * @module
 */
export * from "./common.ts";
export * from "./schema.ts";
export * from "./model_serving.ts";
export * from "./model_booster.ts";
export * from "./autoscaling_policy.ts";
export * from "./autoscaling_policy_binding.ts";
export * from "./model_server.ts";
export * from "./model_route.ts";
export * from "./pod_group.ts";
export * from "./leader_worker_set.ts";
export * from "./resources.ts";
export * from "./crd.ts";
export * from "./parse.ts";
export * from "./int_or_percent.ts";
