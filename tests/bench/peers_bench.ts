/**
 * Peer benchmark (on demand, never in CI): our router against vllm-router 0.1.17 and
 * sglang-router 0.3.2 (PyPI, pinned; installed on first use into venvs under `.cache/peers/`),
 * in front of the same simulators, measured by one load generator that costs less than the
 * routers (a small Go closed-loop client, tests/bench/loadgen/, built into `.cache/bench/`).
 *
 * ```sh
 * deno task bench peers [--rounds 3] [--requests 6000] [--concurrency 64] [--quick]
 *   [--streams 2000] [--scenarios chat,stream,c1,pd-nixl,pd-sglang,open-streams]
 *   [--peer-policy round_robin] [--max-minutes 45]
 * ```
 *
 * Defaults: 3 rounds, 6,000 requests per run, 2,000 open streams (about 15 minutes on 2
 * cores); `--quick`: 1 round, 1,500 requests, 500 streams (about 3 minutes). `--max-minutes`
 * bounds the whole run; every process it started is stopped at the end, on an error and on
 * SIGINT/SIGTERM.
 *
 * Needs `go` (builds the load generator, no modules fetched) and `python3` with `venv` and
 * PyPI (installs the peers). A peer that cannot be installed or started, or a target that dies
 * during a run, is reported as unavailable, with the error, and the others still run.
 *
 * Targets, each a separate process on 127.0.0.1 (everything binds and dials 127.0.0.1 only):
 *
 * - `direct`: the load generator straight to the simulator (in the PD scenarios, to an
 *   aggregated simulator of the same flavour: one engine hop, the PD routers make two);
 * - `raw`: a bare `Deno.serve` + `fetch` passthrough (router_raw_proxy.ts), the runtime's floor;
 * - `ours`: router/main.ts in file mode (`--access-log false --log-level warn`);
 * - `vllm-router`, `sglang-router`: the peers, policy `round_robin` (`--peer-policy`) so their
 *   prefix trees (the default `cache_aware`) do not count against them; one worker anyway.
 *
 * Scenarios (simulators at time scale 0, i.e. they answer at once, so what is left is the
 * routers' and the load generator's own cost):
 *
 * - `chat`: non-streamed chat, 16 output tokens, concurrency `--concurrency` (64);
 * - `stream`: streamed chat, 64 output tokens (the whole SSE body is read and must end with
 *   `data: [DONE]`);
 * - `c1`: the `chat` request at concurrency 1, for the added p50 of one request on an idle box;
 * - `pd-nixl`: streamed chat, 64 tokens, through a prefill and a decode simulator of vLLM NIXL
 *   flavour: ours with a ModelServer `kvConnector: nixl` vs vllm-router
 *   `--vllm-pd-disaggregation --kv-connector nixl`;
 * - `pd-sglang`: the same with SGLang-flavour simulators (bootstrap protocol): ours with an
 *   SGLang ModelServer vs sglang-router `--pd-disaggregation`;
 * - `open-streams`: `--streams` (2,000) concurrent SSE streams of 32 tokens 250 ms apart
 *   (simulator time scale 250 on the `fast` profile: 8 s unloaded, 10–15 s with 2,000 running),
 *   opened over 2 s: completed, errors, peak open at once (client side), the router's CPU per
 *   stream and its peak RSS.
 *
 * Each scenario starts its own simulators and routers (so peak RSS is that scenario's), warms
 * every target up, then runs `--rounds` rounds; a round runs every target once, in an order
 * rotated from round to round so drift does not always hit the same target.
 *
 * How to read the tables (median over rounds; ratios and differences are taken within a round):
 *
 * - `req/s` and `÷ direct`: closed-loop throughput and its ratio to direct in the same round.
 *   On a 2-core box shared by load generator, simulator and router, this mostly measures how
 *   much CPU the router takes from the other two.
 * - `+p50`, `+p99`: the target's latency percentile minus direct's (ms). At c=64 this is
 *   dominated by CPU contention (Little's law), at c=1 (`c1`) it is the hop's own latency.
 * - `CPU µs/req`: utime+stime of the router process and its children (/proc/<pid>/stat) over
 *   the run, divided by the requests: the figure that carries over to a router on cores of
 *   its own. The peers run in a Python process (a pyo3 extension), so theirs includes an idle
 *   interpreter.
 * - `peak RSS`: VmHWM of the router process (and children) at the end of the scenario.
 * - `load generator: N µs CPU per request`: the Go client's own cost (getrusage), to check that
 *   it is cheaper than what it measures.
 * - PD: the PD routers make two engine hops where direct makes one, so `÷ direct` includes the
 *   second simulator's work; compare the routers with each other. With SGLang simulators both
 *   legs run at once and meet in the bootstrap handshake, which makes that scenario the
 *   noisiest from run to run.
 *
 * Only ratios within one run are meaningful; other load on the machine moves everything. The
 * raw results are written as JSON to `.cache/bench/peers-<time>.json`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { modelRoute, modelServer, pod } from "../../router/testing/objects.ts";
import { type SimulatorProcess, spawnSimulator } from "../sim/process.ts";
import { buildLoadgen, type LoadResult, runLoad } from "./loadgen.ts";
import { installPeer, type PeerInstall, type PeerName, PEERS, startPeer } from "./peers.ts";
import {
  cpuSeconds,
  onCleanup,
  peakRssMiB,
  repoPath,
  type ServerProcess,
  startDenoServer,
  stopAll,
} from "./procs.ts";

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    requests: { type: "string" },
    concurrency: { type: "string", default: "64" },
    streams: { type: "string" },
    scenarios: { type: "string", default: "chat,stream,c1,pd-nixl,pd-sglang,open-streams" },
    "peer-policy": { type: "string", default: "round_robin" },
    "max-minutes": { type: "string" },
  },
});
const QUICK = flags.quick;
const ROUNDS = Number(flags.rounds ?? (QUICK ? 1 : 3));
const REQUESTS = Number(flags.requests ?? (QUICK ? 1500 : 6000));
const CONCURRENCY = Number(flags.concurrency);
const STREAMS = Number(flags.streams ?? (QUICK ? 500 : 2000));
const POLICY = flags["peer-policy"];
const MAX_MINUTES = Number(flags["max-minutes"] ?? (QUICK ? 20 : 45));
const SCENARIOS = flags.scenarios.split(",").map((s) => s.trim()).filter(Boolean);
for (const [k, v] of Object.entries({ ROUNDS, REQUESTS, CONCURRENCY, STREAMS, MAX_MINUTES })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bad ${k.toLowerCase()}: ${v}`);
}

type TargetName = "direct" | "raw" | "ours" | PeerName;
type Flavour = "vllm" | "sglang";

interface Scenario {
  key: string;
  title: string;
  flavour: Flavour;
  pd: boolean;
  stream: boolean;
  maxTokens: number;
  concurrency: number;
  requests: number;
  targets: TargetName[];
  /** The open-streams mode: one long run per target. */
  openStreams?: boolean;
}

