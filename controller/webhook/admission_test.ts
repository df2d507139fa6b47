import assert from "node:assert/strict";
import { admissionApp } from "./admission.ts";

const PATH = "/validate-workload-ai-v1alpha1-modelserving";

const modelServing = (image: string) => ({
  apiVersion: "workload.serving.volcano.sh/v1alpha1",
  kind: "ModelServing",
  metadata: { name: "ms", namespace: "default" },
  spec: {
    template: {
      roles: [{
        name: "prefill",
        workerReplicas: 1,
        entryTemplate: { spec: { containers: [{ name: "c", image: "nginx" }] } },
        workerTemplate: { spec: { containers: [{ name: "w", image }] } },
      }],
    },
  },
});

async function review(object: unknown, operation = "CREATE") {
  const res = await admissionApp().request(PATH, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "abc", operation, object },
    }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).response as {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string };
  };
}

Deno.test("admission: a valid ModelServing is allowed, echoing the request uid", async () => {
  const r = await review(modelServing("vllm/vllm-openai:v0.10.0"));
  assert.deepEqual(r, { uid: "abc", allowed: true });
});

Deno.test("admission: an image with whitespace is denied, naming the field", async () => {
  const r = await review(modelServing("vllm/vllm-openai: latest"));
  assert.equal(r.allowed, false);
  assert.equal(r.status?.code, 422);
  assert.match(
    r.status!.message,
    /^validation failed:\n {2}- spec\.template\.roles\[0\]\.workerTemplate\.spec\.containers\[0\]\.image: .*whitespace/,
  );
});

Deno.test("admission: plugins must be built-ins with a config they accept", async () => {
  const cases: { plugins: unknown[]; denied: RegExp[] }[] = [
    { plugins: [{ name: "lws-standard-labels", type: "BuiltIn" }], denied: [] },
    {
      plugins: [{ name: "demo-pod-tweaks", config: { env: [{ name: "A", value: "b" }] } }],
      denied: [],
    },
    {
      plugins: [{ name: "lws-standard-labels" }, { name: "nope" }],
      denied: [/spec\.plugins\[1\]\.name: unknown plugin "nope"/],
    },
    {
      plugins: [{ name: "demo-pod-tweaks", config: { runtimeClassName: 3 } }, { name: "x" }],
      denied: [/spec\.plugins\[0\]\.config\.runtimeClassName: /, /spec\.plugins\[1\]\.name: /],
    },
  ];
  for (const c of cases) {
    const ms = modelServing("nginx");
    (ms.spec as Record<string, unknown>).plugins = c.plugins;
    const r = await review(ms);
    assert.equal(r.allowed, c.denied.length === 0, JSON.stringify(c.plugins));
    for (const re of c.denied) assert.match(r.status!.message, re);
  }
});

Deno.test("admission: schema problems are reported like the API server's", async () => {
  const bad = modelServing("nginx");
  (bad.spec as Record<string, unknown>).replicas = -1;
  const r = await review(bad);
  assert.equal(r.allowed, false);
  assert.match(r.status!.message, /spec\.replicas: /);
});

Deno.test("admission: deletes are always allowed; non-JSON bodies get 400", async () => {
  assert.equal((await review({}, "DELETE")).allowed, true);
  const res = await admissionApp().request(PATH, { method: "POST", body: "x" });
  assert.equal(res.status, 400);
  await res.body?.cancel();
  const health = await admissionApp().request("/healthz");
  assert.equal(await health.text(), "ok");
});
