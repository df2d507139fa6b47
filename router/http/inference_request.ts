/**
 * The inference request as the router reads it: the body parsed once, its `model`, and whether
 * the client asked for a stream.
 *
 * Bodies nesting arrays and objects deeper than {@linkcode MAX_JSON_DEPTH} are refused before
 * they are parsed, by a scan that cannot overflow the stack: parsing (with a reviver) and the
 * rewrites (`JSON.stringify`) recurse once per level.
 *
 * @module
 */
import type { JsonObject } from "../proxy/bodies.ts";
import { parseJsonLossless } from "../proxy/lossless_json.ts";
import { Errors } from "./errors.ts";

/** A parsed inference request body. */
export interface InferenceRequest {
  /** The body as received (forwarded as it is when nothing needs rewriting). */
  readonly raw: string;
  /** The parsed body; never mutated. */
  readonly body: JsonObject;
  /** The body's `model`. */
  readonly model: string;
  /** `stream: true` in the body. */
  readonly stream: boolean;
}

/**
 * Deepest nesting of arrays and objects the router accepts (the top-level object is level 1).
 * serde_json's default recursion limit, below what the engines tolerate (pydantic-core's
 * recursion guard is 255 levels, jiter's 200), and far above real requests: tool schemas and
 * content parts stay within a few tens of levels.
 *
 * @example
 * ```ts
 * import { MAX_JSON_DEPTH } from "./inference_request.ts";
 * MAX_JSON_DEPTH; // 128
 * ```
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Whether JSON text nests arrays and objects deeper than `limit`. A linear scan with no
 * recursion (string contents are skipped with `indexOf`); the text need not be valid JSON.
 *
 * @example
 * ```ts
 * import { jsonDepthExceeds } from "./inference_request.ts";
 * jsonDepthExceeds('{"a":[[1]]}', 2); // true
 * jsonDepthExceeds('{"a":"[[[[["}', 2); // false
 * ```
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  const structural = /["[\]{}]/g;
  let depth = 0;
  let m: RegExpExecArray | null;
  while ((m = structural.exec(text)) !== null) {
    const c = text.charCodeAt(m.index);
    if (c === 0x22) {
      // Skip the string: its end is the next quote not escaped by an odd run of backslashes.
      let end = m.index;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return false; // unterminated: the parser reports it
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      structural.lastIndex = end + 1;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else depth--;
  }
  return false;
}

/**
 * Parses a request body.
 *
 * @throws {RouterError} 400 for nesting deeper than {@linkcode MAX_JSON_DEPTH}, invalid JSON, a
 * non-object, or a missing or blank `model`.
 * @example
 * ```ts
 * import { parseInferenceRequest } from "./inference_request.ts";
 * parseInferenceRequest('{"model":"m","stream":true}').stream; // true
 * ```
 */
export function parseInferenceRequest(raw: string): InferenceRequest {
  if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) throw Errors.tooDeep(MAX_JSON_DEPTH);
  let body: unknown;
  try {
    body = parseJsonLossless(raw);
  } catch (e) {
    throw Errors.invalidJson((e as Error).message);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw Errors.notAnObject();
  const model = (body as JsonObject).model;
  if (typeof model !== "string" || model.trim() === "") throw Errors.missingModel();
  return { raw, body: body as JsonObject, model, stream: (body as JsonObject).stream === true };
}

/** Python's truthiness of a JSON value, as vLLM's validators test fields. */
function pythonTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string" || Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/**
 * Paths {@linkcode validateInferenceRequest} checks (vLLM's chat and completions request models
 * reject `stream_options` without `stream`).
 *
 * @example
 * ```ts
 * import { VALIDATED_PATHS } from "./inference_request.ts";
 * VALIDATED_PATHS.has("/v1/embeddings"); // false
 * ```
 */
export const VALIDATED_PATHS: ReadonlySet<string> = new Set([
  "/v1/chat/completions",
  "/v1/completions",
]);

/**
 * Checks what vLLM checks before anything runs, so a prefill is not spent on a request its
 * decode will refuse: on chat and completions, `stream_options` (when truthy) needs a truthy
 * `stream` (vLLM's `validate_stream_options`: "Stream options can only be defined when
 * `stream=True`.").
 *
 * @throws {RouterError} 400 when the request is invalid.
 * @example
 * ```ts
 * import { validateInferenceRequest } from "./inference_request.ts";
 * validateInferenceRequest("/v1/chat/completions", { model: "m", stream: true, stream_options: { include_usage: true } });
 * ```
 */
export function validateInferenceRequest(path: string, body: JsonObject): void {
  if (!VALIDATED_PATHS.has(path)) return;
  if (pythonTruthy(body.stream_options) && !pythonTruthy(body.stream)) {
    throw Errors.streamOptionsWithoutStream();
  }
}
