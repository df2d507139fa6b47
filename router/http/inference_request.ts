/**
 * The inference request as the router reads it: the body parsed once, its `model`, and whether
 * the client asked for a stream.
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
 * Parses a request body.
 *
 * @throws {RouterError} 400 for invalid JSON, a non-object, or a missing or blank `model`.
 * @example
 * ```ts
 * import { parseInferenceRequest } from "./inference_request.ts";
 * parseInferenceRequest('{"model":"m","stream":true}').stream; // true
 * ```
 */
export function parseInferenceRequest(raw: string): InferenceRequest {
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
