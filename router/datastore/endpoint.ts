/**
 * An endpoint: one ready pod of one ModelServer, with the address and port traffic goes to and
 * its prefill/decode role. Endpoints are immutable; the datastore replaces them on change, so a
 * request holding one keeps a consistent view.
 *
 * @module
 */
import type { Pod } from "./pod.ts";

/** Prefill/decode role of a pod within a PD group. */
export type PdRole = "prefill" | "decode";

/**
 * One routable pod.
 *
 * @example
 * ```ts
 * import { makeEndpoint } from "./endpoint.ts";
 * const e = makeEndpoint({ metadata: { name: "p", namespace: "ns" }, status: { podIP: "10.0.0.1" } }, 8000);
 * e.baseUrl; // "http://10.0.0.1:8000"
 * ```
 */
export interface Endpoint {
  /** `namespace/name` of the pod; the key of per-pod state (in-flight counts, metrics). */
  readonly key: string;
  /** Pod name. */
  readonly name: string;
  /** Pod namespace. */
  readonly namespace: string;
  /** Pod IP. */
  readonly address: string;
  /** Port traffic goes to. */
  readonly port: number;
  /** `http://address:port`, or `https://` for `workloadPort.protocol: https` (IPv6 bracketed). */
  readonly baseUrl: string;
  /** Pod labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** The pod object it was made from. */
  readonly pod: Pod;
  /** PD role, when the ModelServer has a `pdGroup` and the pod matches a role. */
  readonly role?: PdRole;
  /** Value of the `pdGroup.groupKey` label, when the pod has a role. */
  readonly pdGroup?: string;
}

/**
 * Builds an endpoint from a pod (which must have `status.podIP`).
 *
 * @example
 * ```ts
 * import { makeEndpoint } from "./endpoint.ts";
 * makeEndpoint({ metadata: { name: "p" }, status: { podIP: "::1" } }, 80).baseUrl; // "http://[::1]:80"
 * ```
 */
export function makeEndpoint(
  pod: Pod,
  port: number,
  pd?: { role: PdRole; group: string },
  scheme: "http" | "https" = "http",
): Endpoint {
  const address = pod.status?.podIP ?? "";
  const host = address.includes(":") ? `[${address}]` : address;
  const namespace = pod.metadata?.namespace || "default";
  const name = pod.metadata?.name ?? "";
  return {
    key: `${namespace}/${name}`,
    name,
    namespace,
    address,
    port,
    baseUrl: `${scheme}://${host}:${port}`,
    labels: pod.metadata?.labels ?? {},
    pod,
    ...(pd ? { role: pd.role, pdGroup: pd.group } : {}),
  };
}
