/**
 * From a committed engine answer to the client's response. Streams pass through event by event
 * as they arrive (no buffering beyond one SSE event), parsed with `eventsource-parser` to read
 * the usage; the usage-only chunk the router asked for itself (`stream_options.include_usage`)
 * is dropped. A client that goes away cancels the engine's stream and every other leg; an engine
 * stream that breaks ends the client's stream with an OpenAI-style error event.
 *
 * @module
 */
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import type { Committed } from "./attempts.ts";

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
  /** Message of the error event when the stream breaks (e.g. the prefill's failure). */
  readonly breakReason?: () => string | undefined;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those the relay recomputes. */
const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "content-encoding",
]);

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
 * An SSE event in wire form.
 *
 * @example
 * ```ts
 * import { formatSseEvent } from "./relay.ts";
 * formatSseEvent({ data: "[DONE]" }); // "data: [DONE]\n\n"
 * ```
 */
export function formatSseEvent(event: EventSourceMessage): string {
  let out = "";
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  for (const line of event.data.split("\n")) out += `data: ${line}\n`;
  return out + "\n";
}

/**
 * Watches an OpenAI SSE stream for usage and, when asked, removes the usage-only chunk.
 *
 * Without stripping, chunks pass through byte for byte and the parser only reads them. With
 * stripping, events are re-emitted as parsed (`data:` lines, `event:`/`id:` kept), so an event
 * split across chunks leaves once complete.
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
  readonly #parser: EventSourceParser;
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();
  #out = "";

  /** @param strip Drop usage-only chunks. */
  constructor(strip: boolean) {
    this.#strip = strip;
    this.#parser = createParser({
      onEvent: (event) => this.#onEvent(event),
      onComment: (comment) => {
        if (this.#strip) this.#out += `: ${comment}\n\n`;
      },
      onRetry: (retry) => {
        if (this.#strip) this.#out += `retry: ${retry}\n\n`;
      },
    });
  }

  /** Feeds a chunk; returns what to send on (possibly empty). */
  push(chunk: Uint8Array): Uint8Array {
    this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
    if (!this.#strip) return chunk;
    const out = this.#out;
    this.#out = "";
    return this.#encoder.encode(out);
  }

  /** Ends the stream; returns what is left to send (a trailing event without blank line). */
  end(): Uint8Array {
    const tail = this.#decoder.decode();
    if (tail) this.#parser.feed(tail);
    this.#parser.reset({ consume: true });
    const out = this.#out;
    this.#out = "";
    return this.#encoder.encode(out);
  }

  #onEvent(event: EventSourceMessage): void {
    let drop = false;
    const data = event.data;
    if (data.includes('"usage"') && data.charCodeAt(0) === 123 /* { */) {
      try {
        const chunk = JSON.parse(data) as { usage?: unknown; choices?: unknown };
        const usage = readUsage(chunk.usage);
        if (usage) this.usage = usage;
        drop = this.#strip && usage !== undefined && Array.isArray(chunk.choices) &&
          chunk.choices.length === 0;
      } catch {
        // Not JSON: pass it on untouched.
      }
    }
    if (this.#strip && !drop) this.#out += formatSseEvent(event);
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
    return new Response(text, { status, headers });
  }

  const reader = committed.reader;
  const isSse = /^\s*text\/event-stream/i.test(contentType);
  const filter = isSse ? new SseUsageFilter(options.stripUsage) : undefined;
  const encoder = new TextEncoder();
  const usageEnd = (): RelayEnd =>
    filter?.usage ? { outcome: "ok", usage: filter.usage } : { outcome: "ok" };

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (committed.first) {
        const out = filter ? filter.push(committed.first) : committed.first;
        if (out.byteLength > 0) controller.enqueue(out);
      }
      if (!reader) {
        controller.close();
        end(usageEnd());
      }
    },
    async pull(controller) {
      if (!reader) return;
      try {
        // Skip reads that produce nothing to send (a dropped usage chunk).
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            const tail = filter?.end();
            if (tail && tail.byteLength > 0) controller.enqueue(tail);
            controller.close();
            committed.abort();
            end(usageEnd());
            return;
          }
          const out = filter ? filter.push(value) : value;
          if (out.byteLength > 0) {
            controller.enqueue(out);
            return;
          }
        }
      } catch (e) {
        const reason = options.breakReason?.() ??
          `engine stream failed: ${(e as Error)?.message ?? e}`;
        committed.abort();
        if (isSse) controller.enqueue(encoder.encode(streamErrorEvent(reason)));
        controller.close();
        end({
          outcome: "upstream_error",
          error: reason,
          ...(filter?.usage ? { usage: filter.usage } : {}),
        });
      }
    },
    cancel() {
      committed.abort();
      reader?.cancel().catch(() => {});
      end(
        filter?.usage
          ? { outcome: "client_closed", usage: filter.usage }
          : { outcome: "client_closed" },
      );
    },
  });
  return new Response(body, { status, headers });
}
