/**
 * Request-body rewrites. The client body is parsed once; each rewrite returns a shallow copy
 * and never mutates its input, so retries and both PD legs start from the same object.
 *
 * @module
 */

/** A parsed JSON request body. */
export type JsonObject = Record<string, unknown>;

/**
 * Replaces `model` (the ModelServer's `spec.model`); returns the input when nothing changes.
 *
 * @example
 * ```ts
 * import { withModel } from "./bodies.ts";
 * withModel({ model: "alias" }, "Qwen/Qwen3-8B").model; // "Qwen/Qwen3-8B"
 * ```
 */
export function withModel(body: JsonObject, model: string | undefined): JsonObject {
  return model === undefined || body.model === model ? body : { ...body, model };
}

/**
 * For a streaming request, asks the engine for the final usage chunk so tokens are always
 * counted: sets `stream_options.include_usage` (keeping the client's other stream options;
 * upstream replaces the object). `injected` tells the response relay to drop that chunk, which
 * the client did not ask for. vLLM sends `continuous_usage_stats` (usage on every chunk) only
 * with `include_usage` (`include_continuous_usage = include_usage and continuous_usage_stats`),
 * so a client that asked for it without `include_usage` gets none; when injecting for vLLM, it
 * is turned off so the client still gets none. SGLang sends per-chunk usage whenever
 * `continuous_usage_stats` is set, so for `engine: "SGLang"` it is left as the client sent it.
 * Non-streaming responses carry `usage` anyway; nothing is added (upstream adds a
 * non-standard top-level `include_usage`).
 *
 * @example
 * ```ts
 * import { withStreamUsage } from "./bodies.ts";
 * withStreamUsage({ stream: true }); // { body: { stream: true, stream_options: { include_usage: true } }, injected: true }
 * withStreamUsage({ stream: true, stream_options: { include_usage: true } }).injected; // false
 * withStreamUsage({ stream: true, stream_options: { continuous_usage_stats: true } }).body.stream_options;
 * // { continuous_usage_stats: false, include_usage: true }
 * withStreamUsage({ stream: true, stream_options: { continuous_usage_stats: true } }, "SGLang").body.stream_options;
 * // { continuous_usage_stats: true, include_usage: true }
 * ```
 */
export function withStreamUsage(
  body: JsonObject,
  engine: string = "vLLM",
): { body: JsonObject; injected: boolean } {
  if (body.stream !== true) return { body, injected: false };
  const options = body.stream_options;
  const current = options !== null && typeof options === "object" && !Array.isArray(options)
    ? options as JsonObject
    : {};
  if (current.include_usage === true) return { body, injected: false };
  const injected: JsonObject = { ...current, include_usage: true };
  if (current.continuous_usage_stats !== undefined && engine !== "SGLang") {
    injected.continuous_usage_stats = false;
  }
  return { body: { ...body, stream_options: injected }, injected: true };
}

/**
 * The prefill leg's body: no streaming, one output token (`max_tokens`, and
 * `max_completion_tokens` when the client sent it), and no `min_tokens` /
 * `min_completion_tokens` (a prefill engine cannot honour them; vLLM's proxy drops them too).
 *
 * @example
 * ```ts
 * import { prefillBody } from "./bodies.ts";
 * prefillBody({ model: "m", stream: true, max_tokens: 64 }); // { model: "m", max_tokens: 1 }
 * ```
 */
export function prefillBody(body: JsonObject): JsonObject {
  const out: JsonObject = { ...body };
  delete out.stream;
  delete out.stream_options;
  delete out.min_tokens;
  delete out.min_completion_tokens;
  out.max_tokens = 1;
  if (out.max_completion_tokens !== undefined && out.max_completion_tokens !== null) {
    out.max_completion_tokens = 1;
  }
  return out;
}

/**
 * Serialises `body` and appends top-level fields given as raw JSON text. Used for values
 * `JSON.stringify` cannot write exactly, such as 63-bit integers (SGLang's `bootstrap_room`).
 *
 * @example
 * ```ts
 * import { stringifyWithRawFields } from "./bodies.ts";
 * stringifyWithRawFields({ model: "m" }, { bootstrap_room: "9223372036854775807" });
 * // '{"model":"m","bootstrap_room":9223372036854775807}'
 * ```
 */
export function stringifyWithRawFields(body: JsonObject, raw: Record<string, string>): string {
  const rest: JsonObject = { ...body };
  for (const key in raw) delete rest[key];
  let json = JSON.stringify(rest);
  const extra = Object.entries(raw).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",");
  if (extra === "") return json;
  json = json.slice(0, -1);
  return `${json}${json.length > 1 ? "," : ""}${extra}}`;
}
