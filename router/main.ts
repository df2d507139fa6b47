/**
 * kthena-router: the OpenAI-compatible, prefill/decode-aware router.
 *
 * ```sh
 * deno run -A --unstable-no-legacy-abort router/main.ts --source files --files objects/ \
 *   [--port 8080] [--host 0.0.0.0] [--config router.yaml]
 * ```
 *
 * Flags: `--port` (8080), `--host` (0.0.0.0), `--source files|kubernetes` (files when `--files`
 * is given), `--files <dir>`, `--config <file>` (upstream's `routerConfiguration`),
 * `--access-log true|false` (true), `--log-level debug|info|warn|error` (info),
 * `--max-body-bytes` (32 MiB), `--drain-timeout` (Go duration, 30s); the listener's
 * `--max-connections` (a third of the descriptor limit), `--header-timeout` (30s),
 * `--body-timeout` (60s), `--idle-timeout` (60s); the engine legs' `--first-byte-timeout` (5m),
 * `--stream-idle-timeout` (60s) and `--engine-idle-timeout` (30s, idle pooled connections).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseDuration } from "./config/duration.ts";
import { DEFAULT_ROUTER_CONFIG, loadRouterConfig } from "./config/router_config.ts";
import { FileSource } from "./discovery/file_source.ts";
import { JsonLineWriter } from "./http/access_log.ts";
import type { DiscoverySource } from "./discovery/source.ts";
import { type LogLevel, stderrLogger } from "./log.ts";
import { createRouter, serveRouter } from "./router.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./app.ts";

const USAGE = `usage: kthena-router [--port 8080] [--host 0.0.0.0] [--source files|kubernetes]
                     [--files <dir>] [--kubeconfig <file>] [--namespace <ns>]
                     [--config <file>] [--access-log true|false]
                     [--log-level info] [--max-body-bytes N] [--drain-timeout 30s]
                     [--max-connections N] [--header-timeout 30s] [--body-timeout 60s]
                     [--idle-timeout 60s] [--first-byte-timeout 5m]
                     [--stream-idle-timeout 60s] [--engine-idle-timeout 30s]`;

/** Parsed command line. */
export interface MainFlags {
  port: number;
  host: string;
  source: "files" | "kubernetes";
  files: string | undefined;
  /** Kubernetes source: a kubeconfig (else `$KUBECONFIG`, in-cluster, `~/.kube/config`). */
  kubeconfig: string | undefined;
  /** Kubernetes source: watch one namespace only. */
  namespace: string | undefined;
  config: string | undefined;
  accessLog: boolean;
  logLevel: LogLevel;
  maxBodyBytes: number;
  drainTimeoutMs: number;
  /** Listener connection cap (undefined: derived from the descriptor limit). */
  maxConnections: number | undefined;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  firstByteTimeoutMs: number;
  streamIdleTimeoutMs: number;
  engineIdleTimeoutMs: number;
}

/**
 * Parses the command line.
 *
 * @throws {Error} on an unknown flag or a bad value.
 * @example
 * ```ts
 * import { parseFlags } from "./main.ts";
 * parseFlags(["--files", "objects", "--port", "9000"]).source; // "files"
 * ```
 */
