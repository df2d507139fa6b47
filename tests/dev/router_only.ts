/**
 * `deno task dev --router-only`: the fast demo, no cluster. Starts a small fleet of simulated
 * engines (child processes of `tests/sim/main.ts`, by {@linkcode spawnSimulator}), writes their ModelRoutes, ModelServers and Pods into
 * `.runtime/objects/`, serves the router in file mode on 127.0.0.1:8080, and prints requests to
 * try. Ctrl-C stops everything.
 *
 * The fleet:
 * - `qwen3`: aggregated serving, two vLLM engines (the ModelServer's `spec.model` maps the name
 *   to `Qwen/Qwen3-0.6B`);
 * - `qwen3-pd`: prefill/decode disaggregation over NIXL, two PD groups of one prefill and one
 *   decode engine each (engines refuse KV transfers across groups).
 *
 * Flags: `--port 8080`, `--profile a100-8b` (simulator latency profile).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { FileSource } from "../../router/discovery/file_source.ts";
import { JsonLineWriter } from "../../router/http/access_log.ts";
import { stderrLogger } from "../../router/log.ts";
import { createRouter, type RunningRouter, serveRouter } from "../../router/router.ts";
import { modelRoute, modelServer, pod } from "../../router/testing/objects.ts";
import { type SimulatorProcess, spawnSimulator } from "../sim/process.ts";

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

const ROOT = new URL("../../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);

interface EngineSpec {
  name: string;
  args: string[];
  labels: Record<string, string>;
}

function fleet(profile: string): EngineSpec[] {
  const common = ["--profile", profile, "--output-len-min", "8", "--output-len-max", "48"];
  const specs: EngineSpec[] = [0, 1].map((i) => ({
    name: `qwen3-${i}`,
    args: [...common, "--model", "Qwen/Qwen3-0.6B", "--seed", String(i + 1)],
    labels: { app: "qwen3" },
  }));
  for (const group of ["g0", "g1"]) {
    for (const role of ["prefill", "decode"] as const) {
      specs.push({
        name: `qwen3-pd-${group}-${role}`,
        args: [
          ...common,
          "--model",
          "Qwen/Qwen3-8B",
          "--role",
          role,
          "--kv-connector",
          "nixl",
          "--pd-group",
          group,
          "--refuse-cross-group",
        ],
        labels: {
          app: "qwen3-pd",
          "modelserving.volcano.sh/group-name": group,
          "modelserving.volcano.sh/role": role,
        },
      });
    }
  }
  return specs;
}

function objectsYaml(engines: { spec: EngineSpec; port: number }[]): Record<string, string> {
  const docs = (objects: unknown[]) =>
    objects.map((o) => stringify(o, { version: "1.1" })).join("---\n");
  const routes = [
    modelRoute("qwen3", {
      modelName: "qwen3",
      rules: [{ targetModels: [{ modelServerName: "qwen3" }] }],
    }),
    modelRoute("qwen3-pd", {
      modelName: "qwen3-pd",
      rules: [{ targetModels: [{ modelServerName: "qwen3-pd" }] }],
    }),
  ];
  const servers = [
    modelServer("qwen3", {
      model: "Qwen/Qwen3-0.6B",
      workloadSelector: { matchLabels: { app: "qwen3" } },
      trafficPolicy: { timeout: "30s", retry: { attempts: 2, retryInterval: "100ms" } },
    }),
    modelServer("qwen3-pd", {
      model: "Qwen/Qwen3-8B",
      workloadSelector: {
        matchLabels: { app: "qwen3-pd" },
        pdGroup: {
          groupKey: "modelserving.volcano.sh/group-name",
          prefillLabels: { "modelserving.volcano.sh/role": "prefill" },
          decodeLabels: { "modelserving.volcano.sh/role": "decode" },
        },
      },
      kvConnector: { type: "nixl" },
      trafficPolicy: { timeout: "30s" },
    }),
  ];
  const strip = <T extends { metadata: Record<string, unknown>; status?: unknown }>(o: T) => {
    const { status: _status, ...rest } = o;
    return { ...rest, metadata: { name: o.metadata.name, namespace: o.metadata.namespace } };
  };
  const pods = engines.map(({ spec, port }) =>
    pod(spec.name, {
      labels: spec.labels,
      ip: "127.0.0.1",
      annotations: { "router.kthena.io/workload-port": String(port) },
    })
  );
  return {
    "routes.yaml": docs(routes.map(strip)),
    "servers.yaml": docs(servers.map(strip)),
    "pods.yaml": docs(pods),
  };
}

/**
 * Runs the router-only demo until SIGINT/SIGTERM.
 *
 * @param args `--port 8080`, `--profile a100-8b`.
 * @returns The exit code.
 * @example
 * ```ts ignore
 * Deno.exit(await runRouterOnly(["--port", "8080"]));
 * ```
 */
