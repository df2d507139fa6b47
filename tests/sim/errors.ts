/**
 * OpenAI-style errors as the engines return them.
 *
 * vLLM (current): `{"error": {"message", "type", "param", "code"}}` with `code` = HTTP status.
 * SGLang (vLLM's older shape): `{"object": "error", "message", "type", "param", "code"}`.
 *
 * @module
 */

import type { EngineKind } from "./options.ts";

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "BadRequestError",
  403: "PermissionDeniedError",
  404: "NotFoundError",
  409: "ConflictError",
  422: "UnprocessableEntityError",
  429: "RateLimitError",
  500: "InternalServerError",
  501: "NotImplementedError",
  503: "ServiceUnavailableError",
  504: "GatewayTimeoutError",
};

/**
 * An error that maps to an HTTP status and an OpenAI error body.
 *
 * @example
 * ```ts
 * import { SimHttpError } from "./errors.ts";
 * const e = new SimHttpError(404, "The model `x` does not exist.", "model");
 * console.log(e.status, e.type); // 404 "NotFoundError"
 * ```
 */
export class SimHttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** OpenAI error type (`BadRequestError`, …). */
  readonly type: string;
  /** Offending parameter, if any. */
  readonly param: string | null;

  /**
   * @param status HTTP status.
   * @param message Human-readable message.
   * @param param Offending parameter.
   * @param type Error type; derived from the status when omitted.
   */
  constructor(status: number, message: string, param: string | null = null, type?: string) {
    super(message);
    this.name = "SimHttpError";
    this.status = status;
    this.param = param;
    this.type = type ?? TYPE_BY_STATUS[status] ?? "InternalServerError";
  }
}

/** vLLM's error body. */
export interface VllmErrorBody {
  /** The error. */
  error: { message: string; type: string; param: string | null; code: number };
}

/** SGLang's error body. */
export interface SglangErrorBody {
  /** Always "error". */
  object: "error";
  /** Message. */
  message: string;
  /** Error type. */
  type: string;
  /** Offending parameter. */
  param: string | null;
  /** HTTP status. */
  code: number;
}

/**
 * Builds the error body of an engine flavour.
 *
 * @param engine `vllm` or `sglang`.
 * @param err The error.
 * @returns A JSON-serialisable body.
 *
 * @example
 * ```ts
 * import { errorBody, SimHttpError } from "./errors.ts";
 * console.log(errorBody("vllm", new SimHttpError(400, "bad")));
 * // { error: { message: "bad", type: "BadRequestError", param: null, code: 400 } }
 * ```
 */
export function errorBody(engine: EngineKind, err: SimHttpError): VllmErrorBody | SglangErrorBody {
  if (engine === "sglang") {
    return {
      object: "error",
      message: err.message,
      type: err.type,
      param: err.param,
      code: err.status,
    };
  }
  return { error: { message: err.message, type: err.type, param: err.param, code: err.status } };
}

/**
 * Builds a JSON error response.
 *
 * @param engine Engine flavour.
 * @param err The error.
 * @param headers Extra headers.
 * @returns The response.
 *
 * @example
 * ```ts
 * import { errorResponse, SimHttpError } from "./errors.ts";
 * const res = errorResponse("vllm", new SimHttpError(429, "slow down"));
 * console.log(res.status); // 429
 * await res.body?.cancel();
 * ```
 */
export function errorResponse(
  engine: EngineKind,
  err: SimHttpError,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(errorBody(engine, err)), {
    status: err.status,
    headers: { "content-type": "application/json", ...headers },
  });
}
