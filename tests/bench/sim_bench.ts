/**
 * Simulator benchmark (on demand, not part of the test suite):
 *
 * 1. One simulator process holds N (default 2,000) concurrent streaming chat requests, all
 *    running at once (`--max-num-seqs N`), each streaming T tokens at the model's pace; every
 *    stream must end with `[DONE]` and the right usage. Reports errors, wall time, peak
 *    concurrency seen in `/metrics`, peak RSS of the simulator process, and its CPU time.
 * 2. Request rate at `--time-scale 0` (no simulated waiting): C closed-loop clients for D
 *    seconds, non-streaming then streaming.
 *
 * The load generator runs in this process on the same machine, so absolute figures are a
 * floor for the simulator, not a ceiling.
 *
 * ```sh
 * deno run -A --unstable-no-legacy-abort tests/bench/sim_bench.ts [--streams 2000] [--tokens 64]
 *   [--itl-ms 50] [--clients 64] [--seconds 5]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { type SimulatorProcess, spawnSimulator } from "../sim/process.ts";

/** Benchmark parameters. */
export interface BenchOptions {
  /** Concurrent streams in part 1. */
  streams: number;
  /** Tokens per stream. */
  tokens: number;
  /** Inter-token latency of part 1, ms. */
  itlMs: number;
  /** Closed-loop clients in part 2. */
  clients: number;
  /** Duration of each part-2 run, seconds. */
  seconds: number;
}

/** Figures of part 1. */
export interface ConcurrencyResult {
  /** Streams started. */
  streams: number;
  /** Streams that failed (status, missing `[DONE]`, wrong usage, transport error). */
  errors: number;
  /** First start to last `[DONE]`, seconds. */
  wallSeconds: number;
  /** Highest `vllm:num_requests_running` scraped during the run. */
  peakRunning: number;
  /** Peak resident set of the simulator process, MiB (VmHWM). */
  peakRssMiB: number;
  /** Simulator CPU time over the run, seconds (user + system). */
  cpuSeconds: number;
  /** Mean client-side time to first token, ms. */
  meanTtftMs: number;
  /** SSE data events received. */
  events: number;
}

/** Figures of one part-2 run. */
export interface RateResult {
  /** `non-streaming` or `streaming`. */
  mode: string;
  /** Requests completed per second. */
  requestsPerSecond: number;
  /** Failed requests. */
  errors: number;
  /** Simulator CPU per request, µs. */
  cpuMicrosPerRequest: number;
}

const CLK_TCK = 100;
/** ITL multiplier with every slot busy (part 1 runs at full load by design). */
const LOAD_FACTOR = 1.5;

async function procStat(pid: number): Promise<{ cpuSeconds: number; hwmMiB: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return { cpuSeconds, hwmMiB: Number(hwm?.[1] ?? 0) / 1024 };
}

async function scrapeRunning(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^vllm:num_requests_running\{[^}]*\} (\S+)$/m.exec(text);
  return Number(m?.[1] ?? 0);
}

async function oneStream(
  url: string,
  tokens: number,
  i: number,
): Promise<{ ok: boolean; ttftMs: number; events: number }> {
  const start = performance.now();
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        messages: [{ role: "user", content: `stream ${i} please` }],
        max_tokens: tokens,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { ok: false, ttftMs: 0, events: 0 };
    }
    let ttftMs = 0;
    let events = 0;
    let done = false;
    let usage = -1;
    const parsed = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(
      new EventSourceParserStream(),
    );
    for await (const ev of parsed) {
      events++;
      if (ev.data === "[DONE]") {
        done = true;
        continue;
      }
      if (ttftMs === 0 && ev.data.includes('"content":"') && !ev.data.includes('"role"')) {
        ttftMs = performance.now() - start;
      }
      const u = /"completion_tokens":(\d+)/.exec(ev.data);
      if (u !== null) usage = Number(u[1]);
    }
    return { ok: done && usage === tokens, ttftMs, events };
  } catch {
    return { ok: false, ttftMs: 0, events: 0 };
  }
}

/**
 * Part 1: N concurrent streams against one simulator process.
 *
 * @example
 * ```ts ignore
 * const r = await benchConcurrentStreams({ streams: 2000, tokens: 64, itlMs: 50, clients: 64, seconds: 5 });
 * ```
 */
