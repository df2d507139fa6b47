/**
 * The router's view of a Kubernetes Pod: the handful of fields it reads, typed so that a
 * `V1Pod` from `@kubernetes/client-node` (what an informer delivers) and a plain Pod JSON
 * object (what the file source reads) both fit, and the readiness rule upstream applies.
 *
 * @module
 */

/** A pod condition (`status.conditions[]`). */
export interface PodCondition {
  type: string;
  status: string;
}

/**
 * A Kubernetes Pod, reduced to what the router reads. Structurally compatible with `V1Pod`.
 *
 * @example
 * ```ts
 * import type { Pod } from "./pod.ts";
 * const pod: Pod = {
 *   metadata: { name: "p", namespace: "default", labels: { app: "m" } },
 *   status: { phase: "Running", podIP: "10.0.0.7", conditions: [{ type: "Ready", status: "True" }] },
 * };
 * ```
 */
export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: { [key: string]: string };
    annotations?: { [key: string]: string };
    deletionTimestamp?: unknown;
    creationTimestamp?: unknown;
  };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: PodCondition[];
  };
}

/**
 * Annotations the router reads on pods.
 *
 * @example
 * ```ts
 * import { PodAnnotations } from "./pod.ts";
 * const annotations = { [PodAnnotations.workloadPort]: "8001", [PodAnnotations.sglangBootstrapPort]: "9001" };
 * ```
 * Neither changes routing in a cluster where every pod
 * has its own IP; both let several engines share one address (a laptop, the tests).
 */
export const PodAnnotations = {
  /**
   * Overrides the ModelServer's `workloadPort.port` for this pod. Our extension: upstream always
   * uses the ModelServer's port.
   */
  workloadPort: "router.kthena.io/workload-port",
  /**
   * The SGLang bootstrap port of a prefill pod (SGLang Model Gateway's annotation); 8998, SGLang's
   * default, when absent.
   */
  sglangBootstrapPort: "sglang.ai/bootstrap-port",
} as const;

/** SGLang's default `--disaggregation-bootstrap-port`. */
export const SGLANG_DEFAULT_BOOTSTRAP_PORT = 8998;

/**
 * `namespace/name` of an object; the namespace defaults to `default`.
 *
 * @example
 * ```ts
 * import { objectKey } from "./pod.ts";
 * objectKey({ metadata: { name: "p" } }); // "default/p"
 * ```
 */
export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  return `${obj.metadata?.namespace || "default"}/${obj.metadata?.name ?? ""}`;
}

/**
 * Whether a pod may receive traffic, as upstream decides: phase `Running`, condition
 * `Ready=True`, not being deleted, and an IP.
 *
 * @example
 * ```ts
 * import { isPodReady } from "./pod.ts";
 * isPodReady({ status: { phase: "Running", podIP: "10.0.0.1", conditions: [{ type: "Ready", status: "True" }] } }); // true
 * isPodReady({ status: { phase: "Pending" } }); // false
 * ```
 */
export function isPodReady(pod: Pod): boolean {
  const status = pod.status;
  if (!status || status.phase !== "Running" || !status.podIP) return false;
  if (pod.metadata?.deletionTimestamp) return false;
  return status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/**
 * Parses a port-valued annotation; `undefined` when absent or not a port.
 *
 * @example
 * ```ts
 * import { annotationPort } from "./pod.ts";
 * annotationPort({ metadata: { annotations: { "sglang.ai/bootstrap-port": "9000" } } }, "sglang.ai/bootstrap-port"); // 9000
 * ```
 */
export function annotationPort(pod: Pod, annotation: string): number | undefined {
  const text = pod.metadata?.annotations?.[annotation];
  if (text === undefined) return undefined;
  const port = Number(text);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/**
 * Whether every `key: value` of `selector` is among `labels`. An empty selector matches.
 *
 * @example
 * ```ts
 * import { matchesLabels } from "./pod.ts";
 * matchesLabels({ app: "m", role: "decode" }, { app: "m" }); // true
 * ```
 */
export function matchesLabels(
  labels: Readonly<Record<string, string>> | undefined,
  selector: Readonly<Record<string, string>> | undefined,
): boolean {
  if (!selector) return true;
  for (const key in selector) {
    if (labels?.[key] !== selector[key]) return false;
  }
  return true;
}
