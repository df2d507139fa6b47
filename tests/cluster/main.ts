/**
 * `deno task cluster`: runs the test cluster in the foreground for people. Prints the
 * kubeconfig path and a kubectl hint; Ctrl-C stops it.
 *
 * @module
 */
import { startCluster } from "./cluster.ts";

// deno-lint-ignore no-console
const say = (line: string) => console.log(line);

const started = performance.now();
const cluster = await startCluster({ log: say });
say(`\nCluster up in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
say(`  apiserver:  ${cluster.server}`);
say(`  kubeconfig: ${cluster.kubeconfigPath}`);
say(`  logs:       ${cluster.dir}/*.log`);
say(`\nTry:\n  export KUBECONFIG=${cluster.kubeconfigPath}`);
say(`  kubectl get crds`);
say(`  kubectl apply -f examples/model-serving/qwen3-0.6b-gpu-pd.yaml --dry-run=server`);
say(`\nCtrl-C stops the cluster.`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  say("\nstopping…");
  await cluster.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
// Keep the process alive until a signal arrives.
await new Promise(() => {});
