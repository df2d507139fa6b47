/**
 * The one error type of the Kubernetes client layer: {@linkcode KubeError}, with the HTTP
 * status as `.code` and the API server's `Status` reason and message. Both the client-node
 * calls and our own fetch-based list/watch produce it, so callers test `e.code === 409` the
 * same way everywhere.
 *
 * @module
 */
import { ApiException } from "@kubernetes/client-node";

/** The `details` of a `metav1.Status`. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

/** An error answer of the API server (or a transport failure mapped to one). */
export class KubeError extends Error {
  /**
   * @param code HTTP status (404, 409, 410, 422, …).
   * @param message The API server's message.
   * @param reason `metav1.StatusReason`, e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Expired`.
   * @param details The Status details, when the server sent them.
   */
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string = "",
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

interface StatusLike {
  kind?: unknown;
  code?: unknown;
  reason?: unknown;
  message?: unknown;
  details?: unknown;
}

/**
 * Builds a KubeError from an HTTP status and a response body (a `metav1.Status` as JSON text
 * or object, or anything else).
 *
 * @example
 * ```ts
 * import { kubeErrorFrom } from "./errors.ts";
 * const e = kubeErrorFrom(404, '{"kind":"Status","reason":"NotFound","message":"x not found","code":404}');
 * e.code; // 404
 * e.reason; // "NotFound"
 * ```
 */
export function kubeErrorFrom(code: number, body: unknown): KubeError {
  let status: StatusLike | undefined;
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed === "object" && parsed !== null) status = parsed as StatusLike;
    } catch { /* not JSON: keep the text as the message */ }
  } else if (typeof body === "object" && body !== null) {
    status = body as StatusLike;
  }
  const message = typeof status?.message === "string"
    ? status.message
    : typeof body === "string" && body !== ""
    ? body.slice(0, 500)
    : `HTTP ${code}`;
  const reason = typeof status?.reason === "string" ? status.reason : "";
  const details = typeof status?.details === "object" && status.details !== null
    ? status.details as StatusDetails
    : undefined;
  const statusCode = typeof status?.code === "number" && status.code > 0 ? status.code : code;
  return new KubeError(statusCode, message, reason, details);
}

/**
 * Turns what a client-node call threw into a KubeError (API answers) or leaves it as it is
 * (network failures, bugs).
 *
 * @example
 * ```ts
 * import { toKubeError } from "./errors.ts";
 * try {
 *   throw new Error("socket hang up");
 * } catch (e) {
 *   toKubeError(e); // the same Error: no HTTP status to map
 * }
 * ```
 */
export function toKubeError(e: unknown): unknown {
  if (e instanceof KubeError) return e;
  if (e instanceof ApiException) return kubeErrorFrom(e.code, e.body);
  return e;
}

/**
 * Whether an error is a KubeError with one of the given codes.
 *
 * @example
 * ```ts
 * import { hasCode, KubeError } from "./errors.ts";
 * hasCode(new KubeError(409, "conflict"), 409); // true
 * ```
 */
export function hasCode(e: unknown, ...codes: number[]): e is KubeError {
  return e instanceof KubeError && codes.includes(e.code);
}

/**
 * 404 Not Found.
 *
 * @example
 * ```ts
 * import { isNotFound, KubeError } from "./errors.ts";
 * isNotFound(new KubeError(404, "gone")); // true
 * ```
 */
export function isNotFound(e: unknown): e is KubeError {
  return hasCode(e, 404);
}

/**
 * 409 Conflict: a stale resourceVersion, a failed precondition, or AlreadyExists.
 *
 * @example
 * ```ts
 * import { isConflict, KubeError } from "./errors.ts";
 * isConflict(new KubeError(409, "the object has been modified", "Conflict")); // true
 * ```
 */
export function isConflict(e: unknown): e is KubeError {
  return hasCode(e, 409);
}

/**
 * 409 with reason AlreadyExists (a create of an existing name).
 *
 * @example
 * ```ts
 * import { isAlreadyExists, KubeError } from "./errors.ts";
 * isAlreadyExists(new KubeError(409, "exists", "AlreadyExists")); // true
 * ```
 */
export function isAlreadyExists(e: unknown): e is KubeError {
  return hasCode(e, 409) && e.reason === "AlreadyExists";
}

/**
 * 410 Gone: a watch or list continuation from a resourceVersion etcd has compacted away.
 *
 * @example
 * ```ts
 * import { isGone, KubeError } from "./errors.ts";
 * isGone(new KubeError(410, "too old resource version", "Expired")); // true
 * ```
 */
export function isGone(e: unknown): e is KubeError {
  return hasCode(e, 410);
}
