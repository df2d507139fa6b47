/**
 * `deno task dev`: the whole platform on this machine, loopback only. Starts the test
 * cluster (building its binaries on the first run), the CRDs, kube-scheduler, the controller
 * manager, the node agent, the Volcano stand-in and the router on 127.0.0.1:8080, then applies
 * the default examples (a prefill/decode ModelServing with its ModelServer and ModelRoute),
 * waits for its pods and prints how to use it. Ctrl-C stops everything.
 *
 * `deno task dev --router-only` runs the fast router + simulators demo instead (no cluster;
 * see `router_only.ts`). Flags: `--port 8080`, `--profile a100-8b` (simulator latency),
 * `--no-examples`, `--nodes <file>` (YAML or JSON list of `{name, capacity, labels}`: the
 * agent's nodes instead of the default GPU and Ascend nodes).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parse } from "yaml";
import type { NodeSpec } from "./node_agent.ts";
import { runRouterOnly } from "./router_only.ts";
import { startStack } from "./stack.ts";

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

const ROOT = new URL("../../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);

/** The examples applied at start: the PD ModelServing of Qwen3-0.6B and its router objects. */
export const DEFAULT_EXAMPLES: readonly string[] = [
  "examples/model-serving/qwen3-0.6b-gpu-pd.yaml",
  "examples/kthena-router/ModelServer-qwen3-0.6b.yaml",
  "examples/kthena-router/ModelRoute-qwen3-0.6b.yaml",
];

async function run(args: string[]): Promise<number> {
  if (args.includes("--router-only")) {
    return await runRouterOnly(args.filter((a) => a !== "--router-only"));
  }
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      profile: { type: "string", default: "a100-8b" },
      "no-examples": { type: "boolean", default: false },
      nodes: { type: "string" },
    },
  });
  const nodes = values.nodes
    ? parse(await Deno.readTextFile(values.nodes)) as NodeSpec[]
    : undefined;
  const t0 = performance.now();
  const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
  let stack;
  try {
    stack = await startStack({
      routerPort: Number(values.port),
      profile: values.profile,
      nodes,
      log: (l) => say(`[dev ${secs()}s] ${l}`),
    });
  } catch (e) {
    say(`dev: ${(e as Error).message}`);
    return 1;
  }
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    say(`[dev ${secs()}s] stack up`);
    if (!values["no-examples"]) {
      for (const f of DEFAULT_EXAMPLES) {
        const r = await stack.cluster.kubectl(["apply", "-f", path(f)]);
        if (r.code !== 0) throw new Error(`kubectl apply -f ${f}: ${r.stderr}`);
      }
      const applied = performance.now();
      say(`[dev ${secs()}s] applied ${DEFAULT_EXAMPLES.join(", ")}`);
      const ok = await firstChat(stack.routerUrl, "Qwen/Qwen3-0.6B", stopped.promise);
      if (ok) {
        say(`[dev ${secs()}s] first chat completion ${
          ((performance.now() - applied) / 1000)
            .toFixed(1)
        } s after kubectl apply`);
      }
    }
    const url = stack.routerUrl;
    const body = (stream: boolean) =>
      JSON.stringify({
        model: "Qwen/Qwen3-0.6B",
        messages: [{ role: "user", content: "Explain prefill/decode disaggregation." }],
        max_tokens: 32,
        stream,
      });
    say();
    say(`export KUBECONFIG=${stack.cluster.kubeconfigPath}`);
    say();
    say(`kubectl: ${stack.kubectlPath}`);
    say(`  ${stack.kubectlPath} get pods -A -o wide`);
    say(`Logs: ${stack.cluster.dir}/*.log`);
    say();
    say("Streamed, through the prefill/decode pair the controller created:");
    say(
      `  curl -N ${url}/v1/chat/completions -H 'content-type: application/json' -d '${body(true)}'`,
    );
    say("Not streamed:");
    say(
      `  curl ${url}/v1/chat/completions -H 'content-type: application/json' -d '${body(false)}'`,
    );
    say(`Models: curl ${url}/v1/models    Metrics: curl ${url}/metrics`);
    say();
    say("Ctrl-C stops everything.");
    await stopped.promise;
  } catch (e) {
    say(`dev: ${(e as Error).message}`);
    return 1;
  } finally {
    say("\nStopping …");
    await stack.stop();
  }
  return 0;
}

/** Polls the router until a chat completion for `model` succeeds (or `cancel` resolves). */
async function firstChat(url: string, model: string, cancel: Promise<void>): Promise<boolean> {
  let cancelled = false;
  cancel.then(() => cancelled = true);
  const deadline = Date.now() + 180_000;
  while (!cancelled && Date.now() < deadline) {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    }).catch(() => undefined);
    await r?.body?.cancel();
    if (r?.ok) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

if (import.meta.main) Deno.exit(await run(Deno.args));
