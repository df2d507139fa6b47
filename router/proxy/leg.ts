/**
 * One HTTP request from the router to an engine (a "leg": the only one in aggregated serving,
 * the prefill or the decode in PD), with its timeouts, and the failure classification retries
 * are decided on.
 *
 * @module
 */
import type { Endpoint } from "../datastore/endpoint.ts";
import { type EngineClient, LegTimeoutError, type LegTimeouts } from "./engine_client.ts";
import type { HeaderPairs } from "./forward_headers.ts";
import { bodyText } from "./push_body.ts";

/** Why a leg or an attempt failed. */
export type FailureKind =
  /** No response: connection refused/reset, DNS, or the stream broke before the first byte. */
  | "connect"
  /** No first body byte in time, or the body stalled (see `engine_client.ts`). */
  | "timeout"
  /** The engine answered with a non-2xx status. */
  | "status"
  /** The client went away. */
  | "aborted";

/**
 * A failed leg or attempt.
 *
 * @example
 * ```ts
 * import type { Failure } from "./leg.ts";
 * const f: Failure = { kind: "status", status: 503, leg: "decode", endpoint: {} as never, message: "busy" };
 * ```
 */
export interface Failure {
  readonly kind: FailureKind;
  /** Human-readable cause. */
  readonly message: string;
  /** Which leg failed (`prefill`, `decode`, or `engine` in aggregated serving). */
  readonly leg: "prefill" | "decode" | "engine";
  /** The endpoint the leg went to. */
  readonly endpoint: Endpoint;
  /** The engine's status, for `status` failures. */
  readonly status?: number;
  /** The engine's body (truncated), for `status` failures. */
  readonly body?: string;
  /** The engine's content type, for `status` failures. */
  readonly contentType?: string;
}

/** Largest error body kept from an engine. */
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Whether another attempt may help: connection errors, timeouts, 5xx and 429 (the pair or pod is
 * replaced). Other 4xx are the client's problem and go back to it as they are.
 *
 * @example
 * ```ts
 * import { isRetryable } from "./leg.ts";
 * isRetryable({ kind: "status", status: 429 } as never); // true
 * isRetryable({ kind: "status", status: 400 } as never); // false
 * ```
 */
export function isRetryable(failure: Failure): boolean {
  switch (failure.kind) {
    case "connect":
    case "timeout":
      return true;
    case "status":
      return failure.status === 429 || (failure.status ?? 0) >= 500;
    case "aborted":
      return false;
  }
}

/**
 * Thrown by {@linkcode sendLeg}; carries the {@linkcode Failure}.
 *
 * @example
 * ```ts
 * import { isRetryable, LegError } from "./leg.ts";
 * const e = new LegError({ kind: "timeout", leg: "engine", endpoint: {} as never, message: "slow" });
 * isRetryable(e.failure); // true
 * ```
 */
export class LegError extends Error {
  /** @param failure What went wrong. */
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = "LegError";
  }
}

/** What {@linkcode sendLeg} sends. */
export interface LegRequest {
  /** Which leg this is. */
  leg: Failure["leg"];
  /** The engine client (its connection pool). */
  client: EngineClient;
  /** Target. */
  endpoint: Endpoint;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  /** Headers to send. */
  headers: HeaderPairs;
  /** JSON body text. */
  body: string;
  /** Aborts the leg (client gone, or the other leg failed). */
  signal: AbortSignal;
  /** Time to the first body byte, and between chunks. */
  timeouts: LegTimeouts;
}

/**
 * The failure a broken leg (or leg body) stands for: a timeout, the client leaving (`signal`
 * fired), or else no usable answer (`connect`).
 *
 * @example
 * ```ts
 * import { failureOfError } from "./leg.ts";
 * import { LegTimeoutError } from "./engine_client.ts";
 * failureOfError(new LegTimeoutError("firstByte", 10), "engine", {} as never, AbortSignal.abort()).kind; // "aborted"
 * ```
 */
export function failureOfError(
  e: unknown,
  leg: Failure["leg"],
  endpoint: Endpoint,
  signal: AbortSignal,
  context = "",
): Failure {
  if (e instanceof LegError) return e.failure;
  const base = { leg, endpoint };
  if (signal.aborted) return { ...base, kind: "aborted", message: "aborted" };
  if (e instanceof LegTimeoutError) {
    return { ...base, kind: "timeout", message: `${endpoint.key}: ${e.message}` };
  }
  return {
    ...base,
    kind: "connect",
    message: `${endpoint.key} (${endpoint.baseUrl}): ${context}${(e as Error)?.message ?? e}`,
  };
}

/**
 * Sends a leg and waits for the response headers. Resolves with any response (2xx or not);
 * rejects with a {@linkcode LegError} when there is none.
 *
 * @example
 * ```ts ignore
 * import { sendLeg } from "./leg.ts";
 * const res = await sendLeg({ leg: "engine", client, endpoint, path: "/v1/completions", headers, body, signal, timeouts: { firstByteMs: 10_000 } });
 * ```
 */
export async function sendLeg(req: LegRequest): Promise<Response> {
  try {
    return await req.client.request(req);
  } catch (e) {
    throw new LegError(failureOfError(e, req.leg, req.endpoint, req.signal));
  }
}

/**
 * Reads a whole response body as text; a broken body becomes a `connect` failure (or `aborted`
 * when `signal` fired).
 *
 * @example
 * ```ts ignore
 * import { readLegText } from "./leg.ts";
 * const text = await readLegText(res, "prefill", endpoint, signal);
 * ```
 */
export async function readLegText(
  res: Response,
  leg: Failure["leg"],
  endpoint: Endpoint,
  signal: AbortSignal,
): Promise<string> {
  try {
    return await bodyText(res);
  } catch (e) {
    throw new LegError(failureOfError(e, leg, endpoint, signal, "body: "));
  }
}

/**
 * Turns a non-2xx engine response into a `status` failure, keeping (at most 64 KiB of) its body.
 *
 * @example
 * ```ts ignore
 * import { statusFailure } from "./leg.ts";
 * if (!res.ok) throw new LegError(await statusFailure(res, "engine", endpoint));
 * ```
 */
export async function statusFailure(
  res: Response,
  leg: Failure["leg"],
  endpoint: Endpoint,
): Promise<Failure> {
  let body = "";
  try {
    body = await bodyText(res);
  } catch {
    // The status is what matters; a broken error body is dropped.
  }
  if (body.length > ERROR_BODY_LIMIT) body = body.slice(0, ERROR_BODY_LIMIT);
  return {
    kind: "status",
    leg,
    endpoint,
    status: res.status,
    body,
    contentType: res.headers.get("content-type") ?? "application/json",
    message: `${endpoint.key} answered ${res.status}`,
  };
}