const ALL_SCENARIOS: Scenario[] = [
  {
    key: "chat",
    title: `non-streamed chat, 16 output tokens, c=${CONCURRENCY}`,
    flavour: "vllm",
    pd: false,
    stream: false,
    maxTokens: 16,
    concurrency: CONCURRENCY,
    requests: REQUESTS,
    targets: ["direct", "raw", "ours", "vllm-router", "sglang-router"],
  },
  {
    key: "stream",
    title: `streamed chat, 64 output tokens, c=${CONCURRENCY}`,
    flavour: "vllm",
    pd: false,
    stream: true,
    maxTokens: 64,
    concurrency: CONCURRENCY,
    requests: REQUESTS,
    targets: ["direct", "raw", "ours", "vllm-router", "sglang-router"],
  },
  {
    key: "c1",
    title: "non-streamed chat, 16 output tokens, c=1",
    flavour: "vllm",
    pd: false,
    stream: false,
    maxTokens: 16,
    concurrency: 1,
    requests: Math.max(300, Math.round(REQUESTS / 4)),
    targets: ["direct", "raw", "ours", "vllm-router", "sglang-router"],
  },
  {
    key: "pd-nixl",
    title: `PD, vLLM NIXL simulators, streamed chat, 64 tokens, c=${CONCURRENCY}`,
    flavour: "vllm",
    pd: true,
    stream: true,
    maxTokens: 64,
    concurrency: CONCURRENCY,
    requests: REQUESTS,
    targets: ["direct", "ours", "vllm-router"],
  },
  {
    key: "pd-sglang",
    title: `PD, SGLang bootstrap simulators, streamed chat, 64 tokens, c=${CONCURRENCY}`,
    flavour: "sglang",
    pd: true,
    stream: true,
    maxTokens: 64,
    concurrency: CONCURRENCY,
    requests: REQUESTS,
    targets: ["direct", "ours", "sglang-router"],
  },
  {
    key: "open-streams",
    title: `${STREAMS} concurrent SSE streams (32 tokens, 250 ms apart)`,
    flavour: "vllm",
    pd: false,
    stream: true,
    maxTokens: 32,
    concurrency: STREAMS,
    requests: STREAMS,
    targets: ["direct", "raw", "ours", "vllm-router", "sglang-router"],
    openStreams: true,
  },
];
for (const s of SCENARIOS) {
  if (!ALL_SCENARIOS.some((x) => x.key === s)) throw new Error(`unknown scenario ${s}`);
}

