/**
 * Process helpers of the benchmarks: free loopback ports, CPU time and peak RSS of a process
 * tree from /proc, and servers started as child processes that are always stopped (a registry
 * that SIGINT/SIGTERM and the end of the run drain).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** Absolute path of a file of the repository, from its path relative to the root. */
export const repoPath = (rel: string): string => decodeURIComponent(new URL(rel, ROOT).pathname);

/** A free TCP port on 127.0.0.1 (closed again, so a child can bind it). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards), or undefined. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** `pid` and every live descendant of it. */
export async function processTree(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const fields = await statFields(Number(e.name));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(e.name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU seconds (user + system, all threads) used by a process and its children: the live
 * descendants' own time plus what the root has collected from children that exited.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  let ticks = 0;
  for (const p of await processTree(pid)) {
    const f = await statFields(p);
    if (!f) continue;
    // utime, stime (fields 14, 15); cutime, cstime (16, 17) of reaped children.
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / 100; // clock ticks, 100 per second on Linux
}

/** Peak resident set (VmHWM) of a process and its live descendants, summed, in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  let kib = 0;
  for (const p of await processTree(pid)) {
    try {
      const status = await Deno.readTextFile(`/proc/${p}/status`);
      kib += Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

const cleanups = new Set<() => Promise<void>>();
let signalsInstalled = false;

/** Stops everything still registered (servers started here, temp dirs…), newest first. */
export async function stopAll(): Promise<void> {
  const all = [...cleanups].reverse();
  cleanups.clear();
  for (const c of all) await c().catch(() => {});
}

/**
 * Registers a cleanup that {@linkcode stopAll} (and SIGINT/SIGTERM) runs; returns a function
 * that runs it once and unregisters it.
 */
export function onCleanup(cleanup: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    cleanups.delete(once);
    return done ??= cleanup();
  };
  cleanups.add(once);
  if (!signalsInstalled) {
    signalsInstalled = true;
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => {
        // deno-lint-ignore no-console
        console.error(`\n${sig}: stopping every process this benchmark started …`);
        stopAll().finally(() => Deno.exit(130));
      });
    }
  }
  return once;
}

/** A server running as a child process. */
export interface ServerProcess {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  pid: number;
  /** The last 16 KiB of its stdout and stderr. */
  output(): string;
  /** Its exit status once it has exited (stopped, or died on its own). */
  exitStatus(): Deno.CommandStatus | undefined;
  /** SIGTERM to it and its descendants, SIGKILL after 5 s; waits for the exit. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface StartOptions {
  /** Executable. */
  cmd: string;
  /** Arguments, given the port the server must listen on (127.0.0.1). */
  args: (port: number) => string[];
  /** Resolves true once the server answers as it should (polled every 100 ms). */
  ready: (url: string) => Promise<boolean>;
  /** Give up after this long. @default 60000 */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Name used in error messages. */
  name: string;
}

/** Starts a server on a free port and waits until `ready` holds; stopped by {@linkcode stopAll}. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const port = freePort();
  const child = new Deno.Command(options.cmd, {
    args: options.args(port),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  let text = "";
  const drain = (s: ReadableStream<Uint8Array>) =>
    s.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write(chunk) {
          text = (text + chunk).slice(-16384);
        },
      }),
    ).catch(() => {});
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  let exitStatus: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => {
    exited = true;
    exitStatus = s;
    return s;
  });
  const stop = onCleanup(async () => {
    if (!exited) {
      const tree = await processTree(child.pid);
      const kill = (sig: Deno.Signal) => {
        for (const p of tree) {
          try {
            Deno.kill(p, sig);
          } catch {
            // gone
          }
        }
      };
      kill("SIGTERM");
      const grace = setTimeout(() => kill("SIGKILL"), 5000);
      await status;
      clearTimeout(grace);
      // Descendants that outlived it.
      await new Promise((r) => setTimeout(r, 50));
      kill("SIGKILL");
    }
    await drained;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    while (!(await options.ready(url).catch(() => false))) {
      if (exited) throw new Error(`${options.name} exited with code ${(await status).code}`);
      if (Date.now() > deadline) throw new Error(`${options.name} did not become ready`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Answered, but not by this child (it could not bind the port another process took)?
    await new Promise((r) => setTimeout(r, 200));
    if (exited) throw new Error(`${options.name} exited with code ${(await status).code}`);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- its output ---\n${text.slice(-4000)}`);
  }
  return { url, port, pid: child.pid, output: () => text, exitStatus: () => exitStatus, stop };
}

/** Runs a Deno script of the repository as a server (see {@linkcode startServer}). */
export function startDenoServer(
  name: string,
  script: string,
  args: (port: number) => string[],
  ready: (url: string) => Promise<boolean>,
): Promise<ServerProcess> {
  return startServer({
    name,
    cmd: Deno.execPath(),
    args: (port) => [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      `--config=${repoPath("deno.json")}`,
      repoPath(script),
      ...args(port),
    ],
    ready,
  });
}
