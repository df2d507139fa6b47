/**
 * Reads a container's command line and environment the way vLLM, vLLM-Ascend and SGLang read
 * them, and says which simulator flags (`tests/sim`) stand in for that engine. The node agent
 * (`node_agent.ts`) runs the result; unknown images become idle containers.
 *
 * What is read:
 * - vLLM (`python3 -m vllm.entrypoints.openai.api_server`, `vllm serve <model>`, or an image
 *   whose entrypoint is vLLM's, as `kthena-engine:vllm-ascend…` with the model as first
 *   argument): `--served-model-name` (first name) else `--model` else the positional model,
 *   `--port` (8000), `--tensor-parallel-size`/`-tp`, `--max-model-len`, `--max-num-seqs`,
 *   `--no-enable-prefix-caching`, `--kv-transfer-config` (`kv_connector`: Nixl → nixl,
 *   Mooncake → mooncake, LMCache → lmcache; `kv_role`: producer → prefill, consumer → decode,
 *   both → both; Mooncake's `kv_port` is its side channel), `--enable-lora` with
 *   `--lora-modules name=path …` and `--max-loras`, and the env `VLLM_NIXL_SIDE_CHANNEL_PORT`
 *   (default 5600 when the connector is NIXL).
 * - SGLang (`python3 -m sglang.launch_server`): `--served-model-name` else `--model-path`,
 *   `--port` (30000), `--tp-size`/`--tp`, `--disaggregation-mode prefill|decode`,
 *   `--disaggregation-bootstrap-port` (8998), `--lora-paths name=path …`.
 *
 * - llm-d's `llm-d-inference-sim` (and `sglang-inference-sim`), the mocks of upstream's e2e
 *   suites: as vLLM (SGLang), plus `--mode echo|random`.
 *
 * `sh -c '<script>'` is split as a shell would (quotes, backslash-newlines), and `$(VAR)`
 * references are expanded from the container's environment first (Kubernetes does that).
 *
 * @module
 */

/** What a container becomes on the node agent. */
export type ContainerPlan =
  | { kind: "engine"; engine: "vllm" | "sglang"; model: string; port: number; simArgs: string[] }
  | { kind: "idle" };

/** The parts of a container spec this module reads. */
export interface ContainerLike {
  image?: string;
  command?: string[];
  args?: string[];
}

/**
 * Expands `$(VAR)` in a string from `env` as the kubelet does: `$$` escapes, unknown names stay
 * as written.
 *
 * @example
 * ```ts
 * import { expandEnvRefs } from "./engine_command.ts";
 * expandEnvRefs("$(POD_NAME).$(NS)", { POD_NAME: "p", NS: "dev" }); // "p.dev"
 * ```
 */
export function expandEnvRefs(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) => {
    if (m === "$$") return "$";
    return name !== undefined && Object.hasOwn(env, name) ? env[name]! : m;
  });
}

/**
 * Splits a shell script into words: single and double quotes, backslash escapes,
 * backslash-newline continuations; `;`, `&&` and newlines end a command (the words of all
 * commands are returned, in order).
 *
 * @example
 * ```ts
 * import { shellWords } from "./engine_command.ts";
 * shellWords(`vllm serve m --kv-transfer-config '{"a": 1}'`); // ["vllm","serve","m","--kv-transfer-config","{\"a\": 1}"]
 * ```
 */
export function shellWords(script: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < script.length; i++) {
    const c = script[i]!;
    if (c === "\\") {
      const n = script[i + 1];
      i++;
      if (n === "\n" || n === undefined) continue;
      cur += n;
      inWord = true;
    } else if (c === "'") {
      const end = script.indexOf("'", i + 1);
      const stop = end < 0 ? script.length : end;
      cur += script.slice(i + 1, stop);
      i = stop;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < script.length && script[i] !== '"'; i++) {
        if (script[i] === "\\" && i + 1 < script.length && '"\\$`'.includes(script[i + 1]!)) i++;
        cur += script[i];
      }
      inWord = true;
    } else if (/\s|;|&|\|/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** The argv a container runs: `command` + `args`, with `sh -c` scripts split into words. */
function argvOf(c: ContainerLike, env: Record<string, string>): string[] {
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map((a) => expandEnvRefs(a, env));
  const shell = argv.findIndex((a, i) => /(^|\/)(ba)?sh$/.test(a) && argv[i + 1] === "-c");
  if (shell >= 0 && argv[shell + 2] !== undefined) return shellWords(argv[shell + 2]!);
  return argv;
}

/** `--flag value` and `--flag=value` lookups over an argv. */
class Flags {
  constructor(readonly argv: string[]) {}
  /** All values of a flag (a flag may take several words, up to the next `-…`). */
  values(names: string[], multi = false): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.argv.length; i++) {
      const a = this.argv[i]!;
      for (const n of names) {
        if (a === n) {
          for (let j = i + 1; j < this.argv.length && !this.argv[j]!.startsWith("-"); j++) {
            out.push(this.argv[j]!);
            if (!multi) break;
          }
        } else if (a.startsWith(`${n}=`)) out.push(a.slice(n.length + 1));
      }
    }
    return out;
  }
  get(names: string[]): string | undefined {
    return this.values(names)[0];
  }
  has(name: string): boolean {
    return this.argv.includes(name);
  }
}

const CONNECTORS: [RegExp, string][] = [
  [/nixl/i, "nixl"],
  [/mooncake/i, "mooncake"],
  [/lmcache/i, "lmcache"],
];

