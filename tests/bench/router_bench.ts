/**
 * Router benchmarks (on demand, not part of the test suite):
 *
 * ```sh
 * deno run -A --unstable-no-legacy-abort tests/bench/router_bench.ts [--quick] [--pin] [--streams 5000]
 * ```
 *
 * 1. Added latency: the same non-streamed chat request sent directly to a simulator at time
 *    scale 0 and through the router (a separate process, file mode, access log off), at
 *    concurrency 1 and 64, in alternating blocks so drift hits both alike. Reports p50/p99 of
 *    each and the difference (router − direct).
 * 2. Throughput: requests per second through the router at concurrency 64, and per router core
 *    (requests ÷ CPU seconds the router process used, from /proc). A bare `Deno.serve` + `fetch`
 *    proxy (router_raw_proxy.ts) is measured the same way, as the runtime's floor.
 * 3. Streams: N concurrent SSE streams through one router (5,000 by default), each a few seconds
 *    long; reports errors (must be 0), the peak number open at once, and the router's CPU.
 *
 * CPU placement. By default everything shares the machine's CPUs. Then the closed-loop c=64
 * run at time scale 0 saturates them, and the added latency it reports is mostly the CPU the
 * router takes from the load generator and the engine (by Little's law each µs of router CPU
 * adds ~32 µs at c=64 on 2 shared cores), not time the router holds a request. `--pin` (with
 * `taskset`, 2 or more CPUs) runs the router, and the bare proxy it is compared with, on CPUs
 * of their own, and the load generator and the simulators on CPU 0, in the direct runs as in
 * the routed ones, as a router on cores of its own would be deployed. Cross-CPU wake-ups make
 * c=1 slower when pinned. Ratios within one run are what to compare; the per-block spread of
 * the added p99 shows how much of it is noise.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { modelRoute, modelServer, pod } from "../../router/testing/objects.ts";
import { type SimulatorProcess, spawnSimulator } from "../sim/process.ts";
import { cpuSeconds, freePort, repoPath as path } from "./procs.ts";

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    streams: { type: "string", default: "5000" },
    pin: { type: "boolean", default: false },
  },
});
const QUICK = flags.quick;
const STREAMS = Number(flags.streams);

/** Sets the CPU affinity of every thread of `pid` (threads created later inherit it). */
async function pin(pid: number, cpus: string): Promise<void> {
  const out = await new Deno.Command("taskset", {
    args: ["--all-tasks", "--cpu-list", "--pid", cpus, String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`taskset ${cpus} ${pid}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Whether `taskset` can be run. */
async function hasTaskset(): Promise<boolean> {
  try {
    return (await new Deno.Command("taskset", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** CPU placement: `undefined` when unpinned, else the CPU list of the router side. */
const CPUS = navigator.hardwareConcurrency;
const ROUTER_CPUS = flags.pin && CPUS >= 2 && await hasTaskset()
  ? (CPUS === 2 ? "1" : `1-${CPUS - 1}`)
  : undefined;
// The load generator (this process) and the simulators it spawns (they inherit it) on CPU 0.
if (ROUTER_CPUS) await pin(Deno.pid, "0");

interface ServerProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Runs a Deno script on a free port and waits until `readyPath` answers (any status). */
async function startProcess(
  script: string,
  args: (port: number) => string[],
  readyPath: string,
  cpus?: string,
): Promise<ServerProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      `--config=${path("deno.json")}`,
      path(script),
      ...args(port),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (true) {
    const res = await fetch(`${url}${readyPath}`).catch(() => undefined);
    await res?.body?.cancel();
    if (res !== undefined && (readyPath !== "/readyz" || res.status === 200)) break;
    if (Date.now() > deadline) throw new Error(`${script} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (cpus) await pin(child.pid, cpus);
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function writeObjects(dir: string, model: string, sims: SimulatorProcess[]): Promise<void> {
  const docs = [
    modelRoute(model, {
      modelName: model,
      rules: [{ targetModels: [{ modelServerName: model }] }],
    }),
    modelServer(model, { model: "m", workloadSelector: { matchLabels: { app: model } } }),
    ...sims.map((s, i) =>
      pod(`${model}-${i}`, {
        labels: { app: model },
        annotations: { "router.kthena.io/workload-port": String(s.port) },
      })
    ),
  ];
  await Deno.writeTextFile(
    `${dir}/${model}.yaml`,
    docs.map((d) => stringify(d, { version: "1.1" })).join("---\n"),
  );
}

const HEADERS = { "content-type": "application/json" };

/** Sends `total` requests with `concurrency` workers; returns latencies (ms) and errors. */
async function load(
  url: string,
  body: string,
  concurrency: number,
  total: number,
): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++;
      const start = performance.now();
      try {
        const res = await fetch(url, { method: "POST", headers: HEADERS, body });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - start);
    }
  }));
  return { latencies, errors, seconds: (performance.now() - t0) / 1000 };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const ms = (v: number) => `${v.toFixed(3)} ms`;

