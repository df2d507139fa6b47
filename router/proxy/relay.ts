/**
 * From a committed engine answer to the client's response. Streams pass through chunk by chunk
 * as they arrive, the engine's bytes untouched (no buffering beyond one SSE event); a substring
 * scan finds the usage, and the usage-only chunk the router asked for itself
 * (`stream_options.include_usage`) is dropped. (eventsource-parser, used before, decoded and
 * re-encoded every event: about 40 µs of CPU per event.) A client that goes away cancels the engine's stream and every other leg; an engine
 * stream that breaks ends the client's stream with an OpenAI-style error event.
 *
 * @module
 */
import type { Committed } from "./attempts.ts";
import { HOP_BY_HOP_HEADERS } from "./forward_headers.ts";
import { type ChunkSink, type PushBody, pushBodyOf, withPushBody } from "./push_body.ts";

/** Token usage an engine reported. */
export interface Usage {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

/** How a relayed response ended. */
export interface RelayEnd {
  /** `ok`: complete; `client_closed`: the client left; `upstream_error`: the engine's stream broke. */
  readonly outcome: "ok" | "client_closed" | "upstream_error";
  /** Usage, when the engine reported it. */
  readonly usage?: Usage;
  /** What broke, for `upstream_error`. */
  readonly error?: string;
}

/** Options of {@linkcode relayResponse}. */
export interface RelayOptions {
  /** Echoed as `x-request-id`. */
  readonly requestId: string;
  /** Drop the usage-only chunk (the router injected `include_usage`). */
  readonly stripUsage: boolean;
  /** Called once when the response has ended, however it ended. */
  readonly onEnd: (end: RelayEnd) => void;
  /**
   * The consumer takes push bodies (the listener does): the response then carries no web stream
   * (making one costs about 8 µs).
   */
  readonly pushOnly?: boolean;
  /** The client's signal: a stream that breaks because the client left is `client_closed`. */
  readonly clientSignal?: AbortSignal;
  /** Message of the error event when the stream breaks (e.g. the prefill's failure). */
  readonly breakReason?: () => string | undefined;
}

const textHints = new WeakMap<Response, string>();

/**
 * Remembers that `response`'s body is `text`, so a listener can write the text itself rather
 * than read it back through the body stream (see {@linkcode responseText}).
 *
 * @example
 * ```ts
 * import { responseText, withTextHint } from "./relay.ts";
 * responseText(withTextHint(new Response("hi"), "hi")); // "hi"
 * ```
 */
export function withTextHint(response: Response, text: string): Response {
  textHints.set(response, text);
  return response;
}

/**
 * The body text of a response made with {@linkcode withTextHint}, if it was and its body has not
 * been touched.
 *
 * @example
 * ```ts
 * import { responseText } from "./relay.ts";
 * responseText(new Response("hi")); // undefined
 * ```
 */
export function responseText(response: Response): string | undefined {
  return response.bodyUsed ? undefined : textHints.get(response);
}

/**
 * Not relayed to the client: hop-by-hop, and the length the listener recomputes. (The engine
 * client does not decompress, and `accept-encoding` is not forwarded, so `content-encoding`,
 * if an engine sends it anyway, still describes the bytes and is kept.)
 */
const DROPPED_RESPONSE_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "content-length"]);

/**
 * The client-facing headers of an engine response, as a list of pairs (validated once, by the
 * `Response` constructor).
 *
 * @example
 * ```ts
 * import { responseHeaders } from "./relay.ts";
 * const h = new Headers(responseHeaders(new Headers({ "content-type": "text/event-stream", connection: "close" }), "id-1"));
 * h.get("connection"); // null
 * h.get("x-request-id"); // "id-1"
 * ```
 */
export function responseHeaders(upstream: Headers, requestId: string): [string, string][] {
  const out: [string, string][] = [];
  const connection = upstream.get("connection")?.toLowerCase();
  const named = connection && connection !== "keep-alive" && connection !== "close"
    ? connection.split(",").map((s) => s.trim())
    : undefined;
  upstream.forEach((value, name) => {
    if (DROPPED_RESPONSE_HEADERS.has(name) || name === "x-request-id" || named?.includes(name)) {
      return;
    }
    out.push([name, value]);
  });
  out.push(["x-request-id", requestId]);
  return out;
}

