/**
 * OpenAI-style errors produced by the router itself: `{"error":{"message","type","param","code"}}`
 * with the HTTP status the situation calls for, and the `error_type` category upstream Kthena
 * uses in its access log and `kthena_router_requests_total`.
 *
 * @module
 */

/** Upstream Kthena's error categories (access log `error.type`, metric label `error_type`). */
export type ErrorCategory =
  | "request_parsing"
  | "route_not_found"
  | "pod_discovery"
  | "scheduling"
  | "proxy"
  | "upstream_timeout"
  | "upstream_response"
  | "client_closed"
  | "not_found"
  | "internal";

/** The body of an OpenAI error response. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

/** Options of {@linkcode RouterError}. */
export interface RouterErrorOptions {
  /** OpenAI `error.type`; derived from the status when omitted. */
  type?: string;
  /** OpenAI `error.param`. */
  param?: string | null;
  /** OpenAI `error.code`. */
  code?: string | null;
  /** Access-log / metric category. */
  category: ErrorCategory;
}

/**
 * An error the router answers with itself (as opposed to an engine's error it passes through).
 *
 * @example
 * ```ts
 * import { RouterError } from "./errors.ts";
 * const e = new RouterError(404, "model `x` not found", { code: "model_not_found", param: "model", category: "route_not_found" });
 * e.toResponse().status; // 404
 * ```
 */
export class RouterError extends Error {
  /** OpenAI `error.type`. */
  readonly type: string;
  /** OpenAI `error.param`. */
  readonly param: string | null;
  /** OpenAI `error.code`. */
  readonly code: string | null;
  /** Access-log / metric category. */
  readonly category: ErrorCategory;

  /**
   * @param status HTTP status of the answer.
   * @param message Human-readable message.
   * @param options Type, param, code and category.
   */
  constructor(readonly status: number, message: string, options: RouterErrorOptions) {
    super(message);
    this.name = "RouterError";
    this.type = options.type ?? errorTypeForStatus(status);
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.category = options.category;
  }

  /** The OpenAI error body. */
  toBody(): OpenAIErrorBody {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }

  /** A JSON response carrying {@linkcode RouterError.toBody}. */
  toResponse(headers?: HeadersInit): Response {
    const h = new Headers(headers);
    h.set("content-type", "application/json");
    return new Response(JSON.stringify(this.toBody()), { status: this.status, headers: h });
  }
}

/**
 * The OpenAI `error.type` conventionally used for a status.
 *
 * @example
 * ```ts
 * import { errorTypeForStatus } from "./errors.ts";
 * errorTypeForStatus(400); // "invalid_request_error"
 * errorTypeForStatus(503); // "service_unavailable_error"
 * ```
 */
export function errorTypeForStatus(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 503) return "service_unavailable_error";
  if (status === 504) return "timeout_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/**
 * Shorthands for the errors the request path raises.
 *
 * @example
 * ```ts
 * import { Errors } from "./errors.ts";
 * Errors.modelNotFound("gpt-x").status; // 404
 * ```
 */
export const Errors = {
  /** The body is not JSON. */
  invalidJson: (detail: string): RouterError =>
    new RouterError(400, `request body is not valid JSON: ${detail}`, {
      code: "invalid_json",
      category: "request_parsing",
    }),
  /** The body is JSON but not an object. */
  notAnObject: (): RouterError =>
    new RouterError(400, "request body must be a JSON object", {
      code: "invalid_request",
      category: "request_parsing",
    }),
  /** `model` is absent, not a string, or blank. */
  missingModel: (): RouterError =>
    new RouterError(400, "you must provide a model parameter", {
      param: "model",
      code: "missing_model",
      category: "request_parsing",
    }),
  /** The body exceeds the size limit. */
  bodyTooLarge: (limit: number): RouterError =>
    new RouterError(413, `request body exceeds ${limit} bytes`, {
      code: "request_too_large",
      category: "request_parsing",
    }),
  /** No ModelRoute serves the model (or none of its rules matched). */
  modelNotFound: (model: string): RouterError =>
    new RouterError(404, `the model \`${model}\` does not exist (route not found)`, {
      param: "model",
      code: "model_not_found",
      category: "route_not_found",
    }),
  /** The route's targets have no ready endpoint. */
  noReadyEndpoint: (detail: string): RouterError =>
    new RouterError(503, `no ready endpoint: ${detail}`, {
      code: "no_ready_endpoint",
      category: "pod_discovery",
    }),
  /** The scheduler left nothing to send to. */
  unschedulable: (detail: string): RouterError =>
    new RouterError(503, `can't schedule to target pod: ${detail}`, {
      code: "no_schedulable_endpoint",
      category: "scheduling",
    }),
  /** Every attempt failed without an answer from an engine. */
  upstreamUnavailable: (detail: string): RouterError =>
    new RouterError(502, `upstream request failed: ${detail}`, {
      code: "upstream_unavailable",
      category: "proxy",
    }),
  /** Every attempt timed out before the engine's response headers. */
  upstreamTimeout: (detail: string): RouterError =>
    new RouterError(504, `upstream timed out: ${detail}`, {
      code: "upstream_timeout",
      category: "upstream_timeout",
    }),
  /** The body nests arrays and objects deeper than the router parses. */
  tooDeep: (limit: number): RouterError =>
    new RouterError(400, `request body nests JSON deeper than ${limit} levels`, {
      code: "json_too_deep",
      category: "request_parsing",
    }),
  /** `stream_options` without `stream: true` (vLLM's validator and message). */
  streamOptionsWithoutStream: (): RouterError =>
    new RouterError(400, "Stream options can only be defined when `stream=True`.", {
      param: "stream_options",
      code: "invalid_stream_options",
      category: "request_parsing",
    }),
  /** The body could not be read to its end (truncated or malformed chunked encoding). */
  unreadableBody: (detail: string): RouterError =>
    new RouterError(400, `request body could not be read: ${detail}`, {
      code: "invalid_body",
      category: "request_parsing",
    }),
  /** The client went away before the router answered (nginx's 499). */
  clientClosed: (): RouterError =>
    new RouterError(499, "client closed the request", { category: "client_closed" }),
  /** A path the router does not proxy (engine admin endpoints, unless configured). */
  pathNotServed: (path: string): RouterError =>
    new RouterError(404, `${path} is not an inference endpoint served by this router`, {
      code: "not_found",
      category: "not_found",
    }),
  /** Unknown path or method. */
  notFound: (method: string, path: string): RouterError =>
    new RouterError(404, `no handler for ${method} ${path}`, {
      code: "not_found",
      category: "not_found",
    }),
} as const;