const MODEL = "m";
const body = (s: Scenario, maxTokens = s.maxTokens, stream = s.stream) =>
  JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: "Explain how a router picks an engine for a request" }],
    max_tokens: maxTokens,
    ...(stream ? { stream: true } : {}),
  });

/** A POST through `url` answers 200 (readiness of every target). */
function probe(s: Scenario): (url: string) => Promise<boolean> {
  const b = body(s, 2, false);
  return async (url) => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: b,
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.status === 200;
  };
}

async function spawnSim(args: string[]): Promise<SimulatorProcess> {
  const sim = await spawnSimulator(args, { timeoutMs: 60_000 });
  onCleanup(() => sim.stop());
  return sim;
}

/** Simulator flags of a scenario: model `m`, profile fast, natural output longer than asked. */
function simArgs(s: Scenario, extra: string[] = []): string[] {
  const open = s.openStreams === true;
  return [
    ...(s.flavour === "sglang" ? ["--engine", "sglang"] : []),
    "--model",
    MODEL,
    "--profile",
    "fast",
    "--time-scale",
    open ? "250" : "0",
    "--output-len-min",
    "4096",
    "--output-len-max",
    "4096",
    "--max-num-seqs",
    String(Math.max(1024, s.concurrency + 100)),
    "--num-gpu-blocks",
    String(Math.max(8192, s.concurrency * 8)),
    ...extra,
  ];
}

const yamlDocs = (docs: unknown[]) =>
  docs.map((d) => stringify(d, { version: "1.1" })).join("---\n");

/** Objects of our router: the route, the server (PD or not) and the engines' pods. */
function routerObjects(
  s: Scenario,
  engines: { sim: SimulatorProcess; role?: "prefill" | "decode" }[],
): string {
  const pdGroup = s.pd
    ? {
      pdGroup: {
        groupKey: "group",
        prefillLabels: { role: "prefill" },
        decodeLabels: { role: "decode" },
      },
    }
    : {};
  return yamlDocs([
    modelRoute(MODEL, {
      modelName: MODEL,
      rules: [{ targetModels: [{ modelServerName: MODEL }] }],
    }),
    modelServer(MODEL, {
      model: MODEL,
      inferenceEngine: s.flavour === "sglang" ? "SGLang" : "vLLM",
      workloadSelector: { matchLabels: { app: MODEL }, ...pdGroup },
      ...(s.pd && s.flavour === "vllm" ? { kvConnector: { type: "nixl" } } : {}),
    }),
    ...engines.map(({ sim, role }, i) =>
      pod(`${MODEL}-${i}`, {
        labels: { app: MODEL, ...(role ? { group: "g0", role } : {}) },
        annotations: {
          "router.kthena.io/workload-port": String(sim.port),
          ...(sim.bootstrapPort ? { "sglang.ai/bootstrap-port": String(sim.bootstrapPort) } : {}),
        },
      })
    ),
  ]);
}

