/**
 * The router's HTTP surface, as a Hono app:
 *
 * - `POST /v1/*` whose JSON body names a model: routed inference (`/v1/chat/completions`,
 *   `/v1/completions`, and every other OpenAI path the engines serve, as upstream);
 * - `GET /v1/models`: the models the routes serve;
 * - `GET /healthz`, `GET /readyz` (ready once every discovery source has synced), `GET /metrics`.
 *
 * Errors are OpenAI error objects. Tests drive the app in process with `app.request()`.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Datastore } from "./datastore/datastore.ts";
import { Errors, RouterError } from "./http/errors.ts";
import { type InferenceDeps, InferenceHandler } from "./http/inference.ts";
import type { ListenerEnv } from "./http/node_server.ts";

/** What the app needs. */
export interface AppDeps extends InferenceDeps {
  readonly datastore: Datastore;
  /** Largest request body accepted, bytes. */
  readonly maxBodyBytes: number;
  /** Whether the router is ready (sources synced). */
  readonly isReady: () => boolean;
  /** Middleware run on every `/v1/*` request before it is read (the seam for authentication). */
  readonly middleware?: readonly MiddlewareHandler[];
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

const REQUEST_ID = /^[\w\-=]{1,255}$/;

/**
 * The client's `x-request-id` when it is a sane token, else a new UUID. (Hono's request-id
 * middleware does the same but sets the header through the context, which re-wraps every
 * response; the relay sets it on the response it builds anyway.)
 */
function requestIdOf(req: Request): string {
  const given = req.headers.get("x-request-id");
  return given !== null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * Builds the app.
 *
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

  app.post(
    "/v1/*",
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: (c) =>
        Errors.bodyTooLarge(deps.maxBodyBytes).toResponse({
          "x-request-id": requestIdOf(c.req.raw),
        }),
    }),
    async (c) => {
      // bodyLimit may have replaced the request; the copy's signal follows the original's.
      const req = c.req.raw;
      const requestId = requestIdOf(req);
      // The listener has read the body already (node_server.ts); app.request() has not.
      const given = (c.env as Partial<ListenerEnv> | undefined)?.bodyText;
      let bodyText: string;
      try {
        bodyText = given ?? await req.text();
      } catch (e) {
        return Errors.invalidJson(`body could not be read: ${(e as Error).message}`)
          .toResponse({ "x-request-id": requestId });
      }
      return handler.handle(req, { requestId, bodyText, signal: req.signal });
    },
  );

  app.notFound((c) => Errors.notFound(c.req.method, c.req.path).toResponse());
  app.onError((err, c) => {
    if (err instanceof RouterError) return err.toResponse();
    return new RouterError(500, `internal error: ${err.message}`, { category: "internal" })
      .toResponse({ "x-request-id": c.req.header("x-request-id") ?? "" });
  });
  return app;
}
