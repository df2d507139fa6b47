/**
 * The health endpoints both programs mount: `/healthz` (liveness), `/readyz` (readiness) and
 * `/metrics` (Prometheus text from a prom-client registry). Checks are named functions; an
 * endpoint answers 200 `ok` when all pass and 503 listing the failures otherwise
 * (`?verbose` lists every check, like the API server's own `/readyz?verbose`).
 *
 * {@linkcode healthHandler} is a plain `(Request) => Response` function, so it can serve on
 * its own port ({@linkcode serveHealth}) or be mounted in a Hono app
 * (`app.get("/readyz", (c) => handler(c.req.raw))`).
 *
 * @module
 */
import { register as globalRegistry, type Registry } from "prom-client";
import type { Informer } from "./informer.ts";
import type { KubeObject } from "./object.ts";

/**
 * One check: passes when it returns `true` or `undefined`; fails when it returns `false`, a
 * string (the reason) or throws.
 */
export type HealthCheck = () =>
  | boolean
  | string
  | undefined
  | void
  | Promise<boolean | string | undefined | void>;

/** Options of {@linkcode healthHandler}. */
export interface HealthOptions {
  /** Liveness checks (keep them cheap; failing restarts the pod). */
  healthz?: Record<string, HealthCheck>;
  /** Readiness checks (e.g. informers synced). */
  readyz?: Record<string, HealthCheck>;
  /** Served on `/metrics`. Default: prom-client's global registry. */
  registry?: Registry;
}

async function runChecks(checks: Record<string, HealthCheck>): Promise<[string, string][]> {
  return await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        const r = await check();
        if (r === true || r === undefined) return [name, ""] as [string, string];
        return [name, r === false ? "failed" : String(r)] as [string, string];
      } catch (e) {
        return [name, e instanceof Error ? e.message : String(e)] as [string, string];
      }
    }),
  );
}

/**
 * A request handler for `/healthz`, `/readyz` and `/metrics` (404 for anything else).
 *
 * @example
 * ```ts
 * import { healthHandler } from "./health.ts";
 * const handler = healthHandler({ readyz: { cache: () => "not synced" } });
 * const res = await handler(new Request("http://x/readyz"));
 * res.status; // 503
 * ```
 */
export function healthHandler(opts: HealthOptions = {}): (req: Request) => Promise<Response> {
  const registry = opts.registry ?? globalRegistry;
  return async (req: Request) => {
    const url = new URL(req.url);
    if (url.pathname === "/metrics") {
      return new Response(await registry.metrics(), {
        headers: { "content-type": registry.contentType },
      });
    }
    const checks = url.pathname === "/healthz" || url.pathname === "/livez"
      ? opts.healthz
      : url.pathname === "/readyz"
      ? opts.readyz
      : null;
    if (checks === null) return new Response("not found\n", { status: 404 });
    const results = await runChecks(checks ?? {});
    const failed = results.filter(([, why]) => why !== "");
    const verbose = url.searchParams.has("verbose");
    const lines = (verbose ? results : failed).map(([name, why]) =>
      why === "" ? `[+]${name} ok` : `[-]${name} failed: ${why}`
    );
    const body = failed.length === 0
      ? (verbose ? lines.join("\n") + "\n" : "") + "ok\n"
      : lines.join("\n") + `\n${url.pathname.slice(1)} check failed\n`;
    return new Response(body, {
      status: failed.length === 0 ? 200 : 503,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };
}

/** A running health server. */
export interface HealthServer {
  /** The port it listens on (useful with port 0). */
  port: number;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

/**
 * Serves {@linkcode healthHandler} on its own port with `Deno.serve`.
 *
 * @example
 * ```ts
 * import { serveHealth } from "./health.ts";
 * const server = serveHealth({ port: 0, hostname: "127.0.0.1" });
 * const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
 * await res.text(); // "ok\n"
 * await server.shutdown();
 * ```
 */
export function serveHealth(
  opts: HealthOptions & { port: number; hostname?: string },
): HealthServer {
  const handler = healthHandler(opts);
  const server = Deno.serve(
    { port: opts.port, hostname: opts.hostname ?? "0.0.0.0", onListen: () => {} },
    handler,
  );
  return {
    port: server.addr.port,
    shutdown: () => server.shutdown(),
  };
}

/**
 * A readiness check over informers: fails until every one has synced, and when one has not
 * heard from the API server (event, bookmark or an accepted watch) for `maxSilenceMs`
 * (default 5 min: twice an informer's default idle timeout, after which it reconnects).
 *
 * @example
 * ```ts ignore
 * import { informersReady, serveHealth } from "./mod.ts";
 * serveHealth({ port: 8080, readyz: { informers: informersReady([pods, routes]) } });
 * ```
 */
export function informersReady(
  informers: Pick<Informer<KubeObject>, "name" | "hasSynced" | "lastEventAgeMs">[],
  maxSilenceMs = 300_000,
): HealthCheck {
  return () => {
    for (const i of informers) {
      if (!i.hasSynced()) return `${i.name} not synced`;
      const age = i.lastEventAgeMs();
      if (age > maxSilenceMs) return `${i.name} silent for ${Math.round(age / 1000)} s`;
    }
    return true;
  };
}
