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

/** What a {@linkcode PushQueue} asks of its producer. */
export interface PushControl {
  /** Produce again after a `chunk` that returned false. */
  resume(): void;
  /** The receiver went away: stop producing, release the source. */
  cancel(): void;
}

/**
 * A push body fed by a producer: chunks wait in a queue until a receiver takes the body, then
 * go straight to it. `chunk` returns false when the producer should pause (the queue holds
 * `highWaterBytes`, or the receiver asked for a pause).
 *
 * @example
 * ```ts
 * import { PushQueue } from "./push_body.ts";
 * const q = new PushQueue({ resume() {}, cancel() {} });
 * q.chunk(new TextEncoder().encode("a"));
 * q.end();
 * let text = "";
 * q.take({ chunk: (b) => (text += new TextDecoder().decode(b), true), end() {}, error() {} });
 * text; // "a"
 * ```
 */
export class PushQueue implements PushBody, ChunkSink {
  readonly #control: PushControl;
  readonly #highWaterBytes: number;
  #sink: ChunkSink | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #failed: { error: unknown } | undefined;

  /**
   * @param control The producer's side.
   * @param highWaterBytes Queued bytes before the producer is asked to pause.
   */
  constructor(control: PushControl, highWaterBytes = 64 * 1024) {
    this.#control = control;
    this.#highWaterBytes = highWaterBytes;
  }

  /** Producer: a chunk. */
  chunk(bytes: Uint8Array): boolean {
    if (this.#sink) return this.#sink.chunk(bytes);
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
    return this.#queued < this.#highWaterBytes;
  }

  /** Producer: the end. */
  end(): void {
    if (this.#sink) this.#sink.end();
    else this.#ended = true;
  }

  /** Producer: a failure. */
  error(error: unknown): void {
    if (this.#sink) this.#sink.error(error);
    else this.#failed = { error };
  }

  /** Receiver: takes the body (once). */
  take(sink: ChunkSink): boolean {
    if (this.#sink) return false;
    this.#sink = sink;
    const queue = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    let more = true;
    for (const bytes of queue) more = sink.chunk(bytes) && more;
    if (this.#failed) sink.error(this.#failed.error);
    else if (this.#ended) sink.end();
    else if (more) this.#control.resume();
    return true;
  }

  /** Receiver: produce again. */
  resume(): void {
    this.#control.resume();
  }

  /** Receiver: gone. */
  cancel(): void {
    this.#control.cancel();
  }
}
