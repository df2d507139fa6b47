/**
 * Assembles the router: datastore, discovery sources, scheduler (from the configuration),
 * metrics, access log, the engine client and the Hono app; and serves it on the `node:http`
 * listener of `http/node_server.ts` (why not `Deno.serve`: see there).
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import { type AppDeps, createApp, DEFAULT_MAX_BODY_BYTES } from "./app.ts";
import { DEFAULT_ROUTER_CONFIG, type RouterConfig } from "./config/router_config.ts";
import { Datastore } from "./datastore/datastore.ts";
import type { DiscoverySource } from "./discovery/source.ts";
import type { AccessLogSink } from "./http/access_log.ts";
import type { AdmissionPolicy } from "./http/admission.ts";
import { type Logger, silentLogger } from "./log.ts";
import { RouterMetrics } from "./metrics/router_metrics.ts";
import { DEFAULT_TIMEOUTS, type TimeoutDefaults } from "./proxy/attempts.ts";
import { EngineClient, type EngineClientOptions } from "./proxy/engine_client.ts";
import {
  DEFAULT_LISTENER_TIMEOUTS,
  defaultMaxConnections,
  type ListenerLimits,
  serveNode,
} from "./http/node_server.ts";
import type { EngineMetrics } from "./scheduler/types.ts";
import { InFlightCounter } from "./scheduler/in_flight.ts";
import { buildProfile } from "./scheduler/profile.ts";
import { PluginRegistry } from "./scheduler/registry.ts";
import { Scheduler } from "./scheduler/scheduler.ts";

/**
 * Options of {@linkcode createRouter}.
 *
 * @example
 * ```ts
 * import type { RouterOptions } from "./router.ts";
 * import { FileSource } from "./discovery/file_source.ts";
 * const options: RouterOptions = { sources: [new FileSource({ dir: "objects" })], accessLog: (e) => console.log(e) };
 * ```
 */
export interface RouterOptions {
  /** Where routing state comes from. */
  readonly sources?: readonly DiscoverySource[];
  /** The configuration file's content. @default DEFAULT_ROUTER_CONFIG */
  readonly config?: RouterConfig;
  /** Plugin registry (to add plugins). @default PluginRegistry.withBuiltins() */
  readonly registry?: PluginRegistry;
  /** Access-log sink; none: no access log. */
  readonly accessLog?: AccessLogSink;
  /** The router's own log. */
  readonly log?: Logger;
  /** Export process metrics too. @default false */
  readonly processMetrics?: boolean;
  /** Largest request body, bytes. @default 32 MiB */
  readonly maxBodyBytes?: number;
  /** Random source (weighted targets). */
  readonly random?: () => number;
  /** Admission policies (rate limits, quotas): see `http/admission.ts`. */
  readonly admission?: readonly AdmissionPolicy[];
  /** Middleware on `/v1/*` before the body is read (authentication). */
  readonly middleware?: readonly MiddlewareHandler[];
  /** Leg timeouts where a ModelServer sets none. @default DEFAULT_TIMEOUTS */
  readonly timeouts?: TimeoutDefaults;
  /** The engine connection pool. */
  readonly engineClient?: EngineClientOptions;
  /** Live engine state per pod key, for scheduler plugins (the seam for metric scraping). */
  readonly engineMetrics?: (podKey: string) => EngineMetrics | undefined;
}

/** A router not yet serving: drive `app` in process, or call {@linkcode serveRouter}. */
export interface Router {
  readonly app: Hono;
  readonly datastore: Datastore;
  readonly metrics: RouterMetrics;
  readonly inFlight: InFlightCounter;
  readonly scheduler: Scheduler;
  readonly sources: readonly DiscoverySource[];
  /** The engine legs' client. */
  readonly engineClient: EngineClient;
  /** Largest request body, bytes. */
  readonly maxBodyBytes: number;
  /** The access-log sink, if any. */
  readonly accessLog?: AccessLogSink;
  /** Starts every source; resolves once all have delivered their initial state. */
  startSources(): Promise<void>;
  /** Stops every source. */
  stopSources(): Promise<void>;
}

