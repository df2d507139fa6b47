/**
 * Parsing plain Kubernetes Pod objects (`apiVersion: v1`, `kind: Pod`, as `kubectl get pod -o
 * yaml` prints them) into the router's {@linkcode Pod}, with errors that name the field. Only
 * the fields the router reads are checked; the rest of the object is ignored.
 *
 * @module
 */
import { z } from "zod";
import { formatIssues, ResourceValidationError } from "@kthena/shared/api";
import type { Pod } from "../datastore/pod.ts";

const stringMap = z.record(z.string(), z.string());

const PodSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Pod"),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    uid: z.string().optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    deletionTimestamp: z.unknown().optional(),
    creationTimestamp: z.unknown().optional(),
  }),
  status: z.looseObject({
    phase: z.string().optional(),
    podIP: z.string().optional(),
    conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).optional(),
  }).optional(),
});

/**
 * Whether an object claims to be a Pod (`apiVersion: v1`, `kind: Pod`).
 *
 * @example
 * ```ts
 * import { isPodObject } from "./pod_object.ts";
 * isPodObject({ apiVersion: "v1", kind: "Pod" }); // true
 * ```
 */
export function isPodObject(value: unknown): boolean {
  const v = value as { apiVersion?: unknown; kind?: unknown } | null;
  return v?.kind === "Pod" && (v.apiVersion === "v1" || v.apiVersion === undefined);
}

/**
 * Parses a Pod.
 *
 * @throws {ResourceValidationError} naming each invalid field.
 * @example
 * ```ts
 * import { parsePod } from "./pod_object.ts";
 * const pod = parsePod({
 *   apiVersion: "v1",
 *   kind: "Pod",
 *   metadata: { name: "engine-0", labels: { app: "m" } },
 *   status: { phase: "Running", podIP: "10.0.0.1", conditions: [{ type: "Ready", status: "True" }] },
 * });
 * pod.status?.podIP; // "10.0.0.1"
 * ```
 */
export function parsePod(value: unknown): Pod {
  const result = PodSchema.safeParse(value);
  if (result.success) return result.data as Pod;
  const name = (value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  throw new ResourceValidationError(
    `Pod ${JSON.stringify(String(name ?? ""))}`,
    formatIssues(result.error),
  );
}