interface Target {
  name: TargetName;
  /** Base URL, when available. */
  url?: string;
  /** Router process whose CPU and RSS are measured (not for direct). */
  proc?: ServerProcess;
  unavailable?: string;
}

interface Run {
  round: number;
  load: LoadResult;
  cpuMicrosPerRequest?: number;
}

interface TargetResult {
  name: TargetName;
  unavailable?: string;
  runs: Run[];
  peakRssMiB?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const peerInstalls = new Map<PeerName, PeerInstall>();

async function startTargets(s: Scenario, dir: string): Promise<Target[]> {
  const p = probe(s);
  const targets: Target[] = [];
  // Engines: an aggregated one (direct, raw, ours and the peers outside PD), plus a prefill
  // and a decode one in the PD scenarios.
  const agg = await spawnSim(simArgs(s));
  let prefill: SimulatorProcess | undefined;
  let decode: SimulatorProcess | undefined;
  if (s.pd) {
    const connector = s.flavour === "sglang" ? "sglang" : "nixl";
    prefill = await spawnSim(simArgs(s, ["--kv-connector", connector, "--role", "prefill"]));
    decode = await spawnSim(simArgs(s, ["--kv-connector", connector, "--role", "decode"]));
  }
  const engines = s.pd
    ? [{ sim: prefill!, role: "prefill" as const }, { sim: decode!, role: "decode" as const }]
    : [{ sim: agg }];
  await Deno.writeTextFile(`${dir}/${s.key}.yaml`, routerObjects(s, engines));

  for (const name of s.targets) {
    try {
      if (name === "direct") {
        targets.push({ name, url: agg.url });
      } else if (name === "raw") {
        const proc = await startDenoServer(
          "raw proxy",
          "tests/bench/router_raw_proxy.ts",
          (port) => [String(port), agg.url],
          p,
        );
        targets.push({ name, url: proc.url, proc });
      } else if (name === "ours") {
        const proc = await startDenoServer("our router", "router/main.ts", (port) => [
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
          "--drain-timeout",
          "1s",
        ], p);
        targets.push({ name, url: proc.url, proc });
      } else {
        const install = peerInstalls.get(name);
        if (!install || !install.ok) {
          targets.push({ name, unavailable: install?.error ?? "not installed" });
          continue;
        }
        const workers = s.pd
          ? {
            mode: "pd" as const,
            prefill: prefill!.url,
            decode: decode!.url,
            ...(prefill!.bootstrapPort ? { bootstrapPort: prefill!.bootstrapPort } : {}),
          }
          : { mode: "regular" as const, url: agg.url };
        const proc = await startPeer(name, install, workers, POLICY, p);
        targets.push({ name, url: proc.url, proc });
      }
    } catch (e) {
      targets.push({ name, unavailable: `could not start: ${(e as Error).message}` });
    }
  }
  return targets;
}

let loadgen = "";

async function measure(s: Scenario, t: Target, round: number): Promise<Run> {
  const cpu0 = t.proc ? await cpuSeconds(t.proc.pid) : 0;
  const load = await runLoad(loadgen, {
    url: `${t.url}/v1/chat/completions`,
    body: body(s),
    concurrency: s.concurrency,
    requests: s.requests,
    stream: s.stream,
    ...(s.openStreams ? { rampMs: 2000, timeoutMs: 120_000 } : {}),
    deadlineMs: 180_000,
  });
  const cpu = t.proc ? (await cpuSeconds(t.proc.pid)) - cpu0 : undefined;
  return {
    round,
    load,
    ...(cpu !== undefined && load.requests > 0
      ? { cpuMicrosPerRequest: (cpu / load.requests) * 1e6 }
      : {}),
  };
}

async function runScenario(s: Scenario): Promise<TargetResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "kthena-peers-" });
  const removeDir = onCleanup(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  try {
    const targets = await startTargets(s, dir);
    const live = targets.filter((t) => !t.unavailable);
    const results = new Map<TargetName, TargetResult>(
      targets.map((t) => [t.name, { name: t.name, unavailable: t.unavailable, runs: [] }]),
    );
    if (!s.openStreams) {
      for (const t of live) {
        await runLoad(loadgen, {
          url: `${t.url}/v1/chat/completions`,
          body: body(s),
          concurrency: Math.min(16, s.concurrency),
          requests: QUICK ? 1000 : 2000, // JIT-compiles the Deno targets' hot paths
          stream: s.stream,
          deadlineMs: 60_000,
        });
      }
    }
    const rounds = s.openStreams ? 1 : ROUNDS;
    for (let r = 0; r < rounds; r++) {
      const order = live.map((_, i) => live[(i + r) % live.length]!);
      for (const t of order) {
        if (t.unavailable) continue;
        const run = await measure(s, t, r);
        const died = t.proc?.exitStatus();
        if (died) {
          // Its runs are void: say why, with the end of what it printed.
          t.unavailable = `died during the run (exit code ${died.code}${
            died.signal ? `, signal ${died.signal}` : ""
          }); its last output:\n${t.proc!.output().slice(-2000)}`;
          const res = results.get(t.name)!;
          res.unavailable = t.unavailable;
          res.runs = [];
          continue;
        }
        results.get(t.name)!.runs.push(run);
        if (s.openStreams) await new Promise((res) => setTimeout(res, 1000));
      }
    }
    for (const t of live) {
      if (t.proc && !t.unavailable) {
        results.get(t.name)!.peakRssMiB = await peakRssMiB(t.proc.pid);
      }
    }
    return [...results.values()];
  } finally {
    await stopAll(); // this scenario's simulators and routers
    await removeDir();
  }
}