/**
 * Which engine a container runs, and the simulator flags that imitate it (without `--host`:
 * the agent binds the pod's IP).
 *
 * @param c The container.
 * @param env The container's resolved environment.
 * @example
 * ```ts
 * import { planContainer } from "./engine_command.ts";
 * const plan = planContainer({ image: "vllm/vllm-openai", args: ["--model", "m", "--port", "8001"] }, {});
 * plan.kind === "engine" && plan.port; // 8001
 * ```
 */
export function planContainer(c: ContainerLike, env: Record<string, string>): ContainerPlan {
  const argv = argvOf(c, env);
  const image = c.image ?? "";
  // The program is the image's entrypoint or the first words of the command line (flags such
  // as the runtime sidecar's `--engine vllm` do not make an engine).
  const program = argv.slice(0, 3).filter((w) => !w.startsWith("--")).join(" ");
  const isSglang = /sglang/.test(program) || /sglang/i.test(image);
  const isVllm = !isSglang && (/vllm/.test(program) || /vllm|inference-sim/i.test(image));
  if (!isSglang && !isVllm) return { kind: "idle" };
  const f = new Flags(argv);
  const sim: string[] = [];
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? v : undefined);
  if (isSglang) {
    const model = f.get(["--served-model-name"]) ?? f.get(["--model-path", "--model"]) ??
      "default";
    const port = Number(num(f.get(["--port"])) ?? 30000);
    sim.push("--engine", "sglang", "--model", model, "--port", String(port));
    const tp = num(f.get(["--tp-size", "--tp", "--tensor-parallel-size"]));
    if (tp) sim.push("--tp-size", tp);
    const mode = f.get(["--disaggregation-mode"]);
    if (mode === "prefill" || mode === "decode") {
      sim.push("--role", mode, "--kv-connector", "sglang");
      const bp = num(f.get(["--disaggregation-bootstrap-port"])) ?? "8998";
      if (mode === "prefill") sim.push("--bootstrap-port", bp);
      else sim.push("--bootstrap-default-port", bp);
    }
    const loras = f.values(["--lora-paths"], true).map((v) => v.split("=")[0]!);
    if (loras.length > 0) sim.push("--lora", loras.join(","));
    common(f, sim);
    return { kind: "engine", engine: "sglang", model, port, simArgs: sim };
  }
  // vLLM: `vllm serve <model>`, `--model`, or the image's entrypoint with a positional model.
  let positional: string | undefined;
  const serve = argv.indexOf("serve");
  if (serve >= 0 && argv[serve + 1] && !argv[serve + 1]!.startsWith("-")) {
    positional = argv[serve + 1];
  } else if (argv[0] && !argv[0].startsWith("-") && !/python|vllm|sh$/.test(argv[0])) {
    positional = argv[0];
  }
  const model = f.get(["--served-model-name"]) ?? f.get(["--model"]) ?? positional ?? "default";
  const port = Number(num(f.get(["--port"])) ?? 8000);
  sim.push("--engine", "vllm", "--model", model, "--port", String(port));
  const tp = num(f.get(["--tensor-parallel-size", "-tp"]));
  if (tp) sim.push("--tp-size", tp);
  const kv = f.get(["--kv-transfer-config"]);
  if (kv) {
    let cfg: Record<string, unknown> = {};
    try {
      cfg = JSON.parse(kv);
    } catch { /* vLLM would refuse to start; we serve without a connector */ }
    const connector = CONNECTORS.find(([re]) => re.test(String(cfg.kv_connector ?? "")))?.[1];
    const role = String(cfg.kv_role ?? "");
    const pd = role === "kv_producer" ? "prefill" : role === "kv_consumer" ? "decode" : "both";
    if (connector) {
      sim.push("--kv-connector", connector, "--role", pd);
      const side = connector === "nixl"
        ? env.VLLM_NIXL_SIDE_CHANNEL_PORT ?? "5600"
        : connector === "mooncake"
        ? num(String(cfg.kv_port ?? "")) ?? "0"
        : "0";
      sim.push("--side-channel-port", side);
    }
  }
  if (f.has("--enable-lora") || f.values(["--lora-modules"]).length > 0) {
    const loras = f.values(["--lora-modules"], true).map((v) => {
      if (v.startsWith("{")) {
        try {
          return String((JSON.parse(v) as { name?: string }).name ?? "");
        } catch {
          return "";
        }
      }
      return v.split("=")[0]!;
    }).filter(Boolean);
    if (loras.length > 0) sim.push("--lora", loras.join(","));
    const maxLoras = num(f.get(["--max-loras"]));
    if (maxLoras) sim.push("--max-loras", maxLoras);
  }
  if (f.has("--no-enable-prefix-caching")) sim.push("--no-prefix-caching");
  common(f, sim);
  return { kind: "engine", engine: "vllm", model, port, simArgs: sim };
}

/** Flags both engines share. */
function common(f: Flags, sim: string[]): void {
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? v : undefined);
  const maxLen = num(f.get(["--max-model-len", "--context-length"]));
  if (maxLen) sim.push("--max-model-len", maxLen);
  const seqs = num(f.get(["--max-num-seqs", "--max-running-requests"]));
  if (seqs) sim.push("--max-num-seqs", seqs);
  const mode = f.get(["--mode"]); // llm-d-inference-sim
  if (mode === "echo" || mode === "random") sim.push("--mode", mode);
}
