/**
 * A webhook registered by Service (as the kustomization registers ours) must not make the test
 * cluster's API server dial the Service's ClusterIP, an address not on this machine: with
 * `--enable-aggregator-routing` it resolves the Service through its endpoints, finds none and
 * refuses at once. The API server's sockets are watched meanwhile (sampling: it catches a
 * dial that hangs, the refusal's wording catches one that fails fast).
 */
import assert from "node:assert/strict";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";
import { watchEgress } from "../dev/egress.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The PID of the kube-apiserver serving `port`. */
async function apiserverPid(port: string): Promise<number | undefined> {
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    const args = cmd.split("\0");
    if (args[0]?.endsWith("kube-apiserver") && args.includes(`--secure-port=${port}`)) {
      return Number(e.name);
    }
  }
  return undefined;
}

Deno.test(
  "a webhook Service without endpoints fails fast and nothing leaves loopback",
  opts,
  async () => {
    const cluster = await testCluster();
    const port = new URL(cluster.server).port;
    const pid = await apiserverPid(port);
    assert.ok(pid, `kube-apiserver on :${port} not found in /proc`);
    const ns = await uniqueNamespace(cluster, "egress");
    await cluster.kubectl(["label", "namespace", ns, `kthena-egress-test=${ns}`]);
    const configName = `kthena-egress-${ns}`;
    const svc = await cluster.kubectl([
      "create",
      "service",
      "clusterip",
      "hook",
      "-n",
      ns,
      "--tcp=443:8443",
    ]);
    assert.equal(svc.code, 0, svc.stderr);
    const clusterIp =
      (await cluster.kubectl(["get", "svc", "hook", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"]))
        .stdout;
    assert.match(clusterIp, /^10\.96\./);
    const watch = watchEgress(pid, 20);
    try {
      const config = {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: configName },
        webhooks: [{
          name: "validate-workload-ai-v1alpha1-modelserving.volcano.sh",
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Fail",
          timeoutSeconds: 10,
          namespaceSelector: { matchLabels: { "kthena-egress-test": ns } },
          clientConfig: { service: { name: "hook", namespace: ns, path: "/validate", port: 443 } },
          rules: [{
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE"],
            resources: ["configmaps"],
          }],
        }],
      };
      const w = await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(config));
      assert.equal(w.code, 0, w.stderr);
      // The configuration takes a moment to reach the admission chain: retry until it refuses.
      const started = Date.now();
      let last = "";
      for (let i = 0; i < 50; i++) {
        const t0 = Date.now();
        const r = await cluster.kubectl(["create", "configmap", `c${i}`, "-n", ns]);
        if (r.code !== 0) {
          last = r.stderr;
          assert.ok(Date.now() - t0 < 5_000, `refused only after ${Date.now() - t0} ms`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      // The refusal comes from resolving endpoints, not from a dial: without
      // --enable-aggregator-routing this machine's network answers for the ClusterIP (here a
      // TLS-intercepting egress proxy: "x509: certificate is valid for … not hook.….svc").
      assert.match(last, /no endpoints available for service "hook"/, last);
      assert.doesNotMatch(last, /x509|tls:|dial tcp/, last);
      assert.doesNotMatch(last, new RegExp(clusterIp.replaceAll(".", "\\.")), last);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      const seen = await watch.stop();
      await cluster.kubectl([
        "delete",
        "validatingwebhookconfiguration",
        configName,
        "--ignore-not-found",
      ]);
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
      assert.deepEqual(
        seen,
        [],
        `kube-apiserver sockets outside 127.0.0.0/8: ${JSON.stringify(seen)}`,
      );
    }
  },
);
