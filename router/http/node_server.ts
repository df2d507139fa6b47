/**
 * The router's listener: `node:http` in front of the Hono app, with the connection-level
 * protection a proxy needs.
 *
 * Why `node:http` and not `Deno.serve`: `Deno.serve` does not notice a client that disconnects
 * while its handler is still working once the request body is over about 500 bytes (most LLM
 * requests are), so the engine would generate to the end for nobody; it offers no header or
 * body read timeout; and when file descriptors run out its accept loop fails and the server
 * stops. `node:http` reports the close (`res` emits `close` before `finish`) whatever the body
 * size, and exposes every connection, so the cap and the timeouts below can be enforced here.
 * It costs about 20–25 µs more server CPU per request than `Deno.serve` (measured on a bare
 * hello-world server). Measured as bare proxies with the `node:http` engine client
 * (`proxy/engine_client.ts`), alternating in one run: 120–130 µs per non-streamed request
 * against 102–107 for `Deno.serve` + `fetch`, and 300–350 µs per 64-token stream against 480.
 *
 * What it enforces:
 * - a connection cap: over `maxConnections` open connections, a new one gets a 503 and is
 *   closed (counted), so descriptors are never exhausted by clients (the default is derived from
 *   the process's descriptor limit);
 * - `headerTimeoutMs`: a new connection must complete its request headers in time;
 * - `bodyTimeoutMs`: the request body may not stall longer than this between chunks;
 * - `idleTimeoutMs`: a keep-alive connection may sit idle this long between requests;
 * - `maxBodyBytes`: a larger body is refused with 413 without reading it all;
 * - malformed requests (bad framing, truncated chunked bodies) get a 400 OpenAI error.
 *
 * The body is read here, once, and handed to the app through the Hono env
 * ({@linkcode ListenerEnv}); the request's signal fires when the client goes away.
 *
 * @module
 */
import http from "node:http";
import type { Socket } from "node:net";
import { pushBodyOf } from "../proxy/push_body.ts";
import { responseText } from "../proxy/relay.ts";
import type { AccessLogEntry } from "./access_log.ts";
import { Errors, RouterError } from "./errors.ts";
import { Deadlines } from "./deadlines.ts";
import { requestIdFrom } from "./request_id.ts";

/** What the listener passes to the app as the Hono env. */
export interface ListenerEnv {
  /** The request id, computed once by the listener. */
  readonly requestId: string;
  /** The request body, already read. */
  readonly bodyText: string;
  /**
   * Fires when the client goes away. (Not the Request's own signal: a Request made with a
   * signal costs about 8 µs more.)
   */
  readonly signal: AbortSignal;
  /** The listener takes push bodies (see proxy/push_body.ts). */
  readonly pushBodies: true;
}

/** Listener settings. */
export interface ListenerLimits {
  /** Open connections at most; more are answered 503 and closed. */
  readonly maxConnections: number;
  /** Time for a new connection to send its request headers. */
  readonly headerTimeoutMs: number;
  /** Longest pause while the request body is read. */
  readonly bodyTimeoutMs: number;
  /** Longest idle time of a keep-alive connection between requests. */
  readonly idleTimeoutMs: number;
  /** Largest request body, bytes. */
  readonly maxBodyBytes: number;
}

/** Options of {@linkcode serveNode}. */
export interface NodeServeOptions extends ListenerLimits {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The app (Hono's `fetch`). */
  readonly fetch: (request: Request, env: ListenerEnv) => Response | Promise<Response>;
  /** A request the listener answered itself (413, 400, 499 before the app): its access-log line. */
  readonly onRejected?: (entry: AccessLogEntry) => void;
  /** A connection over the cap was refused. */
  readonly onShed?: () => void;
  /** Open connections changed. */
  readonly onConnections?: (open: number) => void;
  /** An error the listener could not answer (logged). */
  readonly onError?: (error: unknown) => void;
}

/** A listening server. */
export interface NodeServer {
  readonly port: number;
  /** Stops accepting; resolves when the open responses have ended and connections closed. */
  shutdown(): Promise<void>;
}

/**
 * Default {@linkcode ListenerLimits} other than the cap and the body size.
 *
 * @example
 * ```ts
 * import { DEFAULT_LISTENER_TIMEOUTS } from "./node_server.ts";
 * DEFAULT_LISTENER_TIMEOUTS.headerTimeoutMs; // 30000
 * ```
 */
export const DEFAULT_LISTENER_TIMEOUTS = {
  headerTimeoutMs: 30_000,
  bodyTimeoutMs: 60_000,
  idleTimeoutMs: 60_000,
} as const;

/**
 * The default connection cap: a third of the descriptors the process may open (beyond a
 * reserve of 64 for the listener, logs, discovery and Redis), since a proxied request holds its
 * client connection and up to two engine connections (a PD pair) at once. 10,000 when the limit
 * cannot be read.
 *
 * @example
 * ```ts
 * import { defaultMaxConnections } from "./node_server.ts";
 * defaultMaxConnections("Max open files            1024                 4096                 files\n"); // 320
 * ```
 */
export function defaultMaxConnections(limits?: string): number {
  let text = limits;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/self/limits");
    } catch {
      return 10_000;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m || m[1] === "unlimited") return 10_000;
  return Math.max(16, Math.floor((Number(m[1]) - 64) / 3));
}

