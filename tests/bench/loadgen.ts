/**
 * The Go closed-loop load generator of the benchmarks (tests/bench/loadgen/): built once into
 * `.cache/bench/loadgen` with the local Go toolchain (no modules to fetch), run as a child
 * process, its JSON result parsed.
 *
 * @module
 */
import { onCleanup, repoPath } from "./procs.ts";

/** What one load run measured (latencies in ms). */
export interface LoadResult {
  requests: number;
  ok: number;
  errors: number;
  error_kinds: Record<string, number>;
  seconds: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  max_ms: number;
  ttfb_p50_ms: number;
  ttfb_p99_ms: number;
  peak_open: number;
  timed_out: boolean;
  /** CPU time of the load generator itself per request, µs. */
  cpu_us_per_request: number;
}

/** One load run. */
export interface LoadOptions {
  url: string;
  body: string;
  concurrency: number;
  requests: number;
  /** SSE responses that must end with `data: [DONE]`. */
  stream?: boolean;
  /** Spread the workers' first requests over this many ms. */
  rampMs?: number;
  /** Stop starting requests after this many ms. @default 300000 */
  deadlineMs?: number;
  /** Timeout of one request, ms. @default 60000 */
  timeoutMs?: number;
}

const BINARY = repoPath(".cache/bench/loadgen");

/** Builds the load generator (`go build`, cached by Go); returns the binary's path. */
export async function buildLoadgen(): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("go", {
      args: ["build", "-o", BINARY, "."],
      cwd: repoPath("tests/bench/loadgen"),
      env: { GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new Error(`cannot run go to build the load generator: ${(e as Error).message}`);
  }
  if (!out.success) {
    throw new Error(
      `go build of the load generator failed:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return BINARY;
}

/** Runs the load generator once (killed if it outlives its deadline by 60 s). */
export async function runLoad(binary: string, o: LoadOptions): Promise<LoadResult> {
  const deadlineMs = o.deadlineMs ?? 300_000;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const child = new Deno.Command(binary, {
    args: [
      "-url",
      o.url,
      "-body",
      o.body,
      "-c",
      String(o.concurrency),
      "-n",
      String(o.requests),
      `-stream=${o.stream ?? false}`,
      "-ramp",
      `${o.rampMs ?? 0}ms`,
      "-deadline",
      `${deadlineMs}ms`,
      "-timeout",
      `${timeoutMs}ms`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  };
  const unregister = onCleanup(() => Promise.resolve(kill()));
  const watchdog = setTimeout(kill, deadlineMs + timeoutMs + 60_000);
  try {
    const out = await child.output();
    if (!out.success) {
      throw new Error(
        `load generator failed (code ${out.code}): ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as LoadResult;
  } finally {
    clearTimeout(watchdog);
    await unregister();
  }
}
