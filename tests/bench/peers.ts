/**
 * The peer routers of the peer benchmark: vllm-router and sglang-router from PyPI, pinned
 * exactly, each installed into its own venv under `.cache/peers/<package>-<version>/` (git
 * ignored; `$KTHENA_BENCH_PEERS_DIR` instead of `.cache/peers` if set) on first use, and
 * started on 127.0.0.1 in front of given workers.
 *
 * @module
 */
import { freePort, repoPath, type ServerProcess, startServer } from "./procs.ts";

/** The peers, with the exact versions compared against. */
export const PEERS = {
  "vllm-router": { pkg: "vllm-router", version: "0.1.17" },
  "sglang-router": { pkg: "sglang-router", version: "0.3.2" },
} as const;

/** Name of a peer router. */
export type PeerName = keyof typeof PEERS;

/** An installed peer, or why it is not. */
export type PeerInstall = { ok: true; python: string; dir: string } | {
  ok: false;
  error: string;
};

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, text: text.trim().slice(-2000) };
  } catch (e) {
    return { ok: false, text: (e as Error).message };
  }
}

/**
 * Installs a peer into its venv unless a previous install finished (a marker file), with
 * `python3 -m venv` and `pip install <pkg>==<version>`.
 */
export async function installPeer(name: PeerName, say: (s: string) => void): Promise<PeerInstall> {
  const { pkg, version } = PEERS[name];
  const root = Deno.env.get("KTHENA_BENCH_PEERS_DIR") ?? repoPath(".cache/peers");
  const dir = `${root}/${pkg}-${version}`;
  const python = `${dir}/bin/python`;
  const marker = `${dir}/.installed`;
  try {
    await Deno.stat(marker);
    return { ok: true, python, dir };
  } catch {
    // not installed yet
  }
  say(`installing ${pkg}==${version} into ${dir} …`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const venv = await run("python3", ["-m", "venv", dir]);
  if (!venv.ok) return { ok: false, error: `python3 -m venv failed: ${venv.text.trim()}` };
  const pip = await run(python, [
    "-m",
    "pip",
    "install",
    "--quiet",
    "--disable-pip-version-check",
    `${pkg}==${version}`,
  ]);
  if (!pip.ok) {
    return { ok: false, error: `pip install ${pkg}==${version} failed: ${pip.text.trim()}` };
  }
  await Deno.writeTextFile(marker, `${pkg}==${version}\n`);
  return { ok: true, python, dir };
}

/** Workers of a peer: one aggregated engine, or one prefill and one decode engine. */
export type PeerWorkers =
  | { mode: "regular"; url: string }
  | { mode: "pd"; prefill: string; decode: string; bootstrapPort?: number };

/** Flags both peers share (checked against `--help` of the pinned versions). */
function commonFlags(port: number, policy: string, logLevel: string): string[] {
  return [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--policy",
    policy,
    "--prometheus-host",
    "127.0.0.1",
    "--prometheus-port",
    String(freePort()),
    "--log-level",
    logLevel,
    "--worker-startup-check-interval",
    "1",
  ];
}

/**
 * Starts a peer router in front of `workers`; ready once `probe` succeeds through it.
 *
 * vllm-router: `vllm-router [--vllm-pd-disaggregation --kv-connector nixl --prefill URL
 * --decode URL | --worker-urls URL]`. sglang-router: `python -m sglang_router.launch_router
 * [--pd-disaggregation --prefill URL BOOTSTRAP_PORT --decode URL | --worker-urls URL]`.
 */
export function startPeer(
  name: PeerName,
  install: Extract<PeerInstall, { ok: true }>,
  workers: PeerWorkers,
  policy: string,
  probe: (url: string) => Promise<boolean>,
): Promise<ServerProcess> {
  const vllm = name === "vllm-router";
  const modeFlags = workers.mode === "regular" ? ["--worker-urls", workers.url] : vllm
    ? [
      "--vllm-pd-disaggregation",
      "--kv-connector",
      "nixl",
      "--prefill",
      workers.prefill,
      "--decode",
      workers.decode,
    ]
    : [
      "--pd-disaggregation",
      "--prefill",
      workers.prefill,
      String(workers.bootstrapPort ?? "none"),
      "--decode",
      workers.decode,
    ];
  return startServer({
    name,
    cmd: vllm ? `${install.dir}/bin/vllm-router` : install.python,
    args: (port) => [
      ...(vllm ? [] : ["-m", "sglang_router.launch_router"]),
      ...commonFlags(port, policy, vllm ? "warning" : "warn"),
      ...modeFlags,
    ],
    ready: probe,
    timeoutMs: 90_000,
  });
}