/** The request id, by the app's rule (so both sides agree on it). */
function _requestId(req: http.IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return requestIdFrom(typeof given === "string" ? given : undefined);
}

function _rawErrorResponse(error: RouterError, requestId?: string): string {
  const body = JSON.stringify(error.toBody());
  const reason = http.STATUS_CODES[error.status] ?? "Error";
  return `HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n` +
    (requestId ? `x-request-id: ${requestId}\r\n` : "") + `\r\n${body}`;
}

/**
 * Serves `options.fetch` on `node:http`.
 *
 * @example
 * ```ts ignore
 * import { serveNode } from "./node_server.ts";
 * const server = await serveNode({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, maxConnections: 1000, headerTimeoutMs: 30_000, bodyTimeoutMs: 60_000, idleTimeoutMs: 60_000, maxBodyBytes: 1 << 25 });
 * await server.shutdown();
 * ```
 */
export async function serveNode(options: NodeServeOptions): Promise<NodeServer> {
  // One sweep for every connection's read deadline (see deadlines.ts); a quarter of the
  // shortest timeout apart, so a deadline fires at most 25 % late.
  const shortest = Math.min(
    ...[options.headerTimeoutMs, options.bodyTimeoutMs, options.idleTimeoutMs].filter((ms) =>
      ms > 0
    ),
  );
  const deadlines = new Deadlines<Socket>(
    Math.min(1000, Math.max(25, Math.floor(shortest / 4))),
    (socket) => socket.destroy(),
  );
  const sockets = new Set<Socket>();
  /** Sockets with a response in progress (not closed on shutdown until it ends). */
  const busy = new WeakSet<Socket>();
  let closing = false;

  const disarm = (socket: Socket) => deadlines.delete(socket);
  const arm = (socket: Socket, ms: number) => deadlines.set(socket, ms);

  const server = http.createServer();
  // Our own timers enforce these; the runtime's may not.
  server.keepAliveTimeout = options.idleTimeoutMs;

  server.on("connection", (socket: Socket) => {
    if (sockets.size >= options.maxConnections || closing) {
      options.onShed?.();
      const error = closing
        ? new RouterError(503, "router is shutting down", { category: "proxy" })
        : new RouterError(503, "too many connections", { category: "proxy" });
      // Written and closed at once: a refused connection must not hold its descriptor.
      socket.on("error", () => {});
      socket.end(_rawErrorResponse(error), () => socket.destroy());
      return;
    }
    sockets.add(socket);
    options.onConnections?.(sockets.size);
    arm(socket, options.headerTimeoutMs);
    socket.once("data", (chunk: Uint8Array) => firstPackets.set(socket, chunk));
    socket.on("close", () => {
      disarm(socket);
      sockets.delete(socket);
      options.onConnections?.(sockets.size);
    });
    socket.on("error", () => {});
  });

  /** A connection's first bytes until its first request parses (for a refused one's id). */
  const firstPackets = new WeakMap<Socket, Uint8Array>();
  /** The request whose body is being read on a socket: a parse error is its to answer. */
  const reading = new WeakMap<Socket, (message: string) => void>();

  server.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
    const inBody = reading.get(socket);
    if (inBody) {
      inBody(error.message);
      return;
    }
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const routerError = error.code === "HPE_HEADER_OVERFLOW"
      ? new RouterError(431, "request headers too large", { category: "request_parsing" })
      : Errors.unreadableBody(`malformed HTTP request: ${error.message}`);
    // The parser keeps what it could not parse: the client's request id is in there.
    const packet = (error as { rawPacket?: Uint8Array }).rawPacket ?? firstPackets.get(socket);
    const given = packet
      ? /\r\nx-request-id:[ \t]*([^\r\n]*)/i.exec(new TextDecoder().decode(packet))?.[1]?.trim()
      : undefined;
    const requestId = requestIdFrom(given);
    options.onRejected?.({
      timestamp: new Date().toISOString(),
      request_id: requestId,
      method: "",
      path: "",
      status_code: routerError.status,
      duration_ms: 0,
      error: { type: routerError.category, message: routerError.message },
    });
    // Destroyed once written, never left half-open: on Deno a connection whose parser failed
    // and that is only ended leaves that parser in the runtime's shared parser pool in a bad
    // state, and an engine leg that gets it later cannot parse a well-formed answer (about 1
    // leg in 500 in the fuzz test before this).
    socket.end(_rawErrorResponse(routerError, requestId), () => socket.destroy());
  });

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    disarm(socket);
    firstPackets.delete(socket);
    busy.add(socket);
    const started = performance.now();
    const startedAt = Date.now();
    const path = (req.url ?? "/").split("?")[0]!;
    const requestId = _requestId(req);
    const reject = (error: RouterError) => {
      options.onRejected?.({
        timestamp: new Date(startedAt).toISOString(),
        request_id: requestId,
        method: req.method ?? "",
        path,
        status_code: error.status,
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        error: { type: error.category, message: error.message },
      });
      if (res.headersSent || !socket.writable) {
        res.destroy();
        return;
      }
      const body = JSON.stringify(error.toBody());
      res.writeHead(error.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "x-request-id": requestId,
        connection: "close",
      });
      // Closed for good once written (see the clientError handler for why not half-open).
      res.end(body, () => socket.destroy());
    };
    res.on("finish", () => {
      busy.delete(socket);
      if (closing) socket.end();
      else if (!socket.destroyed) arm(socket, options.idleTimeoutMs);
    });

    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > options.maxBodyBytes) {
      req.resume();
      reject(Errors.bodyTooLarge(options.maxBodyBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    arm(socket, options.bodyTimeoutMs);
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      arm(socket, options.bodyTimeoutMs);
      size += chunk.byteLength;
      if (size > options.maxBodyBytes) {
        failed = true;
        reject(Errors.bodyTooLarge(options.maxBodyBytes));
        return;
      }
      chunks.push(chunk);
    });
    const bodyFailed = (message: string) => {
      reading.delete(socket);
      if (failed) return;
      failed = true;
      disarm(socket);
      const gone = !socket.writable || socket.destroyed;
      reject(gone ? Errors.clientClosed() : Errors.unreadableBody(`malformed chunk or ${message}`));
    };
    reading.set(socket, bodyFailed);
    req.on("aborted", () => bodyFailed("connection closed before the body ended"));
    req.on("error", (e: Error) => bodyFailed(e.message));
    req.on("end", () => {
      reading.delete(socket);
      if (failed) return;
      disarm(socket);
      const bodyText = chunks.length === 1
        ? chunks[0]!.toString("utf8")
        : Buffer.concat(chunks).toString("utf8");
      _dispatch(req, res, bodyText, requestId).catch((e) => {
        options.onError?.(e);
        if (!res.headersSent) {
          reject(new RouterError(500, "internal error", { category: "internal" }));
        } else res.destroy();
      });
    });
  });

  async function _dispatch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bodyText: string,
    requestId: string,
  ): Promise<void> {
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const raw = req.rawHeaders;
    const headers = new Headers();
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    const host = req.headers.host ?? "localhost";
    const request = new Request(`http://${host}${req.url ?? "/"}`, {
      method: req.method ?? "GET",
      headers,
    });
    const response = await options.fetch(request, {
      requestId,
      bodyText,
      signal: abort.signal,
      pushBodies: true,
    });
    await _write(res, response);
  }

  server.listen(options.port, options.hostname);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", () => resolve());
    server.once("error", reject);
  });
  server.on("error", (e) => options.onError?.(e));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  return {
    port,
    shutdown: () => {
      closing = true;
      deadlines.close();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() open; busy ones end after their
        // response (the `finish` handler above).
        for (const socket of sockets) if (!busy.has(socket)) socket.end();
      });
    },
  };
}

