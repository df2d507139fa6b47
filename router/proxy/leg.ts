/**
 * One HTTP request from the router to an engine (a "leg": the only one in aggregated serving,
 * the prefill or the decode in PD), with the ModelServer's timeout until response headers, and
 * the failure classification retries are decided on.
 *
 * @module
 */
import type { Endpoint } from "../datastore/endpoint.ts";
import type { HeaderPairs } from "./forward_headers.ts";

/** Why a leg or an attempt failed. */
export type FailureKind =
  /** No response: connection refused/reset, DNS, or the stream broke before the first byte. */
  | "connect"
  /** No response headers within the ModelServer's `trafficPolicy.timeout`. */
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
  /** Milliseconds allowed until the response headers; none when undefined. */
  timeoutMs: number | undefined;
}

class TimeoutReason extends Error {
  constructor() {
    super("timeout");
    this.name = "TimeoutError";
  }
}

/**
 * Sends a leg and waits for the response headers. Resolves with any response (2xx or not);
 * rejects with a {@linkcode LegError} when there is none.
 *
 * @example
 * ```ts ignore
 * import { sendLeg } from "./leg.ts";
 * const res = await sendLeg({ leg: "engine", endpoint, path: "/v1/completions", headers, body, signal, timeoutMs: 10_000 });
 * ```
 */
export async function sendLeg(req: LegRequest): Promise<Response> {
  let signal = req.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timeout: AbortController | undefined;
  if (req.timeoutMs !== undefined && req.timeoutMs > 0) {
    timeout = new AbortController();
    const t = timeout;
    timer = setTimeout(() => t.abort(new TimeoutReason()), req.timeoutMs);
    signal = AbortSignal.any([req.signal, t.signal]);
  }
  try {
    return await fetch(req.endpoint.baseUrl + req.path, {
      method: "POST",
      headers: req.headers,
      body: req.body,
      signal,
    });
  } catch (e) {
    const base = { leg: req.leg, endpoint: req.endpoint };
    if (req.signal.aborted) {
      throw new LegError({ ...base, kind: "aborted", message: "aborted" });
    }
    if (timeout?.signal.aborted) {
      throw new LegError({
        ...base,
        kind: "timeout",
        message: `no response headers from ${req.endpoint.key} within ${req.timeoutMs} ms`,
      });
    }
    throw new LegError({
      ...base,
      kind: "connect",
      message: `${req.endpoint.key} (${req.endpoint.baseUrl}): ${(e as Error).message}`,
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
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
    return await res.text();
  } catch (e) {
    const kind = signal.aborted ? "aborted" : "connect";
    throw new LegError({
      kind,
      leg,
      endpoint,
      message: kind === "aborted" ? "aborted" : `${endpoint.key}: body: ${(e as Error).message}`,
    });
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
    body = await res.text();
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