function readUsage(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as { prompt_tokens?: unknown; completion_tokens?: unknown };
  const usage: { promptTokens?: number; completionTokens?: number } = {};
  if (typeof u.prompt_tokens === "number") usage.promptTokens = u.prompt_tokens;
  if (typeof u.completion_tokens === "number") usage.completionTokens = u.completion_tokens;
  return usage.promptTokens === undefined && usage.completionTokens === undefined
    ? undefined
    : usage;
}

/**
 * Usage from a non-streamed JSON answer.
 *
 * @example
 * ```ts
 * import { usageFromBody } from "./relay.ts";
 * usageFromBody('{"usage":{"prompt_tokens":3,"completion_tokens":5}}'); // { promptTokens: 3, completionTokens: 5 }
 * ```
 */
export function usageFromBody(text: string): Usage | undefined {
  // OpenAI's usage object is flat but for `*_tokens_details`; parse just it when it can be cut
  // out, else the whole body.
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const m = /^"usage"\s*:\s*(\{[^{}]*\})/.exec(text.slice(at, at + 512));
  try {
    return readUsage(
      m ? JSON.parse(m[1]!) : (JSON.parse(text) as { usage?: unknown })?.usage,
    );
  } catch {
    return undefined;
  }
}

/**
 * Where the last complete SSE event of `bytes` ends (after its blank line, `\n\n` or
 * `\r\n\r\n`), or 0 when there is none. Native `lastIndexOf` does the search; an engine's
 * chunk usually ends on a boundary, so the first probe hits.
 */
