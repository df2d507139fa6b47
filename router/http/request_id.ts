/**
 * The request id a request is known by: the client's `x-request-id` when it is a sane token,
 * else a new UUID. One rule for the listener and the app.
 *
 * @module
 */

/** Visible ASCII (no space, no control characters), at most 255 characters. */
const REQUEST_ID = /^[\x21-\x7e]{1,255}$/;

/**
 * The client's `x-request-id` when it is a sane token (visible ASCII without spaces, at most
 * 255 characters: UUIDs, `abc.def`, `trace:span/1`), else a new UUID.
 *
 * @example
 * ```ts
 * import { requestIdOf } from "./request_id.ts";
 * requestIdOf(new Headers({ "x-request-id": "abc.def" })); // "abc.def"
 * requestIdOf(new Headers({ "x-request-id": "has space" })) !== "has space"; // true
 * ```
 */
export function requestIdOf(headers: Headers): string {
  return requestIdFrom(headers.get("x-request-id"));
}

/**
 * The same rule on a header value as given (absent: `null` or `undefined`).
 *
 * @example
 * ```ts
 * import { requestIdFrom } from "./request_id.ts";
 * requestIdFrom("trace:1/2"); // "trace:1/2"
 * ```
 */
export function requestIdFrom(given: string | null | undefined): string {
  return typeof given === "string" && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
