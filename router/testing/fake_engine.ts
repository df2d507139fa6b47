/**
 * A tiny in-process OpenAI-ish engine for the router's unit tests: each test decides what it
 * answers. (The faithful vLLM/SGLang simulator lives in tests/sim and is used by the
 * integration tests; router/ does not import tests/.)
 *
 * @module
 */

/** A running fake engine. */
export interface FakeEngine {
  /** Its port (for pod annotations). */
  readonly port: number;
  /** Requests received: path, body (as sent, and parsed) and headers. */
  readonly requests: {
    path: string;
    text: string;
    body: Record<string, unknown>;
    headers: Headers;
  }[];
  /** Requests whose client went away. */
  readonly aborted: number;
  close(): Promise<void>;
}

/**
 * Starts a fake engine on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * import { startFakeEngine } from "./fake_engine.ts";
 * const engine = startFakeEngine(() => Response.json({ choices: [] }));
 * await engine.close();
 * ```
 */
export function startFakeEngine(
  handler: (
    req: { path: string; body: Record<string, unknown>; signal: AbortSignal },
  ) => Response | Promise<Response>,
): FakeEngine {
  const requests: FakeEngine["requests"] = [];
  let aborted = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const text = await req.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text);
    } catch {
      // keep {}
    }
    requests.push({ path, text, body, headers: req.headers });
    req.signal.addEventListener("abort", () => aborted++, { once: true });
    return await handler({ path, body, signal: req.signal });
  });
  return {
    port: server.addr.port,
    requests,
    get aborted() {
      return aborted;
    },
    close: () => server.shutdown(),
  };
}

/**
 * An SSE response from a list of `data:` payloads, one event per chunk, `gapMs` apart.
 *
 * @example
 * ```ts
 * import { sseResponse } from "./fake_engine.ts";
 * sseResponse(['{"choices":[]}', "[DONE]"]).headers.get("content-type"); // "text/event-stream"
 * ```
 */
export function sseResponse(events: string[], gapMs = 0, signal?: AbortSignal): Response {
  const encoder = new TextEncoder();
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i > 0 && gapMs > 0) {
        await new Promise<void>((resolve) => {
          timer = setTimeout(resolve, gapMs);
          signal?.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
      if (signal?.aborted) {
        controller.close();
        return;
      }
      if (i >= events.length) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`data: ${events[i++]}\n\n`));
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}