/** Writes a web Response to a node response, with backpressure; stops when the client left. */
async function _write(res: http.ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") headers[name] = response.headers.getSetCookie();
    else headers[name] = value;
  });
  const text = responseText(response);
  const push = text === undefined ? pushBodyOf(response) : undefined;
  const body = response.body;
  if (text !== undefined || (body === null && !push)) {
    const payload = text ?? "";
    headers["content-length"] = String(Buffer.byteLength(payload));
    res.writeHead(response.status, headers);
    res.end(payload);
    return;
  }
  res.writeHead(response.status, headers);
  if (push) {
    let ended = false;
    const taken = push.take({
      chunk: (bytes) => res.write(bytes),
      end: () => {
        ended = true;
        res.end();
      },
      error: () => {
        ended = true;
        res.destroy();
      },
    });
    if (taken) {
      res.on("drain", () => push.resume());
      res.on("close", () => {
        if (!ended && !res.writableFinished) push.cancel();
      });
      return;
    }
  }
  if (!body) {
    res.end();
    return;
  }
  const reader = body.getReader();
  const onClose = () => {
    if (!res.writableFinished) reader.cancel().catch(() => {});
  };
  res.on("close", onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
      }
    }
    res.end();
  } catch {
    // The stream broke after the status was sent: all that can be done is to close.
    res.destroy();
  }
}