async function streamsPhase(routerUrl: string, routerPid: number, n: number) {
  const body = JSON.stringify({
    model: "stream",
    messages: [{ role: "user", content: "stream please" }],
    max_tokens: 8,
    ignore_eos: true,
    stream: true,
  });
  let open = 0;
  let peak = 0;
  let errors = 0;
  let completed = 0;
  const errorKinds = new Map<string, number>();
  const fail = (kind: string) => {
    errors++;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  };
  const cpu0 = await cpuSeconds(routerPid);
  const t0 = performance.now();
  const one = async () => {
    open++;
    peak = Math.max(peak, open);
    try {
      const res = await fetch(`${routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: HEADERS,
        body,
      });
      if (res.status !== 200) {
        fail(`status ${res.status}`);
        await res.body?.cancel();
        return;
      }
      const text = await res.text();
      if (!text.trimEnd().endsWith("data: [DONE]")) fail("no [DONE]");
      else if (text.includes('"error"')) fail("error event");
      else completed++;
    } catch (e) {
      fail((e as Error).name);
    } finally {
      open--;
    }
  };
  const all: Promise<void>[] = [];
  // Open in waves of 500 every 100 ms (under the listen backlog), all well within a stream's life.
  for (let i = 0; i < n; i += 500) {
    for (let j = i; j < Math.min(n, i + 500); j++) all.push(one());
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(all);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (await cpuSeconds(routerPid)) - cpu0;
  say(
    `  ${n} streams: ${completed} complete, ${errors} errors${
      errors ? ` (${JSON.stringify(Object.fromEntries(errorKinds))})` : ""
    }, peak ${peak} open at once, ${seconds.toFixed(1)} s, router CPU ${cpu.toFixed(1)} s`,
  );
  return { streams: n, completed, errors, peakOpen: peak, seconds, routerCpuSeconds: cpu };
}

/** Latency of the same request sent directly and through the router, in alternating blocks. */
async function latencyPhase(
  directUrl: string,
  directBody: string,
  routedUrl: string,
  routedBody: string,
  concurrency: number,
  total: number,
  blocks: number,
) {
  const d: number[] = [];
  const r: number[] = [];
  // The added p99 of each pair of blocks: its spread shows how much of the difference is noise.
  const blockAddedP99: number[] = [];
  let errors = 0;
  for (let b = 0; b < blocks; b++) {
    const x = await load(directUrl, directBody, concurrency, total / blocks);
    const y = await load(routedUrl, routedBody, concurrency, total / blocks);
    d.push(...x.latencies);
    r.push(...y.latencies);
    blockAddedP99.push(percentile(y.latencies, 99) - percentile(x.latencies, 99));
    errors += x.errors + y.errors;
  }
  const result = {
    concurrency,
    requests: total,
    errors,
    direct: { p50: percentile(d, 50), p99: percentile(d, 99) },
    router: { p50: percentile(r, 50), p99: percentile(r, 99) },
    added: {
      p50: percentile(r, 50) - percentile(d, 50),
      p99: percentile(r, 99) - percentile(d, 99),
    },
    blockAddedP99: {
      min: Math.min(...blockAddedP99),
      median: percentile(blockAddedP99, 50),
      max: Math.max(...blockAddedP99),
    },
  };
  say(
    `  c=${concurrency}: direct p50 ${ms(result.direct.p50)} p99 ${
      ms(result.direct.p99)
    } | router p50 ${ms(result.router.p50)} p99 ${ms(result.router.p99)} | added p50 ${
      ms(result.added.p50)
    } p99 ${ms(result.added.p99)} (per block ${ms(result.blockAddedP99.min)} … ${
      ms(result.blockAddedP99.max)
    }) | errors ${errors}`,
  );
  return result;
}

const sims: SimulatorProcess[] = [];
let router: ServerProcess | undefined;
let raw: ServerProcess | undefined;
const dir = await Deno.makeTempDir({ prefix: "kthena-bench-" });
try {
  say(
    `router benchmark (${QUICK ? "quick" : "full"}), ${CPUS} CPUs: ${
      ROUTER_CPUS
        ? `router (and bare proxy) on CPU ${ROUTER_CPUS}, load generator and simulators on CPU 0`
        : "shared by load generator, router and simulators (unpinned)"
    }`,
  );
  const fast = await spawnSimulator([
    "--model",
    "m",
    "--profile",
    "fast",
    "--time-scale",
    "0",
    "--max-num-seqs",
    "1024",
  ]);
  sims.push(fast);
  const streamer = await spawnSimulator([
    "--model",
    "m",
    "--profile",
    "fast",
    "--inter-token-latency-ms",
    "1000",
    "--max-num-seqs",
    String(STREAMS + 100),
    "--num-gpu-blocks",
    String(Math.max(8192, STREAMS * 4)),
  ]);
  sims.push(streamer);
  await writeObjects(dir, "fast", [fast]);
  await writeObjects(dir, "stream", [streamer]);
  router = await startProcess(
    "router/main.ts",
    (
      port,
    ) => [
      "--files",
      dir,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--access-log",
      "false",
      "--log-level",
      "warn",
    ],
    "/readyz",
    ROUTER_CPUS,
  );
  raw = await startProcess(
    "tests/bench/router_raw_proxy.ts",
    (port) => [String(port), fast.url],
    "/",
    ROUTER_CPUS,
  );

  const body = JSON.stringify({
    model: "fast",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 4,
  });
  const directBody = body.replace('"fast"', '"m"');
  // Identical engine work: the router rewrites model "fast" to "m" (ModelServer spec.model).
  const directUrl = `${fast.url}/v1/chat/completions`;
  const routed = `${router.url}/v1/chat/completions`;
  const rawUrl = `${raw.url}/v1/chat/completions`;
  say("warm-up …");
  await load(directUrl, directBody, 16, 2000);
  await load(routed, body, 16, 2000);
  await load(rawUrl, directBody, 16, 2000);

  say("added latency (time scale 0), router vs direct:");
  const c1 = await latencyPhase(directUrl, directBody, routed, body, 1, QUICK ? 1000 : 4000, 4);
  const c64 = await latencyPhase(directUrl, directBody, routed, body, 64, QUICK ? 4000 : 40000, 8);
  say("the same for a bare Deno.serve + fetch proxy (the runtime's floor):");
  const raw1 = await latencyPhase(
    directUrl,
    directBody,
    rawUrl,
    directBody,
    1,
    QUICK ? 1000 : 4000,
    4,
  );
  const raw64 = await latencyPhase(
    directUrl,
    directBody,
    rawUrl,
    directBody,
    64,
    QUICK ? 4000 : 40000,
    8,
  );

  say("throughput (c=64):");
  const tputN = QUICK ? 5000 : 30000;
  const directRun = await load(directUrl, directBody, 64, tputN);
  const cpu0 = await cpuSeconds(router.pid);
  const routedRun = await load(routed, body, 64, tputN);
  const cpu = (await cpuSeconds(router.pid)) - cpu0;
  const rawCpu0 = await cpuSeconds(raw.pid);
  const rawRun = await load(rawUrl, directBody, 64, tputN);
  const rawCpu = (await cpuSeconds(raw.pid)) - rawCpu0;
  const throughput = {
    directRps: tputN / directRun.seconds,
    routerRps: tputN / routedRun.seconds,
    routerCpuSeconds: cpu,
    rpsPerRouterCore: tputN / cpu,
    cpuMicrosPerRequest: (cpu / tputN) * 1e6,
    rawProxyRps: tputN / rawRun.seconds,
    rawProxyRpsPerCore: tputN / rawCpu,
    rawProxyCpuMicrosPerRequest: (rawCpu / tputN) * 1e6,
    errors: directRun.errors + routedRun.errors + rawRun.errors,
  };
  say(
    `  direct ${throughput.directRps.toFixed(0)} req/s | router ${
      throughput.routerRps.toFixed(0)
    } req/s (ratio ${(throughput.routerRps / throughput.directRps).toFixed(2)}), ${
      throughput.rpsPerRouterCore.toFixed(0)
    } req/s per core (${throughput.cpuMicrosPerRequest.toFixed(0)} µs CPU/request)`,
  );
  say(
    `  bare proxy ${throughput.rawProxyRps.toFixed(0)} req/s, ${
      throughput.rawProxyRpsPerCore.toFixed(0)
    } req/s per core (${
      throughput.rawProxyCpuMicrosPerRequest.toFixed(0)
    } µs CPU/request) | errors ${throughput.errors}`,
  );

  say("concurrent SSE streams:");
  const streams = await streamsPhase(
    router.url,
    router.pid,
    QUICK ? Math.min(STREAMS, 1000) : STREAMS,
  );

  say();
  say(
    JSON.stringify(
      {
        placement: ROUTER_CPUS ? { routerCpus: ROUTER_CPUS, loadCpus: "0" } : "shared",
        c1,
        c64,
        raw1,
        raw64,
        throughput,
        streams,
      },
      null,
      2,
    ),
  );
} finally {
  await router?.stop();
  await raw?.stop();
  await Promise.all(sims.map((s) => s.stop()));
  await Deno.remove(dir, { recursive: true });
}
