/**
 * JSON parsing that keeps numbers JavaScript cannot hold exactly, so a body the router rewrites
 * (the model, `stream_options`, PD fields) reaches the engine with the client's digits: an int64
 * `seed` of 9223372036854775807 stays that, instead of becoming 9223372036854776000.
 *
 * It uses the "JSON.parse source text access" proposal (a reviver's third argument and
 * `JSON.rawJSON`), which V8 ships and TypeScript's lib does not describe yet; no library does
 * this without re-implementing the parser. Bodies without a run of 16 digits or a 3-digit
 * exponent, the only numbers that can lose anything, take the plain `JSON.parse` path.
 *
 * @module
 */

/** What V8 offers beyond TypeScript's `JSON` type. */
interface JsonSourceTextAccess {
  rawJSON(text: string): unknown;
}

const sourceAccess = JSON as unknown as JsonSourceTextAccess;

/** A number whose text can mean more than a double holds. */
const MAYBE_LOSSY = /\d{16}|[eE][+-]?\d{3}/;

/**
 * The value `JSON.stringify` writes as `text`, verbatim (`text` must be a JSON number, string,
 * boolean or null).
 *
 * @example
 * ```ts
 * import { rawJson } from "./lossless_json.ts";
 * JSON.stringify({ room: rawJson("9223372036854775807") }); // '{"room":9223372036854775807}'
 * ```
 */
export function rawJson(text: string): unknown {
  return sourceAccess.rawJSON(text);
}

/**
 * `JSON.parse`, but numbers a double cannot represent (integers beyond ±2^53, overflowing
 * exponents) come back as raw JSON values that `JSON.stringify` writes exactly as they were.
 * Throws `SyntaxError` like `JSON.parse`.
 *
 * @example
 * ```ts
 * import { parseJsonLossless } from "./lossless_json.ts";
 * const body = parseJsonLossless('{"seed":9223372036854775807}') as Record<string, unknown>;
 * JSON.stringify({ ...body, model: "m" }); // '{"seed":9223372036854775807,"model":"m"}'
 * ```
 */
export function parseJsonLossless(text: string): unknown {
  if (!MAYBE_LOSSY.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value !== "number" || context?.source === undefined) return value;
    const lossy = !Number.isFinite(value) ||
      (Number.isInteger(value) && !Number.isSafeInteger(value));
    return lossy ? rawJson(context.source) : value;
  });
}
