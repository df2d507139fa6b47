/**
 * Runs simulators as child processes (for the router's test suites and benchmarks).
 *
 * @module
 */

/** A simulator child process. */
export interface SimulatorProcess {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** API port. */
  port: number;
  /** Side-channel port, if served (NIXL/Mooncake/LMCache). */
  sideChannelPort: number | undefined;
  /** SGLang bootstrap port, if served. */
  bootstrapPort: number | undefined;
  /** Engine id. */
  engineId: string;
  /** Process id. */
  pid: number;
  /** Resolves with the exit status when the process ends (by itself or by {@linkcode stop}). */
  exited: Promise<Deno.CommandStatus>;
  /** What the process wrote on stderr so far (capped). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after a grace period; waits for exit and closes the pipes. */
  stop(): Promise<void>;
}

/** Options of {@linkcode spawnSimulator}. */
export interface SpawnOptions {
  /** Wait until `/health` answers 200 (after `--startup-delay-ms`). @default true */
  waitForReady?: boolean;
  /** Give up starting after this long. @default 30000 */
  timeoutMs?: number;
}

const MAIN = new URL("./main.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);
const STDERR_CAP = 64 * 1024;

/**
 * Spawns `deno run -A --unstable-no-legacy-abort tests/sim/main.ts --port 0 …args` and waits
 * for its "listening" line (and, by default, for `/health`). Flags in `args` override the
 * defaults (`--host 127.0.0.1 --port 0`), so `["--port", "8001"]` works too.
 *
 * @param args Simulator flags.
 * @param options Readiness and timeout.
 * @returns The running process.
 * @throws {Error} If the process exits or stays silent past the timeout.
 *
 * @example
 * ```ts ignore
 * import { spawnSimulator } from "./process.ts";
 * const sim = await spawnSimulator(["--model", "m", "--profile", "fast"]);
 * try {
 *   console.log((await (await fetch(`${sim.url}/v1/models`)).json()).data[0].id); // "m"
 * } finally {
 *   await sim.stop();
 * }
 * ```
 */
export async function spawnSimulator(
  args: readonly string[] = [],
  options: SpawnOptions = {},
): Promise<SimulatorProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      `--config=${decodeURIComponent(CONFIG.pathname)}`,
      decodeURIComponent(MAIN.pathname),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let stderrText = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        stderrText = (stderrText + chunk).slice(-STDERR_CAP);
      },
    }),
  ).catch(() => {});

  const listening = Promise.withResolvers<Record<string, unknown>>();
  listening.promise.catch(() => {});
  const stdoutDone = (async () => {
    let buffer = "";
    let found = false;
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      if (found) continue; // keep draining so the child never blocks on a full pipe
      buffer += chunk;
      let nl: number;
      while (!found && (nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.event === "listening") {
            found = true;
            listening.resolve(msg);
          }
        } catch {
          // not our line
        }
      }
    }
    listening.reject(new Error("simulator exited before listening"));
  })().catch((err) => listening.reject(err));

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    listening.reject(new Error(`simulator exited with code ${s.code}`));
    return s;
  });

  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const grace = setTimeout(() => {
        try {
          if (!exited) child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await status;
      clearTimeout(grace);
    }
    await Promise.all([stdoutDone, stderrDone]);
  };

  const deadline = Date.now() + timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`simulator did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const msg = await Promise.race([listening.promise, timeout]);
    const url = String(msg.url);
    if (options.waitForReady ?? true) {
      while (true) {
        const res = await fetch(`${url}/health`).catch(() => undefined);
        await res?.body?.cancel();
        if (res?.status === 200) break;
        if (Date.now() > deadline) throw new Error(`simulator not healthy within ${timeoutMs} ms`);
        if (exited) throw new Error("simulator exited while starting");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return {
      url,
      port: Number(msg.port),
      sideChannelPort: typeof msg.side_channel_port === "number"
        ? msg.side_channel_port
        : undefined,
      bootstrapPort: typeof msg.bootstrap_port === "number" ? msg.bootstrap_port : undefined,
      engineId: String(msg.engine_id),
      pid: child.pid,
      exited: status,
      stderr: () => stderrText,
      stop,
    };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- simulator stderr ---\n${stderrText}`);
  } finally {
    clearTimeout(timer);
  }
}