const f = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")
    } |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)]
    .join("\n");
}

function report(s: Scenario, results: TargetResult[]): string {
  const direct = results.find((r) => r.name === "direct");
  const byRound = (r: number) => direct?.runs.find((x) => x.round === r)?.load;
  const notes: string[] = [];
  const rows: string[][] = [];
  for (const t of results) {
    if (t.unavailable) {
      rows.push([t.name, "unavailable", ...Array(s.openStreams ? 7 : 8).fill("")]);
      notes.push(`${t.name}: ${t.unavailable}`);
      continue;
    }
    const errors = t.runs.reduce((a, r) => a + r.load.errors, 0);
    const kinds: Record<string, number> = {};
    for (const r of t.runs) {
      for (const [k, v] of Object.entries(r.load.error_kinds)) kinds[k] = (kinds[k] ?? 0) + v;
    }
    if (errors > 0) notes.push(`${t.name} errors: ${JSON.stringify(kinds)}`);
    const cpu = median(t.runs.flatMap((r) => r.cpuMicrosPerRequest ?? []));
    if (s.openStreams) {
      const r = t.runs[0]!.load;
      rows.push([
        t.name,
        String(r.requests),
        String(r.ok),
        String(r.errors),
        String(r.peak_open),
        f(r.p50_ms / 1000, 1),
        f(r.max_ms / 1000, 1),
        f(cpu),
        f(t.peakRssMiB, 1),
      ]);
      continue;
    }
    const per = (fn: (run: LoadResult, d: LoadResult) => number) =>
      median(t.runs.flatMap((run) => {
        const d = byRound(run.round);
        return d ? [fn(run.load, d)] : [];
      }));
    rows.push([
      t.name,
      f(median(t.runs.map((r) => r.load.rps))),
      f(per((x, d) => x.rps / d.rps), 2),
      f(median(t.runs.map((r) => r.load.p50_ms)), 3),
      f(median(t.runs.map((r) => r.load.p99_ms)), 3),
      t.name === "direct" ? "—" : f(per((x, d) => x.p50_ms - d.p50_ms), 3),
      t.name === "direct" ? "—" : f(per((x, d) => x.p99_ms - d.p99_ms), 3),
      f(cpu),
      f(t.peakRssMiB, 1),
      String(errors),
    ]);
  }
  const header = s.openStreams
    ? [
      "target",
      "streams",
      "ok",
      "errors",
      "peak open",
      "p50 s",
      "max s",
      "CPU µs/stream",
      "peak RSS MiB",
    ]
    : [
      "target",
      "req/s",
      "÷ direct",
      "p50 ms",
      "p99 ms",
      "+p50 ms",
      "+p99 ms",
      "CPU µs/req",
      "peak RSS MiB",
      "errors",
    ];
  const loadgenCpu = median(
    results.flatMap((t) => t.runs.map((r) => r.load.cpu_us_per_request)),
  );
  notes.push(
    `load generator: ${f(loadgenCpu)} µs CPU per ${s.openStreams ? "stream" : "request"} ` +
      `(median over its runs)`,
  );
  if (s.pd) notes.push("direct: an aggregated simulator of the same flavour (one engine hop)");
  return [
    `### ${s.key}: ${s.title}`,
    "",
    table(header, rows),
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
}

const watchdog = setTimeout(() => {
  say(`\nthe benchmark ran past --max-minutes ${MAX_MINUTES}: stopping`);
  stopAll().finally(() => Deno.exit(1));
}, MAX_MINUTES * 60_000);

let exitCode = 0;
try {
  say(
    `peer benchmark (${QUICK ? "quick" : "full"}): ${ROUNDS} round(s), ${REQUESTS} requests per ` +
      `run, c=${CONCURRENCY}, ${STREAMS} open streams, ${navigator.hardwareConcurrency} CPUs, ` +
      `peer policy ${POLICY}`,
  );
  loadgen = await buildLoadgen();
  const wanted = new Set(
    ALL_SCENARIOS.filter((s) => SCENARIOS.includes(s.key)).flatMap((s) => s.targets),
  );
  for (const name of Object.keys(PEERS) as PeerName[]) {
    if (!wanted.has(name)) continue;
    const install = await installPeer(name, say);
    peerInstalls.set(name, install);
    say(
      install.ok
        ? `${name} ${PEERS[name].version}: ${install.dir}`
        : `${name} ${PEERS[name].version}: UNAVAILABLE: ${install.error}`,
    );
  }
  const all: Record<string, TargetResult[]> = {};
  for (const s of ALL_SCENARIOS.filter((x) => SCENARIOS.includes(x.key))) {
    say(`\nrunning ${s.key} …`);
    const t0 = performance.now();
    try {
      const results = await runScenario(s);
      all[s.key] = results;
      say(`(${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
      say(report(s, results));
    } catch (e) {
      say(`### ${s.key}: FAILED: ${(e as Error).message}`);
      exitCode = 1;
    }
  }
  await Deno.mkdir(repoPath(".cache/bench"), { recursive: true });
  const file = repoPath(
    `.cache/bench/peers-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
  );
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      {
        flags: { QUICK, ROUNDS, REQUESTS, CONCURRENCY, STREAMS, POLICY },
        versions: PEERS,
        results: all,
      },
      null,
      2,
    ),
  );
  say(`\nraw results: ${file}`);
} catch (e) {
  say(`peer benchmark failed: ${(e as Error).stack ?? e}`);
  exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await stopAll();
}
Deno.exit(exitCode);
