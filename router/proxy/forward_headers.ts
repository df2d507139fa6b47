/**
 * The headers a leg carries: the client's, minus hop-by-hop headers and those the router sets
 * itself, plus the request id (the same on every leg, as vLLM's PD proxy does).
 *
 * @module
 */

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy `proxy-connection`): never forwarded in
 * either direction. The one set both the request and the response side use.
 *
 * @example
 * ```ts
 * import { HOP_BY_HOP_HEADERS } from "./forward_headers.ts";
 * HOP_BY_HOP_HEADERS.has("transfer-encoding"); // true
 * ```
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Not forwarded to engines: hop-by-hop, and those the client library or the router set. */
const DROPPED = new Set([
  ...HOP_BY_HOP_HEADERS,
  "host",
  "content-length",
  "accept-encoding",
  "expect",
  "x-request-id",
]);

/** Headers as name/value pairs (lower-case names). */
export type HeaderPairs = [string, string][];

/**
 * Builds the headers for the legs of one request, as a list of pairs: fetch validates it once,
 * where building a `Headers` validates every append (a measurable share of the proxy's CPU).
 *
 * @example
 * ```ts
 * import { forwardHeaders } from "./forward_headers.ts";
 * const h = new Headers(forwardHeaders(new Headers({ authorization: "Bearer t", connection: "keep-alive" }), "id-1"));
 * [h.get("authorization"), h.get("connection"), h.get("x-request-id")]; // ["Bearer t", null, "id-1"]
 * ```
 */
export function forwardHeaders(incoming: Headers, requestId: string): HeaderPairs {
  const out: HeaderPairs = [];
  const connection = incoming.get("connection")?.toLowerCase();
  const named = connection && connection !== "keep-alive" && connection !== "close"
    ? connection.split(",").map((n) => n.trim())
    : undefined;
  // forEach: iterating a Headers object sorts it first, and costs twice as much.
  incoming.forEach((value, name) => {
    if (DROPPED.has(name) || name === "content-type" || named?.includes(name)) return;
    out.push([name, value]);
  });
  out.push(["content-type", "application/json"], ["x-request-id", requestId]);
  return out;
}
