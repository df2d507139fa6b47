/**
 * Push bodies: a response body handed on chunk by chunk through callbacks, beside its web
 * `ReadableStream`. The engine client and the relay attach one to the `Response`s they make,
 * and the listener takes it, so a streamed answer goes from the engine socket through the SSE
 * filter to the client socket without a promise per chunk; everything else (`app.request()`
 * tests, other consumers) reads the ordinary stream.
 *
 * Why: a chunk read through two web streams costs a few promise round trips, about 4–5 µs of
 * CPU per SSE event on this project's benchmark; a 64-token stream has 64 of them.
 *
 * @module
 */

/** Receives a pushed body. */
export interface ChunkSink {
  /** A chunk; returns false to ask for a pause (until {@linkcode PushBody.resume}). */
  chunk(bytes: Uint8Array): boolean;
  /** The body ended. */
  end(): void;
  /** The body broke. */
  error(error: unknown): void;
}

/** A body that can be pushed to one sink. */
export interface PushBody {
  /**
   * From now on, the body goes to `sink`. False when it cannot be taken any more (someone
   * read it as a stream, or another sink took it); then read the stream instead.
   */
  take(sink: ChunkSink): boolean;
  /** Resumes after a `chunk` that returned false. */
  resume(): void;
  /** The receiver went away: stop, and release what feeds the body. */
  cancel(): void;
}

const bodies = new WeakMap<Response, PushBody>();

/**
 * Attaches a push body to a response (whose stream carries the same bytes).
 *
 * @example
 * ```ts
 * import { pushBodyOf, withPushBody } from "./push_body.ts";
 * const res = withPushBody(new Response(null), { take: () => false, resume() {}, cancel() {} });
 * pushBodyOf(res) !== undefined; // true
 * ```
 */
export function withPushBody(response: Response, body: PushBody): Response {
  bodies.set(response, body);
  return response;
}

/**
 * The push body of a response, if it has one.
 *
 * @example
 * ```ts
 * import { pushBodyOf } from "./push_body.ts";
 * pushBodyOf(new Response("x")); // undefined
 * ```
 */
export function pushBodyOf(response: Response): PushBody | undefined {
  return bodies.get(response);
}

/**
 * A response's whole body as text: through its push body when it has one (no web stream is
 * read), else `response.text()`. Rejects when the body breaks.
 *
 * @example
 * ```ts
 * import { bodyText } from "./push_body.ts";
 * await bodyText(new Response("hi")); // "hi"
 * ```
 */
export function bodyText(response: Response): Promise<string> {
  const push = pushBodyOf(response);
  if (!push) return response.text();
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  const chunks: Uint8Array[] = [];
  const taken = push.take({
    chunk: (bytes) => {
      chunks.push(bytes);
      return true;
    },
    end: () => resolve(new TextDecoder().decode(_concat(chunks))),
    error: reject,
  });
  return taken ? promise : response.text();
}

function _concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = 0;
  for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
