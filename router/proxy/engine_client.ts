/**
 * The HTTP client of the engine legs: `node:http` with one keep-alive pool per router. An answer
 * is a web `Response` for its status and headers; its body is a push body (push_body.ts), which
 * `bodyText` reads whole and the relay takes chunk by chunk, with no web stream in between.
 *
 * Why not `fetch`: a streamed engine answer arrives as one body frame per SSE event, and each
 * frame read from a `fetch` body costs a round trip through the runtime (an op and a promise);
 * relaying a 64-token stream that way cost about 4× a native passthrough on this project's
 * benchmark. `node:http` delivers the same bytes as `data` events from a socket read, which we
 * push on; measured in one run (c=64, 64-token streams), that path used
 * 345–380 µs of CPU per request against 500 µs for a bare `Deno.serve` + `fetch` passthrough
 * and about 1,900 µs for any JS stream over a `fetch` body. The pool also gives what `fetch`
 * does not: idle connections are closed after `idleTimeoutMs`, and at most `maxIdlePerEngine`
 * are kept per engine.
 *
 * Timeouts are per leg: `firstByteMs` runs from the request's start to the first body byte
 * (vLLM sends response headers at once, so a timeout on headers alone would not notice an
 * engine that froze afterwards), `idleMs` between body chunks after that. Either ends the leg
 * with a {@linkcode LegTimeoutError}: before the response headers `request` rejects with it,
 * after them the push body fails with it. Both are swept by one timer (http/deadlines.ts).
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { Endpoint } from "../datastore/endpoint.ts";
import { Deadlines } from "../http/deadlines.ts";
import type { HeaderPairs } from "./forward_headers.ts";
import { PushQueue, withPushBody } from "./push_body.ts";

/** Options of {@linkcode EngineClient}. */
export interface EngineClientOptions {
  /** Idle keep-alive connections to an engine are closed after this long. @default 30_000 */
  readonly idleTimeoutMs?: number;
  /** At most this many idle connections are kept per engine. @default 64 */
  readonly maxIdlePerEngine?: number;
}

/** Timeouts of one leg (undefined or 0: none). */
export interface LegTimeouts {
  /** From the start of the request to the first body byte (or the end of an empty body). */
  readonly firstByteMs?: number | undefined;
  /** Between body chunks, after the first. */
  readonly idleMs?: number | undefined;
}

/** A leg's request. */
export interface EngineRequest {
  readonly endpoint: Endpoint;
  /** Path and query. */
  readonly path: string;
  readonly headers: HeaderPairs;
  /** The JSON body. */
  readonly body: string;
  readonly signal: AbortSignal;
  readonly timeouts?: LegTimeouts;
}

/**
 * A leg ran out of time: `phase` tells which of {@linkcode LegTimeouts} fired.
 *
 * @example
 * ```ts
 * import { LegTimeoutError } from "./engine_client.ts";
 * new LegTimeoutError("idle", 5000).message; // "no data from the engine for 5000 ms"
 * ```
 */
export class LegTimeoutError extends Error {
  /**
   * @param phase `firstByte` or `idle`.
   * @param ms The limit that was reached.
   */
  constructor(readonly phase: "firstByte" | "idle", readonly ms: number) {
    super(
      phase === "firstByte"
        ? `no answer from the engine within ${ms} ms`
        : `no data from the engine for ${ms} ms`,
    );
    this.name = "LegTimeoutError";
  }
}

/** A reused pooled connection failed before any response: the request may be sent again. */
class StaleConnectionError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = "StaleConnectionError";
  }
}

/** The client went away (the leg's signal fired). */
class LegAbortedError extends Error {
  constructor() {
    super("aborted");
    this.name = "AbortError";
  }
}

interface Target {
  readonly module: typeof http | typeof https;
  readonly agent: http.Agent;
  readonly hostname: string;
  readonly port: number;
}

/** Body bytes queued before the engine socket is paused (backpressure). */
const BODY_HIGH_WATER_BYTES = 64 * 1024;

/**
 * The engine client.
 *
 * @example
 * ```ts ignore
 * import { EngineClient } from "./engine_client.ts";
 * const client = new EngineClient({ idleTimeoutMs: 10_000 });
 * const res = await client.request({ endpoint, path: "/v1/completions", headers: [], body: "{}", signal });
 * client.close();
 * ```
 */
export class EngineClient {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  readonly #targets = new WeakMap<Endpoint, Target>();
  /** The legs' timeouts: each item is a leg's own `onTimeout`. */
  readonly #deadlines = new Deadlines<() => void>(25, (onTimeout) => onTimeout());

  /** @param options Pool settings. */
  constructor(options: EngineClientOptions = {}) {
    const pool = {
      keepAlive: true,
      // The agent destroys a free socket when this socket timeout fires; a socket in use is
      // only told (our own timers bound requests).
      timeout: options.idleTimeoutMs ?? 30_000,
      maxFreeSockets: options.maxIdlePerEngine ?? 64,
      // LIFO reuse keeps the hot connections hot and lets the rest reach the idle timeout.
      scheduling: "lifo" as const,
    };
    this.#http = new http.Agent(pool);
    this.#https = new https.Agent(pool);
  }

