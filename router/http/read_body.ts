/**
 * Reads a request body to its end, within a size limit, turning every way the read can fail
 * into a {@linkcode RouterError}: 413 over the limit (declared or counted), 400 for a body that
 * breaks off (a truncated or malformed chunked encoding, a connection closed early), 499 when the
 * client is gone. (Hono's `bodyLimit` lets the read error escape, which became a 500.)
 *
 * @module
 */
import { Errors, RouterError } from "./errors.ts";

/**
 * The body as text (UTF-8, as `Request.text()` decodes it).
 *
 * @param req The request.
 * @param maxBytes Largest body accepted.
 * @throws {RouterError} 413, 400 or 499 as described above.
 * @example
 * ```ts
 * import { readBody } from "./read_body.ts";
 * const text = await readBody(new Request("http://x/", { method: "POST", body: "{}" }), 100);
 * text; // "{}"
 * ```
 */
export async function readBody(req: Request, maxBytes: number): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null && !req.headers.has("transfer-encoding")) {
    const n = Number(declared);
    if (Number.isFinite(n) && n > maxBytes) throw Errors.bodyTooLarge(maxBytes);
  }
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        reader.cancel().catch(() => {});
        throw Errors.bodyTooLarge(maxBytes);
      }
      parts.push(decoder.decode(value, { stream: true }));
    }
  } catch (e) {
    if (e instanceof RouterError) throw e;
    // The signal may fire just after the read fails when the connection closed.
    if (!req.signal.aborted) await new Promise((r) => setTimeout(r, 0));
    if (req.signal.aborted) throw Errors.clientClosed();
    throw Errors.unreadableBody((e as Error)?.message ?? String(e));
  }
  parts.push(decoder.decode());
  return parts.join("");
}
