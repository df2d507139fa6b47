/**
 * Controller benchmark: N ModelServings × 8 pods created at once on a real API server.
 *
 * Prints the time until every pod exists and the API writes per pod, counted by the API server
 * itself (`apiserver_request_total`, write verbs on the kinds the controller writes), for a
 * small and a large run, so the ratio shows whether cost is linear in pods.
 *
 * ```sh
 * deno run -A tests/bench/controller_bench.ts            # 10 then 100 ModelServings
 * deno run -A tests/bench/controller_bench.ts 100        # only 100
 * ```
 *
 * Target: at most 3 writes per pod.
 *
 * @module
 */
import { KubeClient, silentLogger } from "@kthena/shared/k8s";
import { MODEL_SERVING } from "@kthena/shared/api";
import { ModelServingController } from "../../controller/model_serving/controller.ts";
import { type Cluster, startCluster } from "../cluster/cluster.ts";

// deno-lint-ignore no-console
const say = (s: string) => console.log(s);

/** The kinds whose writes are the controller's (the benchmark's own are ModelServing creates). */
const CONTROLLER_RESOURCES = new Set([
  "pods",
  "services",
  "podgroups",
  "controllerrevisions",
  "events",
  "modelservings/status",
]);
const WRITE_VERBS = new Set([
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "DELETECOLLECTION",
  "APPLY",
  "CREATE",
  "UPDATE",
]);

/** Sums `apiserver_request_total` over write verbs of the controller's kinds. */
async function controllerWrites(cluster: Cluster): Promise<number> {
  const client = Deno.createHttpClient({ caCerts: [cluster.caCertPem] });
  try {
    const res = await fetch(`${cluster.server}/metrics`, {
      client,
      headers: { authorization: `Bearer ${cluster.token}` },
    });
    const text = await res.text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith("apiserver_request_total{")) continue;
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      const resource = labels.subresource
        ? `${labels.resource}/${labels.subresource}`
        : labels.resource;
      if (!WRITE_VERBS.has(labels.verb ?? "") || !CONTROLLER_RESOURCES.has(resource ?? "")) {
        continue;
      }
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return sum;
  } finally {
    client.close();
  }
}

const containers = [{
  name: "engine",
  image: "vllm/vllm-openai:latest",
  resources: { requests: { cpu: "1" } },
}];
const role = (name: string) => ({
  name,
  workerReplicas: 3,
  entryTemplate: { spec: { containers } },
  workerTemplate: { spec: { containers } },
});

async function run(
  cluster: Cluster,
  n: number,
): Promise<{ seconds: number; writesPerPod: number }> {
  const client = KubeClient.load({ path: cluster.kubeconfigPath });
  const ns = `bench-${n}-${crypto.randomUUID().slice(0, 6)}`;
  await cluster.kubectl(["create", "namespace", ns]);
  const controller = new ModelServingController({ client, workers: 5, logger: silentLogger });
  const running = controller.run();
  try {
    const before = await controllerWrites(cluster);
    const started = performance.now();
    const ms = client.resource(MODEL_SERVING);
    const names = Array.from({ length: n }, (_, i) => `ms-${i}`);
    // "At once": all creates in flight together.
    await Promise.all(names.map((name) =>
      ms.create({
        apiVersion: "workload.serving.volcano.sh/v1alpha1",
        kind: "ModelServing",
        metadata: { name, namespace: ns },
        spec: { template: { roles: [role("prefill"), role("decode")] } },
      } as never)
    ));
    const want = n * 8;
    for (;;) {
      const pods = await client.pods.list({ namespace: ns });
      if (pods.items.length >= want) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    // Let the status writes and events of the last reconciles land before counting.
    await new Promise((r) => setTimeout(r, 3_000));
    const writes = (await controllerWrites(cluster)) - before;
    return { seconds, writesPerPod: writes / want };
  } finally {
    await controller.stop();
    await running;
    client.close();
  }
}

if (import.meta.main) {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [10, 100];
  say("starting a test cluster…");
  const cluster = await startCluster();
  try {
    const results: [number, { seconds: number; writesPerPod: number }][] = [];
    for (const n of sizes) {
      const r = await run(cluster, n);
      results.push([n, r]);
      say(
        `${n} ModelServings × 8 pods: every pod exists after ${r.seconds.toFixed(2)} s ` +
          `(${(n * 8 / r.seconds).toFixed(0)} pods/s), ${
            r.writesPerPod.toFixed(2)
          } API writes per pod`,
      );
    }
    if (results.length > 1) {
      const [a, b] = [results[0]!, results[results.length - 1]!];
      say(
        `ratio ${b[0]}/${a[0]}: time ×${(b[1].seconds / a[1].seconds).toFixed(2)} for ×${
          b[0] / a[0]
        } pods; ` +
          `writes per pod ${a[1].writesPerPod.toFixed(2)} → ${b[1].writesPerPod.toFixed(2)}`,
      );
    }
  } finally {
    await cluster.stop();
  }
}