export async function runRouterOnly(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      profile: { type: "string", default: "a100-8b" },
    },
  });
  const port = Number(values.port);
  const runtime = path(".runtime");
  const objectsDir = `${runtime}/objects`;
  const logDir = `${runtime}/logs`;
  const named: { name: string; sim: SimulatorProcess }[] = [];
  await Deno.mkdir(objectsDir, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });
  for await (const e of Deno.readDir(objectsDir)) {
    await Deno.remove(`${objectsDir}/${e.name}`, { recursive: true });
  }

  const specs = fleet(values.profile);
  say(`Starting ${specs.length} simulated engines (their stderr goes to .runtime/logs/ on exit) …`);
  const engines = named;
  let router: RunningRouter | undefined;
  const accessLog = new JsonLineWriter();
  const stopAll = async () => {
    await Promise.race([router?.shutdown(), new Promise((r) => setTimeout(r, 2000))]);
    await Promise.all(engines.map(async (e) => {
      await e.sim.stop();
      await Deno.writeTextFile(`${logDir}/${e.name}.log`, e.sim.stderr());
    }));
    await accessLog.flush();
  };
  try {
    const started = await Promise.allSettled(
      specs.map(async (s) => ({ name: s.name, sim: await spawnSimulator(s.args) })),
    );
    for (const s of started) if (s.status === "fulfilled") engines.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const files = objectsYaml(specs.map((spec, i) => ({ spec, port: engines[i]!.sim.port })));
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${objectsDir}/${name}`, text);
    }

    const log = stderrLogger("warn");
    router = await serveRouter(
      createRouter({
        sources: [new FileSource({ dir: objectsDir, log })],
        log,
        accessLog: accessLog.sink,
      }),
      { hostname: "127.0.0.1", port, log },
    );
  } catch (e) {
    say(`dev: ${(e as Error).message}`);
    if ((e as Error).name === "AddrInUse") {
      say(`Port ${port} is taken; try: deno task dev --port 8081`);
    }
    await stopAll();
    return 1;
  }

  const url = router.url;
  const body = (model: string, stream: boolean) =>
    JSON.stringify({
      model,
      messages: [{
        role: "user",
        content: "Explain prefill/decode disaggregation in one sentence.",
      }],
      max_tokens: 32,
      stream,
    });
  say();
  say(`kthena-router listening on ${url} (file mode: .runtime/objects/, edit the YAML live)`);
  for (const e of engines) say(`  engine ${e.name.padEnd(24)} ${e.sim.url}`);
  say();
  say("Streamed, through a prefill/decode pair (NIXL):");
  say(
    `  curl -N ${url}/v1/chat/completions -H 'content-type: application/json' -d '${
      body("qwen3-pd", true)
    }'`,
  );
  say("Not streamed, prefill/decode:");
  say(
    `  curl ${url}/v1/chat/completions -H 'content-type: application/json' -d '${
      body("qwen3-pd", false)
    }'`,
  );
  say("Streamed, aggregated:");
  say(
    `  curl -N ${url}/v1/chat/completions -H 'content-type: application/json' -d '${
      body("qwen3", true)
    }'`,
  );
  say("Completions API, aggregated:");
  say(
    `  curl ${url}/v1/completions -H 'content-type: application/json' -d '${
      JSON.stringify({ model: "qwen3", prompt: "The capital of France is", max_tokens: 16 })
    }'`,
  );
  say(`Models: curl ${url}/v1/models    Metrics: curl ${url}/metrics`);
  say();
  say("Access log below (one JSON line per request). Ctrl-C stops everything.");

  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stop.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  say("\nStopping …");
  await stopAll();
  return 0;
}

if (import.meta.main) Deno.exit(await runRouterOnly(Deno.args));