export function parseFlags(args: readonly string[]): MainFlags {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "0.0.0.0" },
      source: { type: "string" },
      files: { type: "string" },
      kubeconfig: { type: "string" },
      namespace: { type: "string" },
      config: { type: "string" },
      "access-log": { type: "string", default: "true" },
      "log-level": { type: "string", default: "info" },
      "max-body-bytes": { type: "string", default: String(DEFAULT_MAX_BODY_BYTES) },
      "drain-timeout": { type: "string", default: "30s" },
      "max-connections": { type: "string" },
      "header-timeout": { type: "string", default: "30s" },
      "body-timeout": { type: "string", default: "60s" },
      "idle-timeout": { type: "string", default: "60s" },
      "first-byte-timeout": { type: "string", default: "5m" },
      "stream-idle-timeout": { type: "string", default: "60s" },
      "engine-idle-timeout": { type: "string", default: "30s" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) throw new Error(USAGE);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port: not a port: ${values.port}`);
  }
  const source = values.source ?? (values.files !== undefined ? "files" : "kubernetes");
  if (source !== "files" && source !== "kubernetes") {
    throw new Error(`--source must be files or kubernetes, got ${JSON.stringify(source)}`);
  }
  if (source === "files" && values.files === undefined) {
    throw new Error("--source files needs --files <dir>");
  }
  const level = values["log-level"];
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new Error(`--log-level: ${level}?`);
  }
  const maxBodyBytes = Number(values["max-body-bytes"]);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new Error("--max-body-bytes: a positive integer");
  }
  let maxConnections: number | undefined;
  if (values["max-connections"] !== undefined) {
    maxConnections = Number(values["max-connections"]);
    if (!Number.isInteger(maxConnections) || maxConnections <= 0) {
      throw new Error("--max-connections: a positive integer");
    }
  }
  type DurationFlag =
    | "drain-timeout"
    | "header-timeout"
    | "body-timeout"
    | "idle-timeout"
    | "first-byte-timeout"
    | "stream-idle-timeout"
    | "engine-idle-timeout";
  const duration = (flag: DurationFlag): number => {
    try {
      return parseDuration(values[flag]);
    } catch (e) {
      throw new Error(`--${flag}: ${(e as Error).message}`);
    }
  };
  return {
    port,
    host: values.host,
    source,
    files: values.files,
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    config: values.config,
    accessLog: values["access-log"] !== "false",
    logLevel: level as LogLevel,
    maxBodyBytes,
    drainTimeoutMs: duration("drain-timeout"),
    maxConnections,
    headerTimeoutMs: duration("header-timeout"),
    bodyTimeoutMs: duration("body-timeout"),
    idleTimeoutMs: duration("idle-timeout"),
    firstByteTimeoutMs: duration("first-byte-timeout"),
    streamIdleTimeoutMs: duration("stream-idle-timeout"),
    engineIdleTimeoutMs: duration("engine-idle-timeout"),
  };
}

/**
 * Runs the router until SIGINT or SIGTERM.
 *
 * @returns The exit code.
 * @example
 * ```ts ignore
 * import { main } from "./main.ts";
 * Deno.exit(await main(["--files", "objects"]));
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  let flags: MainFlags;
  try {
    flags = parseFlags(args);
  } catch (e) {
    await Deno.stderr.write(new TextEncoder().encode(`${(e as Error).message}\n`));
    return 2;
  }
  const log = stderrLogger(flags.logLevel);
  let config = DEFAULT_ROUTER_CONFIG;
  if (flags.config) {
    try {
      config = await loadRouterConfig(flags.config);
    } catch (e) {
      log("error", `cannot load ${flags.config}`, { error: (e as Error).message });
      return 2;
    }
  }
  const accessLog = flags.accessLog ? new JsonLineWriter() : undefined;
  let running;
  let client: { close(): void } | undefined;
  try {
    let source: DiscoverySource;
    if (flags.source === "kubernetes") {
      // Loaded only in this mode: the Kubernetes client library alone is about 100 MB of
      // resident memory, which file mode does without.
      const [{ KubeClient }, { KubernetesSource }] = await Promise.all([
        import("@kthena/shared/k8s"),
        import("./discovery/kubernetes_source.ts"),
      ]);
      const kube = KubeClient.load({ path: flags.kubeconfig });
      client = kube;
      source = new KubernetesSource({ client: kube, namespace: flags.namespace, log });
    } else {
      source = new FileSource({ dir: flags.files!, log });
    }
    const router = createRouter({
      sources: [source],
      config,
      log,
      processMetrics: true,
      maxBodyBytes: flags.maxBodyBytes,
      timeouts: { firstByteMs: flags.firstByteTimeoutMs, idleMs: flags.streamIdleTimeoutMs },
      engineClient: { idleTimeoutMs: flags.engineIdleTimeoutMs },
      ...(accessLog ? { accessLog: accessLog.sink } : {}),
    });
    running = await serveRouter(router, {
      hostname: flags.host,
      port: flags.port,
      log,
      headerTimeoutMs: flags.headerTimeoutMs,
      bodyTimeoutMs: flags.bodyTimeoutMs,
      idleTimeoutMs: flags.idleTimeoutMs,
      ...(flags.maxConnections !== undefined ? { maxConnections: flags.maxConnections } : {}),
    });
  } catch (e) {
    log("error", "cannot start", { error: (e as Error).message });
    return 1;
  }
  log("info", "kthena-router listening", {
    url: running.url,
    source: flags.source,
    files: flags.files,
  });

  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stop.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  log("info", "draining", { timeoutMs: flags.drainTimeoutMs });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    running.shutdown(),
    new Promise((resolve) => timer = setTimeout(resolve, flags.drainTimeoutMs)),
  ]);
  clearTimeout(timer);
  await accessLog?.flush();
  client?.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