export async function benchConcurrentStreams(o: BenchOptions): Promise<ConcurrencyResult> {
  const sim = await spawnSimulator([
    "--model",
    "m",
    "--profile",
    "fast",
    "--max-num-seqs",
    String(o.streams),
    "--inter-token-latency-ms",
    String(o.itlMs),
    "--time-factor-under-load",
    String(LOAD_FACTOR),
    "--num-gpu-blocks",
    String(Math.max(8192, o.streams * Math.ceil((o.tokens + 32) / 16) + 64)),
  ]);
  try {
    const before = await procStat(sim.pid);
    let peakRunning = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakRunning = Math.max(peakRunning, await scrapeRunning(sim.url).catch(() => 0));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: o.streams }, (_, i) => oneStream(sim.url, o.tokens, i)),
    );
    const wallSeconds = (performance.now() - start) / 1000;
    sampling = false;
    await sampler;
    const after = await procStat(sim.pid);
    const ok = results.filter((r) => r.ok);
    return {
      streams: o.streams,
      errors: results.length - ok.length,
      wallSeconds,
      peakRunning,
      peakRssMiB: after.hwmMiB,
      cpuSeconds: after.cpuSeconds - before.cpuSeconds,
      meanTtftMs: ok.reduce((s, r) => s + r.ttftMs, 0) / Math.max(1, ok.length),
      events: results.reduce((s, r) => s + r.events, 0),
    };
  } finally {
    await sim.stop();
  }
}

async function closedLoop(
  sim: SimulatorProcess,
  o: BenchOptions,
  stream: boolean,
): Promise<RateResult> {
  const body = JSON.stringify({
    model: "m",
    messages: [{ role: "user", content: "How fast can you go?" }],
    max_tokens: 16,
    ignore_eos: true,
    stream,
  });
  const deadline = performance.now() + o.seconds * 1000;
  let done = 0;
  let errors = 0;
  const before = await procStat(sim.pid);
  const start = performance.now();
  await Promise.all(Array.from({ length: o.clients }, async () => {
    while (performance.now() < deadline) {
      try {
        const res = await fetch(`${sim.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const text = await res.text();
        if (
          res.status === 200 &&
          (stream ? text.endsWith("data: [DONE]\n\n") : text.includes('"usage"'))
        ) done++;
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const after = await procStat(sim.pid);
  return {
    mode: stream ? "streaming" : "non-streaming",
    requestsPerSecond: done / seconds,
    errors,
    cpuMicrosPerRequest: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / Math.max(1, done),
  };
}

/**
 * Part 2: closed-loop request rate at time scale 0.
 *
 * @example
 * ```ts ignore
 * const [plain, sse] = await benchRequestRate({ streams: 0, tokens: 0, itlMs: 0, clients: 64, seconds: 5 });
 * ```
 */
export async function benchRequestRate(o: BenchOptions): Promise<RateResult[]> {
  const sim = await spawnSimulator([
    "--model",
    "m",
    "--profile",
    "fast",
    "--time-scale",
    "0",
    "--max-num-seqs",
    "1024",
  ]);
  try {
    await closedLoop(sim, { ...o, seconds: 1 }, false); // warm-up (JIT, connection pool)
    return [await closedLoop(sim, o, false), await closedLoop(sim, o, true)];
  } finally {
    await sim.stop();
  }
}

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      streams: { type: "string", default: "2000" },
      tokens: { type: "string", default: "64" },
      "itl-ms": { type: "string", default: "50" },
      clients: { type: "string", default: "64" },
      seconds: { type: "string", default: "5" },
    },
  });
  const o: BenchOptions = {
    streams: Number(values.streams),
    tokens: Number(values.tokens),
    itlMs: Number(values["itl-ms"]),
    clients: Number(values.clients),
    seconds: Number(values.seconds),
  };
  print(
    `machine: ${navigator.hardwareConcurrency} CPUs, deno ${Deno.version.deno}, load ${
      Deno.loadavg().join(" ")
    }`,
  );
  const c = await benchConcurrentStreams(o);
  print(
    `\n## ${c.streams} concurrent streaming requests (${o.tokens} tokens each, ITL ${o.itlMs} ms, one process)`,
  );
  print(`errors:            ${c.errors}`);
  print(
    `wall time:         ${c.wallSeconds.toFixed(2)} s (model time at full load: ${
      (o.tokens * o.itlMs * LOAD_FACTOR / 1000).toFixed(1)
    } s = ${o.tokens} tokens × ${o.itlMs} ms × load factor ${LOAD_FACTOR})`,
  );
  print(`peak running:      ${c.peakRunning}`);
  print(`peak RSS (sim):    ${c.peakRssMiB.toFixed(0)} MiB`);
  print(`sim CPU time:      ${c.cpuSeconds.toFixed(2)} s`);
  print(`mean TTFT:         ${c.meanTtftMs.toFixed(0)} ms`);
  print(`SSE events:        ${c.events}`);
  const rates = await benchRequestRate(o);
  print(
    `\n## request rate at --time-scale 0 (${o.clients} closed-loop clients, ${o.seconds} s, 16 tokens)`,
  );
  for (const r of rates) {
    print(
      `${r.mode.padEnd(14)} ${
        r.requestsPerSecond.toFixed(0).padStart(7)
      } req/s   errors ${r.errors}   sim CPU ${r.cpuMicrosPerRequest.toFixed(0)} µs/req`,
    );
  }
  print("\n" + JSON.stringify({ concurrency: c, rates }));
}