  /** Closes every pooled connection. */
  close(): void {
    this.#deadlines.close();
    this.#http.destroy();
    this.#https.destroy();
  }

  #target(endpoint: Endpoint): Target {
    let t = this.#targets.get(endpoint);
    if (!t) {
      const url = new URL(endpoint.baseUrl);
      const secure = url.protocol === "https:";
      t = {
        module: secure ? https : http,
        agent: secure ? this.#https : this.#http,
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port || (secure ? 443 : 80)),
      };
      this.#targets.set(endpoint, t);
    }
    return t;
  }

  /**
   * Sends a POST and resolves with the engine's response once its headers are in; its body is
   * the push body of the engine's chunks (`pushBodyOf`, `bodyText`). Rejects with a {@linkcode LegTimeoutError}, an
   * `AbortError` (the signal fired) or the socket's error when there is no response.
   */
  async request(req: EngineRequest): Promise<Response> {
    try {
      return await this.#send(req);
    } catch (e) {
      // A pooled connection can turn out dead only when used: the engine closed it as it sat
      // idle, or left it unusable. Nothing of the request was processed then (no response came
      // back at all), so it is sent once more on a fresh connection, as Node's documentation
      // advises for `request.reusedSocket`.
      if (!(e instanceof StaleConnectionError) || req.signal.aborted) throw e;
      return await this.#send(req, true);
    }
  }

  #send(req: EngineRequest, fresh = false): Promise<Response> {
    const target = this.#target(req.endpoint);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of req.headers) {
      const had = headers[name];
      headers[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
    }
    headers["content-length"] = String(Buffer.byteLength(req.body));
    const firstByteMs = req.timeouts?.firstByteMs ?? 0;
    const idleMs = req.timeouts?.idleMs ?? 0;

    return new Promise<Response>((resolve, reject) => {
      if (req.signal.aborted) {
        reject(new LegAbortedError());
        return;
      }
      let responded = false;
      /** The answer's body, once the headers are in (a failure after them ends it). */
      let answer: { error(e: unknown): void } | undefined;
      let finished = false;
      const creq = target.module.request({
        hostname: target.hostname,
        port: target.port,
        path: req.path,
        method: "POST",
        headers,
        // A retry after a stale pooled connection does not take another pooled one.
        agent: fresh ? false : target.agent,
      });
      const cleanup = () => {
        finished = true;
        this.#deadlines.delete(onTimeout);
        req.signal.removeEventListener("abort", onAbort);
      };
      const fail = (e: Error) => {
        if (finished) return;
        cleanup();
        creq.destroy();
        if (!responded) reject(e);
        else {
          try {
            answer?.error(e);
          } catch {
            // Already closed.
          }
        }
      };
      let phase: "firstByte" | "idle" = "firstByte";
      const onTimeout = () =>
        fail(new LegTimeoutError(phase, phase === "idle" ? idleMs : firstByteMs));
      const arm = (next: "firstByte" | "idle", ms: number) => {
        phase = next;
        this.#deadlines.set(onTimeout, ms);
      };
      const onAbort = () => fail(new LegAbortedError());
      req.signal.addEventListener("abort", onAbort, { once: true });
      arm("firstByte", firstByteMs);

      creq.on("error", (e) => {
        const reused = (creq as { reusedSocket?: boolean }).reusedSocket === true;
        const code = (e as { code?: string }).code;
        const closed = code === "ECONNRESET" || code === "EPIPE" || e.message === "socket hang up";
        fail(!responded && reused && closed ? new StaleConnectionError(e) : e);
      });
      creq.on("response", (res) => {
        responded = true;
        const pairs: [string, string][] = [];
        const raw = res.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
        const cancel = () => {
          // After the end the socket is back in the pool, maybe serving another request:
          // destroying it then would break that one.
          if (finished) return;
          cleanup();
          creq.destroy();
        };
        // The body is a push body (push_body.ts): no web stream is made for it.
        const body = new PushQueue({
          resume: () => {
            if (!finished) res.resume();
          },
          cancel,
        }, BODY_HIGH_WATER_BYTES);
        answer = body;
        res.on("data", (chunk: Uint8Array) => {
          if (finished) return;
          arm("idle", idleMs);
          if (!body.chunk(chunk)) res.pause();
        });
        res.on("end", () => {
          if (finished) return;
          cleanup();
          body.end();
        });
        res.on("aborted", () => fail(new Error("engine connection closed mid-answer")));
        res.on("error", (e) => fail(e));
        let response: Response;
        try {
          const status = res.statusCode ?? 502;
          const empty = status === 204 || status === 304;
          // An unread body would keep the socket out of the pool.
          if (empty) res.resume();
          response = new Response(null, { status, headers: pairs });
          if (!empty) withPushBody(response, body);
        } catch (e) {
          responded = false;
          fail(new Error(`unusable engine response: ${(e as Error).message}`));
          return;
        }
        resolve(response);
      });
      creq.end(req.body);
    });
  }
}