/**
 * Builds a router.
 *
 * @throws {Error} when the scheduler configuration is invalid.
 * @example
 * ```ts
 * import { createRouter } from "./router.ts";
 * const router = createRouter({});
 * const res = await router.app.request("/healthz");
 * res.status; // 200
 * ```
 */
export function createRouter(options: RouterOptions): Router {
  const log = options.log ?? silentLogger;
  const config = options.config ?? DEFAULT_ROUTER_CONFIG;
  const registry = options.registry ?? PluginRegistry.withBuiltins();
  const built = buildProfile(
    config.scheduler ?? { pluginConfig: [] },
    registry,
  );
  for (const w of built.warnings) log("warn", w);
  const metrics = new RouterMetrics({ processMetrics: options.processMetrics ?? false });
  const scheduler = new Scheduler(built.profile, (ctx, plugin, kind, seconds) => {
    metrics.observePlugin(ctx.request.model, plugin.name, kind, seconds);
  });
  const datastore = new Datastore();
  const inFlight = new InFlightCounter();
  const sources = options.sources ?? [];
  const engineClient = new EngineClient(options.engineClient);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const deps: AppDeps = {
    datastore,
    engineClient,
    timeouts: options.timeouts ?? DEFAULT_TIMEOUTS,
    scheduler,
    inFlight,
    metrics,
    maxBodyBytes,
    isReady: () => sources.every((s) => datastore.hasSynced(s.name)),
    ...(options.accessLog ? { accessLog: options.accessLog } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.admission ? { admission: options.admission } : {}),
    ...(options.middleware ? { middleware: options.middleware } : {}),
    ...(options.engineMetrics ? { engineMetrics: options.engineMetrics } : {}),
    ...(config.proxyPaths ? { proxyPaths: config.proxyPaths } : {}),
  };
  const app = createApp(deps);
  return {
    app,
    datastore,
    metrics,
    inFlight,
    scheduler,
    sources,
    engineClient,
    maxBodyBytes,
    ...(options.accessLog ? { accessLog: options.accessLog } : {}),
    startSources: async () => {
      await Promise.all(sources.map((s) => s.start(datastore)));
    },
    stopSources: async () => {
      await Promise.all(sources.map((s) => s.stop()));
    },
  };
}

/** Where and how to listen. */
export interface ServeOptions extends Partial<Omit<ListenerLimits, "maxBodyBytes">> {
  /** @default "127.0.0.1" */
  readonly hostname?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** The router's own log. */
  readonly log?: Logger;
}

/** A serving router. */
export interface RunningRouter extends Router {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops the sources and the server (waiting for responses in progress). */
  shutdown(): Promise<void>;
}

/**
 * Serves a router: listens, then starts the sources (`/readyz` answers 503 until they synced);
 * resolves once they have.
 *
 * @example
 * ```ts ignore
 * import { createRouter, serveRouter } from "./router.ts";
 * const running = await serveRouter(createRouter({ sources: [] }), { port: 0 });
 * await running.shutdown();
 * ```
 */
export async function serveRouter(
  router: Router,
  options: ServeOptions = {},
): Promise<RunningRouter> {
  const log = options.log ?? silentLogger;
  const hostname = options.hostname ?? "127.0.0.1";
  const server = await serveNode({
    hostname,
    port: options.port ?? 8080,
    maxConnections: options.maxConnections ?? defaultMaxConnections(),
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_LISTENER_TIMEOUTS.headerTimeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_LISTENER_TIMEOUTS.bodyTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_LISTENER_TIMEOUTS.idleTimeoutMs,
    maxBodyBytes: router.maxBodyBytes,
    fetch: (request, env) => router.app.fetch(request, env),
    onShed: () => router.metrics.connectionShed(),
    onConnections: (open) => router.metrics.setOpenConnections(open),
    onError: (e) => log("error", "unhandled error", { error: String(e) }),
    ...(router.accessLog ? { onRejected: router.accessLog } : {}),
  });
  const port = server.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  try {
    await router.startSources();
  } catch (e) {
    await server.shutdown();
    router.engineClient.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    ...router,
    url: `http://${host}:${port}`,
    port,
    shutdown: () =>
      closing ??= (async () => {
        await router.stopSources();
        await server.shutdown();
        router.engineClient.close();
      })(),
  };
}
