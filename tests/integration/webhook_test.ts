/**
 * The validating admission webhook called by a real API server, over TLS with a generated CA.
 */
import assert from "node:assert/strict";
import { admissionApp } from "../../controller/webhook/admission.ts";
import { generateWebhookCerts } from "../../controller/webhook/certs.ts";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const modelServing = (name: string, image: string, plugins?: unknown[]) =>
  JSON.stringify({
    apiVersion: "workload.serving.volcano.sh/v1alpha1",
    kind: "ModelServing",
    metadata: { name },
    spec: {
      ...(plugins ? { plugins } : {}),
      template: {
        roles: [{
          name: "prefill",
          entryTemplate: { spec: { containers: [{ name: "c", image }] } },
        }],
      },
    },
  });

Deno.test("the API server calls our webhook, which rejects naming the field", opts, async () => {
  const cluster = await testCluster();
  const ns = await uniqueNamespace(cluster, "webhook");
  await cluster.kubectl(["label", "namespace", ns, `kthena-webhook-test=${ns}`]);

  const certs = await generateWebhookCerts({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certs.cert, key: certs.key, onListen: () => {} },
    admissionApp().fetch,
  );
  const configName = `kthena-test-${ns}`;
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
        // Only this test's namespace: other tests share the cluster.
        namespaceSelector: { matchLabels: { "kthena-webhook-test": ns } },
        clientConfig: {
          url: `https://127.0.0.1:${server.addr.port}/validate-workload-ai-v1alpha1-modelserving`,
          caBundle: btoa(certs.caCert),
        },
        rules: [{
          apiGroups: ["workload.serving.volcano.sh"],
          apiVersions: ["v1alpha1"],
          operations: ["CREATE", "UPDATE"],
          resources: ["modelservings"],
        }],
      }],
    };
    let r = await cluster.kubectl(["create", "-f", "-"], JSON.stringify(config));
    assert.equal(r.code, 0, r.stderr);

    // The webhook is eventually consistent in the API server: retry the valid create briefly.
    const deadline = Date.now() + 30_000;
    for (;;) {
      r = await cluster.kubectl(["create", "-n", ns, "-f", "-"], modelServing("good", "nginx:1"));
      if (r.code === 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal(r.code, 0, r.stderr);

    // Wait until the webhook is really consulted (a bad object is denied), then check the text.
    let denied = "";
    while (Date.now() < deadline) {
      r = await cluster.kubectl(
        ["create", "-n", ns, "-f", "-"],
        modelServing(`bad-${Date.now() % 100000}`, "nginx: 1"),
      );
      if (r.code !== 0) {
        denied = r.stderr;
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.match(
      denied,
      /admission webhook "validate-workload-ai-v1alpha1-modelserving.volcano.sh" denied/,
    );
    assert.match(
      denied,
      /spec\.template\.roles\[0\]\.entryTemplate\.spec\.containers\[0\]\.image: .*must not contain whitespace/,
    );
    // A plugin the controller does not have is refused at the door, not at pod creation.
    r = await cluster.kubectl(
      ["create", "-n", ns, "-f", "-"],
      modelServing("bad-plugin", "nginx:1", [{ name: "no-such-plugin" }]),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.plugins\[0\]\.name: unknown plugin "no-such-plugin"/);
  } finally {
    await cluster.kubectl([
      "delete",
      "validatingwebhookconfiguration",
      configName,
      "--ignore-not-found",
    ]);
    await server.shutdown();
  }
});
