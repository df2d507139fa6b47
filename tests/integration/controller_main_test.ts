/**
 * controller/main.ts as a process against the real API server: leader election, health and
 * metrics endpoints, the webhook certificate bootstrap, reconciling, and a SIGKILL in the middle
 * of creating a ModelServing followed by a new process (upstream's S20).
 */
import assert from "node:assert/strict";
import { freePort, testCluster, uniqueNamespace } from "../cluster/mod.ts";
import { KubeClient, PODS } from "@kthena/shared/k8s";
import { MODEL_SERVING } from "@kthena/shared/api";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = new URL("../../controller/main.ts", import.meta.url).pathname;

interface Proc {
  child: Deno.ChildProcess;
  health: number;
  metrics: number;
  logs: string[];
}

function startController(kubeconfig: string, ns: string): Proc {
  const health = freePort();
  const metrics = freePort();
  const webhook = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect",
      `--health-port=${health}`,
      `--metrics-port=${metrics}`,
      `--webhook-port=${webhook}`,
      "--tls-cert-file=/nonexistent/tls.crt",
      "--tls-private-key-file=/nonexistent/tls.key",
    ],
    env: { POD_NAMESPACE: ns },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) logs.push(chunk);
  };
  collect(child.stdout).catch(() => {});
  collect(child.stderr).catch(() => {});
  return { child, health, metrics, logs };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000) {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

Deno.test(
  "the controller manager process: lease, health, metrics, webhook certs, reconciling",
  opts,
  async () => {
    const cluster = await testCluster();
    const ns = await uniqueNamespace(cluster, "ctrl-main");
    const client = KubeClient.load({ path: cluster.kubeconfigPath });
    // Our webhook configuration, inert (it matches no namespace), to watch the CA injection.
    const vwc = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "kthena-controller-manager-validating-webhook" },
      webhooks: [{
        name: "validate-workload-ai-v1alpha1-modelserving.volcano.sh",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: "Ignore",
        namespaceSelector: { matchLabels: { "kthena-no-such-namespace": "x" } },
        clientConfig: {
          service: { name: "kthena-controller-manager-webhook", namespace: ns, path: "/x" },
        },
        rules: [{
          apiGroups: ["x"],
          apiVersions: ["v1"],
          operations: ["CREATE"],
          resources: ["x"],
        }],
      }],
    };
    await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(vwc));
    const p = startController(cluster.kubeconfigPath, ns);
    try {
      await waitFor("readyz", async () => (await get(p.health, "/readyz")).status === 200);
      assert.equal((await get(p.health, "/healthz")).status, 200);

      // Ready before leading is fine (a follower serves the webhook): wait for the Lease.
      const lease = await waitFor(
        "the lease",
        () => client.leases.find(ns, "lease.kthena.controller-manager"),
      );
      assert.ok(lease.spec?.holderIdentity, "a holder");

      const secret = await client.core.readNamespacedSecret({
        name: "kthena-controller-manager-webhook-certs",
        namespace: ns,
      });
      assert.ok(secret.data?.["tls.crt"] && secret.data["ca.crt"]);
      const injected = await cluster.kubectl([
        "get",
        "validatingwebhookconfiguration",
        "kthena-controller-manager-validating-webhook",
        "-o",
        "jsonpath={.webhooks[0].clientConfig.caBundle}",
      ]);
      assert.equal(injected.stdout, secret.data["ca.crt"]);

      await client.resource(MODEL_SERVING).apply({
        apiVersion: "workload.serving.volcano.sh/v1alpha1",
        kind: "ModelServing",
        metadata: { name: "m", namespace: ns },
        spec: {
          template: {
            roles: [{
              name: "prefill",
              entryTemplate: { spec: { containers: [{ name: "c", image: "x" }] } },
            }],
          },
        },
      } as never, { fieldManager: "test" });
      await waitFor(
        "a pod",
        async () => (await client.pods.list({ namespace: ns })).items.length === 1,
      );
      // The pod exists before the reconcile that created it has ended (status, events) and
      // been counted: wait for the count.
      const reconciled = /controller_runtime_reconcile_total\{[^}]*controller="modelserving"/;
      let metrics = "";
      await waitFor("a counted reconcile", async () => {
        metrics = (await get(p.metrics, "/metrics")).text;
        return reconciled.test(metrics);
      });
      assert.match(metrics, /workqueue_adds_total\{[^}]*controller="modelserving"/);

      p.child.kill("SIGTERM");
      const status = await p.child.status;
      assert.equal(status.code, 0, p.logs.join(""));
    } finally {
      try {
        p.child.kill("SIGKILL");
      } catch { /* exited */ }
      await p.child.status;
      await cluster.kubectl([
        "delete",
        "validatingwebhookconfiguration",
        "kthena-controller-manager-validating-webhook",
        "--ignore-not-found",
      ]);
      client.close();
    }
  },
);

Deno.test(
  "SIGKILL mid-creation, then a new process: exactly the expected pods (S20)",
  opts,
  async () => {
    const cluster = await testCluster();
    const ns = await uniqueNamespace(cluster, "ctrl-kill");
    const client = KubeClient.load({ path: cluster.kubeconfigPath });
    const containers = [{ name: "c", image: "x" }];
    let p = startController(cluster.kubeconfigPath, ns);
    try {
      await waitFor("readyz", async () => (await get(p.health, "/readyz")).status === 200);
      await client.resource(MODEL_SERVING).apply({
        apiVersion: "workload.serving.volcano.sh/v1alpha1",
        kind: "ModelServing",
        metadata: { name: "big", namespace: ns },
        spec: {
          replicas: 5,
          template: {
            roles: [
              {
                name: "prefill",
                workerReplicas: 2,
                entryTemplate: { spec: { containers } },
                workerTemplate: { spec: { containers } },
              },
              {
                name: "decode",
                workerReplicas: 1,
                entryTemplate: { spec: { containers } },
                workerTemplate: { spec: { containers } },
              },
            ],
          },
        },
      } as never, { fieldManager: "test" });
      // Kill the leader as soon as the first pod appears, while it is still creating the rest.
      const watcher = client.informer(PODS, { namespace: ns });
      const firstPod = new Promise<void>((resolve) => {
        watcher.addHandler({
          onAdd: () => {
            try {
              p.child.kill("SIGKILL");
            } catch { /* already */ }
            resolve();
          },
        });
      });
      watcher.start();
      await firstPod;
      await watcher.stop();
      await p.child.status;
      const partial = (await client.pods.list({ namespace: ns })).items.length;
      // deno-lint-ignore no-console
      console.log(`S20: ${partial} of 25 pods existed when the leader was killed`);

      p = startController(cluster.kubeconfigPath, ns);
      // The killed leader never released the Lease: the new process takes over after it expires.
      await waitFor(
        "all 25 pods",
        async () => (await client.pods.list({ namespace: ns })).items.length === 25,
        90_000,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      const pods = (await client.pods.list({ namespace: ns })).items;
      assert.equal(pods.length, 25, `${partial} existed at the kill`);
      assert.equal(new Set(pods.map((x) => x.metadata!.name)).size, 25);
    } finally {
      try {
        p.child.kill("SIGKILL");
      } catch { /* exited */ }
      await p.child.status;
      client.close();
    }
  },
);