function _lastEventEnd(bytes: Uint8Array): number {
  for (
    let i = _lastIndexOf.call(bytes, 10);
    i > 0;
    i = _lastIndexOf.call(bytes, 10, i - 1)
  ) {
    if (bytes[i - 1] === 10) return i + 1;
    if (bytes[i - 1] === 13 && i >= 3 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return 0;
}

/** Where the last complete SSE event of `text` ends, or 0. */
function _lastEventEndText(text: string): number {
  const lf = text.lastIndexOf("\n\n");
  const crlf = text.lastIndexOf("\r\n\r\n");
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

/** The `data` of one SSE event's text (its `data:` lines joined). */
function _eventData(event: string): string {
  let data: string | undefined;
  for (const line of event.split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data ?? "";
}

/** Events of `text` (complete ones), split on blank lines, separators kept with each event. */
function _events(text: string): string[] {
  return text.split(/(?<=\r?\n\r?\n)/);
}

/**
 * Whether `text` may carry a usage object: `"usage":{` (compact JSON, vLLM) or `"usage": {`
 * (Python's default separators). SGLang sends `"usage":null` in every chunk, which must not
 * cost a parse.
 */
function _hasUsage(text: string): boolean {
  return text.includes('"usage":{') || text.includes('"usage": {');
}

/** Native `lastIndexOf` even on a Node `Buffer` (whose own method is JavaScript on Deno). */
const _lastIndexOf = Uint8Array.prototype.lastIndexOf;

/** A larger incomplete event than this is not scanned for usage (it is still relayed). */
const MAX_PENDING_CHARS = 1 << 20;

/**
 * Watches an OpenAI SSE stream for usage and, when asked, removes the usage-only chunk,
 * without decoding and re-encoding the stream: the bytes the client gets are the engine's.
 *
 * Each chunk is decoded once for a substring search; only events that carry a usage object are
 * parsed. Without stripping, every chunk passes on as it came. With stripping, a chunk passes
 * on up to its last complete event (the rest waits for the next chunk, so an event split across
 * chunks is judged whole), and is re-encoded only in the one chunk that held the dropped event.
 *
 * @example
 * ```ts
 * import { SseUsageFilter } from "./relay.ts";
 * const f = new SseUsageFilter(true);
 * const out = f.push(new TextEncoder().encode('data: {"choices":[],"usage":{"completion_tokens":2}}\n\ndata: [DONE]\n\n'));
 * new TextDecoder().decode(out); // "data: [DONE]\n\n"
 * f.usage; // { completionTokens: 2 }
 * ```
 */
export class SseUsageFilter {
  /** Last usage seen. */
  usage: Usage | undefined;
  readonly #strip: boolean;
  readonly #decoder = new TextDecoder();
  /** Not stripping: the text of the incomplete event at the end of the last chunk. */
  #pendingText = "";
  /** Stripping: the bytes of the incomplete event held back. */
  #held: Uint8Array | undefined;

  /** @param strip Drop usage-only chunks. */
  constructor(strip: boolean) {
    this.#strip = strip;
  }

  /** Feeds a chunk; returns what to send on (possibly empty). */
  push(chunk: Uint8Array): Uint8Array {
    if (!this.#strip) {
      const text = this.#pendingText + this.#decoder.decode(chunk, { stream: true });
      const end = _lastEventEndText(text);
      if (end > 0 && _hasUsage(text)) this.#scan(text.slice(0, end));
      this.#pendingText = text.length - end > MAX_PENDING_CHARS ? "" : text.slice(end);
      return chunk;
    }
    let bytes = chunk;
    if (this.#held) {
      bytes = new Uint8Array(this.#held.byteLength + chunk.byteLength);
      bytes.set(this.#held);
      bytes.set(chunk, this.#held.byteLength);
      this.#held = undefined;
    }
    const end = _lastEventEnd(bytes);
    if (end < bytes.byteLength) this.#held = bytes.slice(end);
    return end === 0 ? new Uint8Array(0) : this.#filter(bytes.subarray(0, end));
  }

  /** Ends the stream; returns what is left to send (a trailing event without blank line). */
  end(): Uint8Array {
    if (!this.#strip) {
      const tail = this.#pendingText + this.#decoder.decode();
      this.#pendingText = "";
      if (_hasUsage(tail)) this.#scan(tail);
      return new Uint8Array(0);
    }
    const held = this.#held;
    this.#held = undefined;
    return held ? this.#filter(held) : new Uint8Array(0);
  }

  /** Stripping: `bytes` (whole events) without the usage-only events. */
  #filter(bytes: Uint8Array): Uint8Array {
    const text = this.#decoder.decode(bytes);
    if (!_hasUsage(text)) return bytes;
    const events = _events(text);
    const kept = events.filter((event) => !this.#readEvent(event));
    return kept.length === events.length ? bytes : new TextEncoder().encode(kept.join(""));
  }

  /** Not stripping: records the usage of the events in `text`. */
  #scan(text: string): void {
    for (const event of _events(text)) {
      if (_hasUsage(event)) this.#readEvent(event);
    }
  }

  /** Records the usage an event carries; true when it is a usage-only chunk to drop. */
  #readEvent(event: string): boolean {
    if (!_hasUsage(event)) return false;
    const data = _eventData(event);
    if (data.charCodeAt(0) !== 123 /* { */) return false;
    try {
      const chunk = JSON.parse(data) as { usage?: unknown; choices?: unknown };
      const usage = readUsage(chunk.usage);
      if (usage) this.usage = usage;
      return this.#strip && usage !== undefined && Array.isArray(chunk.choices) &&
        chunk.choices.length === 0;
    } catch {
      // Not JSON: pass it on untouched.
      return false;
    }
  }
}

/**
 * The OpenAI-style error event that ends a broken stream.
 *
 * @example
 * ```ts
 * import { streamErrorEvent } from "./relay.ts";
 * streamErrorEvent("engine went away").startsWith('data: {"error":'); // true
 * ```
 */
export function streamErrorEvent(message: string): string {
  return `data: ${
    JSON.stringify({
      error: { message, type: "server_error", param: null, code: "upstream_stream_error" },
    })
  }\n\n`;
}

/**
 * Builds the client's response from a committed attempt.
 *
 * @example
 * ```ts ignore
 * import { relayResponse } from "./relay.ts";
 * return relayResponse(committed, { requestId, stripUsage: true, onEnd: (end) => log(end) });
 * ```
 */
export function relayResponse(committed: Committed, options: RelayOptions): Response {
  const headers = responseHeaders(committed.response.headers, options.requestId);
  const status = committed.response.status;
  const contentType = committed.response.headers.get("content-type") ?? "";
  let ended = false;
  const end = (e: RelayEnd) => {
    if (ended) return;
    ended = true;
    options.onEnd(e);
  };

  if (!committed.stream) {
    const text = committed.text ?? "";
    const usage = usageFromBody(text);
    end(usage ? { outcome: "ok", usage } : { outcome: "ok" });
    return withTextHint(new Response(text, { status, headers }), text);
  }

  const reader = committed.reader;
  const isSse = /^\s*text\/event-stream/i.test(contentType);
  const filter = isSse ? new SseUsageFilter(options.stripUsage) : undefined;
  const withUsage = (outcome: RelayEnd["outcome"]): RelayEnd =>
    filter?.usage ? { outcome, usage: filter.usage } : { outcome };

  // The relay is a push body (see push_body.ts): the listener takes it, or the web stream
  // below does when someone reads that. It takes the engine's push body in turn when it can,
  // else reads the engine's stream.
  let sink: ChunkSink | undefined;
  let engine: PushBody | undefined;
  let paused: PromiseWithResolvers<void> | undefined;
  let cancelled = false;
  const upstream: ChunkSink = {
    chunk(bytes) {
      const out = filter ? filter.push(bytes) : bytes;
      return out.byteLength === 0 || sink!.chunk(out);
    },
    end() {
      const tail = filter?.end();
      if (tail && tail.byteLength > 0) sink!.chunk(tail);
      sink!.end();
      committed.abort();
      end(withUsage("ok"));
    },
    error(e) {
      if (cancelled) return;
      if (options.clientSignal?.aborted) {
        // The engine leg was aborted because the client left (its close reached the request's
        // signal before the listener cancelled the body).
        relay.cancel();
        return;
      }
      const reason = options.breakReason?.() ??
        `engine stream failed: ${(e as Error)?.message ?? e}`;
      committed.abort();
      if (isSse) sink!.chunk(new TextEncoder().encode(streamErrorEvent(reason)));
      sink!.end();
      end({ ...withUsage("upstream_error"), error: reason });
    },
  };
  const readStream = async (r: ReadableStreamDefaultReader<Uint8Array>) => {
    try {
      for (;;) {
        if (paused) await paused.promise;
        if (cancelled) return;
        const { done, value } = await r.read();
        if (cancelled) return;
        if (done) return upstream.end();
        if (!upstream.chunk(value)) paused = Promise.withResolvers<void>();
      }
    } catch (e) {
      upstream.error(e);
    }
  };
  const relay: PushBody = {
    take(next) {
      if (sink) return false;
      sink = next;
      if (committed.first && !upstream.chunk(committed.first)) {
        paused = Promise.withResolvers<void>();
      }
      const pushed = committed.push ?? (reader ? pushBodyOf(committed.response) : undefined);
      if (pushed?.take(upstream)) {
        // Pushed: a full client buffer pauses the engine socket from the next chunk on.
        engine = pushed;
        paused = undefined;
      } else if (reader) void readStream(reader);
      else upstream.end();
      return true;
    },
    resume() {
      if (engine) engine.resume();
      const p = paused;
      paused = undefined;
      p?.resolve();
    },
    cancel() {
      if (cancelled) return;
      cancelled = true;
      committed.abort();
      if (engine) engine.cancel();
      else reader?.cancel().catch(() => {});
      paused?.resolve();
      end(withUsage("client_closed"));
    },
  };
  if (options.pushOnly) return withPushBody(new Response(null, { status, headers }), relay);
  // A high-water mark of 0: nothing is pulled (and the relay not taken) until someone reads.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sink) {
        relay.take({
          chunk: (bytes) => {
            controller.enqueue(bytes);
            return (controller.desiredSize ?? 0) > 0;
          },
          end: () => controller.close(),
          error: (e) => controller.error(e),
        });
      } else relay.resume();
    },
    cancel: () => relay.cancel(),
  }, { highWaterMark: 0 });
  return withPushBody(new Response(body, { status, headers }), relay);
}
