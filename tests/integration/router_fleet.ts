/**
 * A router in file mode in front of simulator child processes, for the router's integration
 * tests: engines are spawned with `spawnSimulator`, their Pods (IP 127.0.0.1, port and SGLang
 * bootstrap port as annotations) and the given ModelRoutes/ModelServers are written as YAML into
 * a temporary directory the router's file source watches.
 *
 * @module
 */
import { stringify } from "yaml";
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import type { RouterConfig } from "../../router/config/router_config.ts";
import type { Pod } from "../../router/datastore/pod.ts";
import { FileSource } from "../../router/discovery/file_source.ts";
import type { AccessLogEntry } from "../../router/http/access_log.ts";
import {
  createRouter,
  type RunningRouter,
  type ServeOptions,
  serveRouter,
} from "../../router/router.ts";
import type { TimeoutDefaults } from "../../router/proxy/attempts.ts";
import { pod } from "../../router/testing/objects.ts";
import { type SimulatorProcess, spawnSimulator } from "../sim/process.ts";

/** One simulated engine of the fleet. */
export interface EngineSpec {
  /** Pod name. */
  name: string;
  /** Simulator flags, or a function of the engines started before (for `--lmcache-remote`). */
  args: string[] | ((started: ReadonlyMap<string, SimulatorProcess>) => string[]);
  /** Pod labels. */
  labels: Record<string, string>;
}

/**
 * Simulator flags of one PD engine of the router tests: model Qwen/Qwen3-8B, profile fast, the
 * connector's protocol, its PD group (cross-group pairings refused), and for an LMCache decode
 * the side channel of its prefill.
 */
export function pdSimulatorArgs(
  connector: string,
  pdGroup: string,
  role: "prefill" | "decode",
  prefillSideChannelPort?: number,
): string[] {
  return [
    ...(connector === "sglang" ? ["--engine", "sglang"] : []),
    "--model",
    "Qwen/Qwen3-8B",
    "--profile",
    "fast",
    "--kv-connector",
    connector,
    "--pd-group",
    pdGroup,
    "--refuse-cross-group",
    "--role",
    role,
    ...(connector === "lmcache" && role === "decode"
      ? ["--lmcache-remote", `http://127.0.0.1:${prefillSideChannelPort}`]
      : []),
  ];
}

/** A running fleet. */
export interface Fleet {
  readonly router: RunningRouter;
  readonly url: string;
  /** The objects directory. */
  readonly dir: string;
  /** Engines by pod name. */
  readonly sims: ReadonlyMap<string, SimulatorProcess>;
  /** Access-log entries so far. */
  readonly log: AccessLogEntry[];
  /** The Pod object of an engine. */
  podOf(name: string, overrides?: Parameters<typeof pod>[1]): Pod;
  /** Writes objects into `<dir>/<file>` (replacing it). */
  write(file: string, objects: unknown[]): Promise<void>;
  /** Stops the router and every engine, removes the directory. */
  stop(): Promise<void>;
}

/** Serialises objects as a multi-document YAML file. */
export function yamlDocs(objects: unknown[]): string {
  return objects.map((o) => stringify(o, { version: "1.1" })).join("---\n");
}

/**
 * Starts engines and a router over them.
 *
 * @example
 * ```ts ignore
 * const fleet = await startFleet({ engines: [...], objects: [route, server] });
 * try { … } finally { await fleet.stop(); }
 * ```
 */
export async function startFleet(options: {
  engines: EngineSpec[];
  objects: (ModelRoute | ModelServer)[];
  config?: RouterConfig;
  /** Listener settings (connection cap, read timeouts). */
  serve?: ServeOptions;
  /** Router defaults (leg timeouts). */
  timeouts?: TimeoutDefaults;
}): Promise<Fleet> {
  const sims = new Map<string, SimulatorProcess>();
  const dir = await Deno.makeTempDir({ prefix: "kthena-router-it-" });
  const log: AccessLogEntry[] = [];
  let router: RunningRouter | undefined;
  const stop = async () => {
    await router?.shutdown();
    await Promise.all([...sims.values()].map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const first = options.engines.filter((e) => Array.isArray(e.args));
    const later = options.engines.filter((e) => !Array.isArray(e.args));
    const spawnAll = async (specs: EngineSpec[]) => {
      const results = await Promise.allSettled(
        specs.map(async (e) => {
          const args = typeof e.args === "function" ? e.args(sims) : e.args;
          sims.set(e.name, await spawnSimulator(args));
        }),
      );
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    };
    await spawnAll(first);
    await spawnAll(later);
    const podOf = (name: string, overrides: Parameters<typeof pod>[1] = {}): Pod => {
      const sim = sims.get(name)!;
      const spec = options.engines.find((e) => e.name === name)!;
      return pod(name, {
        labels: spec.labels,
        ...overrides,
        annotations: {
          "router.kthena.io/workload-port": String(sim.port),
          ...(sim.bootstrapPort ? { "sglang.ai/bootstrap-port": String(sim.bootstrapPort) } : {}),
          ...overrides.annotations,
        },
      });
    };
    await Deno.writeTextFile(`${dir}/objects.yaml`, yamlDocs(options.objects));
    await Deno.writeTextFile(
      `${dir}/pods.yaml`,
      yamlDocs(options.engines.map((e) => podOf(e.name))),
    );
    router = await serveRouter(
      createRouter({
        sources: [new FileSource({ dir, debounceMs: 20 })],
        accessLog: (e) => log.push(e),
        ...(options.config ? { config: options.config } : {}),
        ...(options.timeouts ? { timeouts: options.timeouts } : {}),
      }),
      { hostname: "127.0.0.1", port: 0, ...options.serve },
    );
    return {
      router,
      url: router.url,
      dir,
      sims,
      log,
      podOf,
      write: (file, objects) => Deno.writeTextFile(`${dir}/${file}`, yamlDocs(objects)),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Sums the samples of a metric in Prometheus text, optionally filtered by labels.
 *
 * @example
 * ```ts
 * metricValue('x_total{a="1"} 2\nx_total{a="2"} 3\n', "x_total", { a: "2" }); // 3
 * ```
 */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{\s]+)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const kv of (m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)) found[kv[1]!] = kv[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/** Reads a metric of a simulator or the router. */
export async function scrape(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  return metricValue(await res.text(), name, labels);
}

/** Polls until `check` holds (generous timeout); returns the milliseconds it took. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

/** Posts JSON to the router. */
export function post(
  url: string,
  path: string,
  body: unknown,
  init: RequestInit = {},
): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });
}
