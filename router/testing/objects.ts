/**
 * Builders of ModelRoute, ModelServer and Pod objects for tests and the demo (parsed through
 * the real schemas, so defaults apply as in a cluster).
 *
 * @module
 */
import type { z } from "zod";
import { ModelRoute, ModelRouteSpec, ModelServer, ModelServerSpec } from "@kthena/shared/api";
import type { Pod } from "../datastore/pod.ts";

const API_VERSION = "networking.serving.volcano.sh/v1alpha1";

/** Input of {@linkcode modelRoute}: the spec as written in YAML (defaults may be left out). */
export type RouteSpecInput = z.input<typeof ModelRouteSpec>;

/**
 * A ModelRoute.
 *
 * @example
 * ```ts
 * import { modelRoute } from "./objects.ts";
 * const r = modelRoute("r", { modelName: "m", rules: [{ targetModels: [{ modelServerName: "s" }] }] });
 * r.spec.rules[0]?.targetModels[0]?.weight; // 100
 * ```
 */
export function modelRoute(
  name: string,
  spec: RouteSpecInput,
  metadata: Record<string, unknown> = {},
): ModelRoute {
  return ModelRoute.parse({
    apiVersion: API_VERSION,
    kind: "ModelRoute",
    metadata: { name, namespace: "default", ...metadata },
    spec,
  });
}

/** Input of {@linkcode modelServer}. */
export type ServerSpecInput =
  & Omit<z.input<typeof ModelServerSpec>, "workloadPort" | "inferenceEngine">
  & Partial<Pick<z.input<typeof ModelServerSpec>, "workloadPort" | "inferenceEngine">>;

/**
 * A ModelServer (vLLM on port 8000 unless told otherwise).
 *
 * @example
 * ```ts
 * import { modelServer } from "./objects.ts";
 * modelServer("s", { workloadSelector: { matchLabels: { app: "m" } } }).spec.workloadPort.port; // 8000
 * ```
 */
export function modelServer(
  name: string,
  spec: ServerSpecInput,
  metadata: Record<string, unknown> = {},
): ModelServer {
  return ModelServer.parse({
    apiVersion: API_VERSION,
    kind: "ModelServer",
    metadata: { name, namespace: "default", ...metadata },
    spec: { inferenceEngine: "vLLM", workloadPort: { port: 8000 }, ...spec },
  });
}

/** Options of {@linkcode pod}. */
export interface PodInput {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ip?: string;
  ready?: boolean;
  namespace?: string;
  phase?: string;
}

/**
 * A Pod (Running, Ready, IP 127.0.0.1 unless told otherwise).
 *
 * @example
 * ```ts
 * import { pod } from "./objects.ts";
 * pod("p", { labels: { app: "m" }, ready: false }).status?.conditions?.[0]?.status; // "False"
 * ```
 */
export function pod(name: string, input: PodInput = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: input.namespace ?? "default",
      labels: input.labels ?? {},
      ...(input.annotations ? { annotations: input.annotations } : {}),
    },
    status: {
      phase: input.phase ?? "Running",
      ...(input.ip === "" ? {} : { podIP: input.ip ?? "127.0.0.1" }),
      conditions: [{ type: "Ready", status: input.ready === false ? "False" : "True" }],
    },
  };
}
