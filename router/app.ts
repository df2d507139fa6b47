/**
 * The router's HTTP surface, as a Hono app:
 *
 * - `POST` to an inference endpoint (`/v1/chat/completions`, `/v1/completions`, …, see
 *   `http/endpoints.ts`, plus the configured `proxyPaths`) whose JSON body names a model:
 *   routed inference; other `POST /v1/*` paths answer 404 (engine admin endpoints stay private);
 * - `GET /v1/models`: the models the routes serve;
 * - `GET /healthz`, `GET /readyz` (ready once every discovery source has synced), `GET /metrics`.
 *
 * Errors are OpenAI error objects carrying the request's `x-request-id` (computed once per
 * request: the client's when it is a printable token, else a UUID); every `/v1/` request gets
 * one access-log line, including those refused before routing. Tests drive the app in process
 * with `app.request()`, or serve it.
 *
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { Datastore } from "./datastore/datastore.ts";
import type { AccessLogEntry } from "./http/access_log.ts";
import { ProxyPaths } from "./http/endpoints.ts";
import { Errors, RouterError } from "./http/errors.ts";
import { type InferenceDeps, InferenceHandler } from "./http/inference.ts";
import type { ListenerEnv } from "./http/node_server.ts";
import { requestIdOf } from "./http/request_id.ts";
import { readBody } from "./http/read_body.ts";

/** What the app needs. */
export interface AppDeps extends InferenceDeps {
  readonly datastore: Datastore;
  /** Largest request body accepted, bytes. */
  readonly maxBodyBytes: number;
  /** Whether the router is ready (sources synced). */
  readonly isReady: () => boolean;
  /** Middleware run on every `/v1/*` request before it is read (the seam for authentication). */
  readonly middleware?: readonly MiddlewareHandler[];
  /**
   * `POST` paths proxied besides the inference endpoints (the configuration's `proxyPaths`):
   * exact `/v1/...` paths, or `/v1/.../*` prefixes.
   */
  readonly proxyPaths?: readonly string[];
}

/**
 * Default {@linkcode AppDeps.maxBodyBytes}: 32 MiB (long contexts, inline images).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_BODY_BYTES } from "./app.ts";
 * DEFAULT_MAX_BODY_BYTES / 1024 / 1024; // 32
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Per-request state of the app (keyed by the request object, which is never replaced). */
interface RequestState {
  readonly id: string;
  readonly start: number;
  readonly startedAt: number;
  /** An access-log line was written (or the inference handler owns it). */
  logged: boolean;
}

/**
 * Builds the app.
 *
 * @throws {Error} when `deps.proxyPaths` holds a malformed pattern.
 * @example
 * ```ts ignore
 * import { createApp } from "./app.ts";
 * const app = createApp(deps);
 * const res = await app.request("/healthz");
 * ```
 */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const handler = new InferenceHandler(deps);
  const proxied = new ProxyPaths(deps.proxyPaths);
  const states = new WeakMap<Request, RequestState>();
  const stateOf = (c: Context): RequestState => {
    const req = c.req.raw;
    let s = states.get(req);
    if (s === undefined) {
      s = {
        // The listener computed it already; app.request() callers did not.
        id: (c.env as Partial<ListenerEnv> | undefined)?.requestId ?? requestIdOf(req.headers),
        start: performance.now(),
        startedAt: Date.now(),
        logged: false,
      };
      states.set(req, s);
    }
    return s;
  };
  /** Answers `err` for a request the inference handler never saw, with its access-log line. */
  const refuse = (c: Context, err: RouterError, model?: string): Response => {
    const s = stateOf(c);
    const path = c.req.path;
    if (!s.logged && path.startsWith("/v1/")) {
      s.logged = true;
      const ms = performance.now() - s.start;
      deps.metrics.observeRequest({
        model: "unknown",
        path,
        status: err.status,
        errorType: err.category,
        seconds: ms / 1000,
      });
      const entry: AccessLogEntry = {
        timestamp: new Date(s.startedAt).toISOString(),
        request_id: s.id,
        method: c.req.method,
        path,
        status_code: err.status,
        duration_ms: Math.round(ms * 1000) / 1000,
        error: { type: err.category, message: err.message },
      };
      if (model !== undefined) entry.model_name = model;
      deps.accessLog?.(entry);
    }
    return err.toResponse({ "x-request-id": s.id });
  };

  // Every answer carries the request id (the handler's and `refuse`'s already do).
  app.use("*", async (c, next) => {
    const { id } = stateOf(c);
    await next();
    if (!c.res.headers.has("x-request-id")) {
      try {
        c.res.headers.set("x-request-id", id);
      } catch {
        // immutable headers: left as they are
      }
    }
  });

  app.get("/healthz", (c) => c.json({ message: "ok" }));
  app.get(
    "/readyz",
    (c) =>
      deps.isReady()
        ? c.json({ message: "router is ready" })
        : c.json({ message: "router is not ready" }, 503),
  );
  app.get(
    "/metrics",
    async (c) =>
      c.body(await deps.metrics.text(), 200, { "content-type": deps.metrics.contentType }),
  );

  for (const mw of deps.middleware ?? []) app.use("/v1/*", mw);

  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: deps.datastore.modelNames().map((id) => ({
        id,
        object: "model",
        created: 0,
        owned_by: "kthena",
      })),
    }));

  app.post("/v1/*", async (c) => {
    const req = c.req.raw;
    const state = stateOf(c);
    const path = new URL(req.url).pathname;
    let bodyText: string;
    try {
      if (!proxied.allows(path)) throw Errors.pathNotServed(path);
      // The listener has read the body already (node_server.ts); app.request() has not.
      const given = (c.env as Partial<ListenerEnv> | undefined)?.bodyText;
      bodyText = given ?? await readBody(req, deps.maxBodyBytes);
    } catch (e) {
      if (e instanceof RouterError) return refuse(c, e);
      throw e;
    }
    // The handler writes the access-log line, whatever happens.
    state.logged = true;
    const env = c.env as Partial<ListenerEnv> | undefined;
    return await handler.handle(req, {
      requestId: state.id,
      bodyText,
      signal: env?.signal ?? req.signal,
      pushBodies: env?.pushBodies === true,
    });
  });

  app.notFound((c) => refuse(c, Errors.notFound(c.req.method, c.req.path)));
  app.onError((err, c) =>
    refuse(
      c,
      err instanceof RouterError
        ? err
        : new RouterError(500, `internal error: ${err.message}`, { category: "internal" }),
    )
  );
  return app;
}
