/**
 * Upstream's router end-to-end scenarios (test/e2e/router) on the full stack: engines run in
 * Deployments (kube-controller-manager's deployment and replicaset controllers, the real
 * kube-scheduler, the node agent), with llm-d-inference-sim's command line as upstream's
 * mocks have it (echo mode); PD pairs come from ModelServings the controller manager creates.
 */
import assert from "node:assert/strict";
import {
  assertCompletion,
  chat,
  E2E,
  type E2EStack,
  e2eStack,
  eventually,
  waitForChat,
  waitPodsReady,
} from "./_helpers.ts";

const NS = "router-e2e";
const R1_5B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B";
const R7B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B";

let stack: E2EStack | undefined;

function deployment(name: string, served: string, replicas: number, labels = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: {
          containers: [{
            name: "sim",
            image: "ghcr.io/llm-d/llm-d-inference-sim:v0.5.1",
            args: ["--model", served, "--port", "8000", "--mode=echo"],
            ports: [{ containerPort: 8000 }],
            readinessProbe: { httpGet: { path: "/health", port: 8000 }, periodSeconds: 1 },
          }],
        },
      },
    },
  };
}

function modelServer(name: string, selector: Record<string, string>, model: string, extra = {}) {
  return {
    apiVersion: "networking.serving.volcano.sh/v1alpha1",
    kind: "ModelServer",
    metadata: { name, namespace: NS },
    spec: {
      workloadSelector: { matchLabels: selector },
      workloadPort: { port: 8000 },
      model,
      inferenceEngine: "vLLM",
      trafficPolicy: { timeout: "10s" },
      ...extra,
    },
  };
}

function modelRoute(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: "networking.serving.volcano.sh/v1alpha1",
    kind: "ModelRoute",
    metadata: { name, namespace: NS },
    spec,
  };
}

const apply = (s: E2EStack, ...objs: unknown[]) =>
  s.k(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objs }));

async function up(): Promise<E2EStack> {
  if (stack) return stack;
  const s = stack = await e2eStack();
  await s.k(["create", "namespace", NS]);
  await apply(
    s,
    deployment("deepseek-r1-1-5b", R1_5B, 3),
    deployment("deepseek-r1-7b", R7B, 1),
    modelServer("deepseek-r1-1-5b", { app: "deepseek-r1-1-5b" }, R1_5B),
    modelServer("deepseek-r1-7b", { app: "deepseek-r1-7b" }, R7B),
  );
  await waitPodsReady(s, NS, "app=deepseek-r1-1-5b", 3);
  await waitPodsReady(s, NS, "app=deepseek-r1-7b", 1);
  return s;
}

/** The served model a response names (the router rewrites `model` to the ModelServer's). */
const servedModel = (text: string) => (JSON.parse(text) as { model: string }).model;

Deno.test("ModelRouteSimple: a route to one ModelServer answers", E2E, async () => {
  const s = await up();
  await apply(
    s,
    modelRoute("deepseek-simple", {
      modelName: "deepseek-simple",
      rules: [{ name: "default", targetModels: [{ modelServerName: "deepseek-r1-1-5b" }] }],
    }),
  );
  const r = await waitForChat(s.routerUrl, "deepseek-simple");
  assertCompletion(r);
  assert.equal(servedModel(r.text), R1_5B);
});

Deno.test("ModelRouteMultiModels: a header rule picks the 7B model", E2E, async () => {
  const s = await up();
  await apply(
    s,
    modelRoute("deepseek-multi-models", {
      modelName: "deepseek-multi-models",
      rules: [
        {
          name: "premium",
          modelMatch: { headers: { "user-type": { exact: "premium" } } },
          targetModels: [{ modelServerName: "deepseek-r1-7b" }],
        },
        { name: "default", targetModels: [{ modelServerName: "deepseek-r1-1-5b" }] },
      ],
    }),
  );
  await waitForChat(s.routerUrl, "deepseek-multi-models");
  const premium = await chat(s.routerUrl, "deepseek-multi-models", {
    headers: { "user-type": "premium" },
  });
  assert.match(premium.text, /DeepSeek-R1-Distill-Qwen-7B/);
  const variants: Record<string, string>[] = [{}, { "user-type": "basic" }, { "user-type": "" }];
  for (const h of variants) {
    const r = await chat(s.routerUrl, "deepseek-multi-models", { headers: h });
    assert.match(r.text, /DeepSeek-R1-Distill-Qwen-1\.5B/, JSON.stringify(h));
  }
});

Deno.test("ModelRouteSubset: weights 70/30, then 50/30 is 62.5/37.5 (±5 %)", E2E, async () => {
  const s = await up();
  await apply(
    s,
    deployment("deepseek-r1-1-5b-v1", "ds-v1", 1, { version: "v1" }),
    deployment("deepseek-r1-1-5b-v2", "ds-v2", 1, { version: "v2" }),
    modelServer("deepseek-r1-1-5b-v1", { app: "deepseek-r1-1-5b-v1" }, "ds-v1"),
    modelServer("deepseek-r1-1-5b-v2", { app: "deepseek-r1-1-5b-v2" }, "ds-v2"),
  );
  await waitPodsReady(s, NS, "version", 2);
  const route = (w1: number, w2: number) =>
    modelRoute("deepseek-subset", {
      modelName: "deepseek-subset",
      rules: [{
        name: "weighted",
        targetModels: [
          { modelServerName: "deepseek-r1-1-5b-v1", weight: w1 },
          { modelServerName: "deepseek-r1-1-5b-v2", weight: w2 },
        ],
      }],
    });
  const share = async () => {
    let v1 = 0;
    for (let i = 0; i < 500; i++) {
      const r = await chat(s.routerUrl, "deepseek-subset");
      assert.equal(r.status, 200, r.text);
      if (servedModel(r.text) === "ds-v1") v1++;
    }
    return v1 / 500;
  };
  await apply(s, route(70, 30));
  await waitForChat(s.routerUrl, "deepseek-subset");
  // Up to three samples of 500, as upstream retries: ±5 % is about 2.4 σ of one sample.
  const within = async (target: number) => {
    let v = 0;
    for (let i = 0; i < 3; i++) {
      v = await share();
      if (Math.abs(v - target) <= 0.05) break;
    }
    return v;
  };
  const first = await within(0.7);
  assert.ok(Math.abs(first - 0.7) <= 0.05, `v1 share ${first}`);
  await apply(s, route(50, 30));
  // The router sees the update within moments; measure once it has.
  const second = await eventually(
    "the 50/30 split",
    async () => {
      const v = await within(0.625);
      return Math.abs(v - 0.625) <= 0.05 ? v : undefined;
    },
    60_000,
    0,
  );
  assert.ok(Math.abs(second - 0.625) <= 0.05, `v1 share ${second}`);
});

Deno.test("ModelRouteLora: adapters route to the pod that loaded them", E2E, async () => {
  const s = await up();
  const [pod] = await waitPodsReady(s, NS, "app=deepseek-r1-7b", 1);
  for (const name of ["lora-A", "lora-B"]) {
    const r = await fetch(`http://${pod!.status!.podIP}:8000/v1/load_lora_adapter`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ lora_name: name, lora_path: `/models/${name}` }),
    });
    assert.equal(r.status, 200, await r.text());
  }
  await apply(
    s,
    modelRoute("deepseek-lora", {
      loraAdapters: ["lora-A", "lora-B"],
      rules: [{ name: "lora", targetModels: [{ modelServerName: "deepseek-r1-7b" }] }],
    }),
  );
  for (const name of ["lora-A", "lora-B"]) {
    const r = await waitForChat(s.routerUrl, name);
    assert.match(r.text, new RegExp(name));
  }
  const missing = await chat(s.routerUrl, "lora-NonExistent");
  assert.equal(missing.status, 404);
  assert.match(missing.text, /route not found/);
});

Deno.test("ModelRouteDuplicatePreferOldest: the older route wins until deleted", E2E, async () => {
  const s = await up();
  await apply(
    s,
    modelRoute("dup-older", {
      modelName: "dup-model",
      rules: [{ targetModels: [{ modelServerName: "deepseek-r1-1-5b" }] }],
    }),
  );
  await waitForChat(s.routerUrl, "dup-model");
  await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has 1 s resolution
  await apply(
    s,
    modelRoute("dup-newer", {
      modelName: "dup-model",
      rules: [{ targetModels: [{ modelServerName: "deepseek-r1-7b" }] }],
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < 5; i++) {
    assert.equal(servedModel((await chat(s.routerUrl, "dup-model")).text), R1_5B);
  }
  await s.k(["delete", "modelroute", "-n", NS, "dup-older"]);
  await eventually("the newer route to take over", async () => {
    const r = await chat(s.routerUrl, "dup-model");
    return r.status === 200 && servedModel(r.text) === R7B;
  }, 30_000);
});

/** Sums the samples of a metric whose labels include all of `labels`. */
async function metric(url: string, name: string, labels: Record<string, string>) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

Deno.test("Metrics: request counts, latency and route-not-found errors", E2E, async () => {
  const s = await up();
  await apply(
    s,
    modelRoute("deepseek-simple", {
      modelName: "deepseek-simple",
      rules: [{ name: "default", targetModels: [{ modelServerName: "deepseek-r1-1-5b" }] }],
    }),
  );
  await waitForChat(s.routerUrl, "deepseek-simple");
  const labels = { model: "deepseek-simple", path: "/v1/chat/completions", status_code: "200" };
  const before = await metric(s.routerUrl, "kthena_router_requests_total", labels);
  const durBefore = await metric(
    s.routerUrl,
    "kthena_router_request_duration_seconds_count",
    labels,
  );
  for (let i = 0; i < 3; i++) assertCompletion(await chat(s.routerUrl, "deepseek-simple"));
  assert.equal(await metric(s.routerUrl, "kthena_router_requests_total", labels), before + 3);
  assert.equal(
    await metric(s.routerUrl, "kthena_router_request_duration_seconds_count", labels),
    durBefore + 3,
  );
  const errLabels = { error_type: "route_not_found", model: "unknown", status_code: "404" };
  const errBefore = await metric(s.routerUrl, "kthena_router_requests_total", errLabels);
  assert.equal((await chat(s.routerUrl, "unknown")).status, 404);
  assert.equal(await metric(s.routerUrl, "kthena_router_requests_total", errLabels), errBefore + 1);
});

Deno.test("PrefillDecodeDisaggregation: one PD group over http and over NIXL", E2E, async () => {
  const s = await up();
  const role = (name: string) => ({
    name,
    replicas: 1,
    workerReplicas: 0,
    entryTemplate: {
      spec: {
        containers: [{
          name: "engine",
          image: "vllm/vllm-openai:v0.10.0",
          command: ["sh", "-c"],
          args: [
            `vllm serve Qwen/Qwen3-8B --port 8000 --kv-transfer-config ` +
            `'{"kv_connector":"NixlConnector","kv_role":"kv_both"}'`,
          ],
          env: [{ name: "VLLM_NIXL_SIDE_CHANNEL_PORT", value: "5600" }],
          readinessProbe: { httpGet: { path: "/health", port: 8000 }, periodSeconds: 1 },
        }],
      },
    },
  });
  const pdServer = (name: string, extra: Record<string, unknown>) =>
    modelServer(name, {}, "Qwen/Qwen3-8B", {
      workloadSelector: {
        matchLabels: { "modelserving.volcano.sh/name": "pd" },
        pdGroup: {
          groupKey: "modelserving.volcano.sh/group-name",
          prefillLabels: { "modelserving.volcano.sh/role": "prefill" },
          decodeLabels: { "modelserving.volcano.sh/role": "decode" },
        },
      },
      ...extra,
    });
  await apply(
    s,
    {
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "ModelServing",
      metadata: { name: "pd", namespace: NS },
      spec: { replicas: 1, template: { roles: [role("prefill"), role("decode")] } },
    },
    pdServer("pd-http", {}),
    pdServer("pd-nixl", { kvConnector: { type: "nixl" } }),
    modelRoute("pd-http", {
      modelName: "pd-http",
      rules: [{ targetModels: [{ modelServerName: "pd-http" }] }],
    }),
    modelRoute("pd-nixl", {
      modelName: "pd-nixl",
      rules: [{ targetModels: [{ modelServerName: "pd-nixl" }] }],
    }),
  );
  await waitPodsReady(s, NS, "modelserving.volcano.sh/name=pd", 2);
  for (const model of ["pd-http", "pd-nixl"]) {
    assertCompletion(await waitForChat(s.routerUrl, model));
    const streamed = await chat(s.routerUrl, model, { stream: true });
    assert.equal(streamed.status, 200, streamed.text);
    assert.match(streamed.text, /data: \[DONE\]/);
  }
  const expected: [string, string][] = [["pd-http", "http"], ["pd-nixl", "nixl"]];
  const readLog = async () =>
    (await Deno.readTextFile(`${s.cluster.dir}/router.log`)).split("\n")
      .filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const ok200 = (log: Record<string, unknown>[], model: string) =>
    log.filter((l) => l.model_name === model && l.status_code === 200);
  // The access line of a stream is written when it has ended, which can be just after the
  // client read its last byte; and the writer flushes in batches.
  let log = await readLog();
  for (let i = 0; i < 50 && expected.some(([m]) => ok200(log, m).length < 2); i++) {
    await new Promise((r) => setTimeout(r, 100));
    log = await readLog();
  }
  for (const [model, connector] of expected) {
    const lines = ok200(log, model);
    assert.ok(lines.length >= 2, model);
    for (const l of lines) {
      assert.equal(l.kv_connector, connector, JSON.stringify(l));
      assert.match(String(l.prefill_pod), /^pd-0-prefill-/);
      assert.match(String(l.decode_pod), /^pd-0-decode-/);
    }
  }
});

Deno.test("PrefillDecodeMultinode: entry pods of multi-node roles pair up", E2E, async () => {
  const s = await up();
  const engineContainer = {
    name: "engine",
    image: "vllm/vllm-openai:v0.10.0",
    args: ["--model", "Qwen/Qwen3-8B", "--port", "8000", "--tensor-parallel-size", "2"],
    readinessProbe: { httpGet: { path: "/health", port: 8000 }, periodSeconds: 1 },
  };
  const role = (name: string) => ({
    name,
    replicas: 1,
    workerReplicas: 1,
    entryTemplate: { spec: { containers: [engineContainer] } },
    workerTemplate: {
      spec: { containers: [{ name: "worker", image: "busybox", command: ["sleep", "inf"] }] },
    },
  });
  const entry = { "modelserving.volcano.sh/entry": "true" };
  await apply(
    s,
    {
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "ModelServing",
      metadata: { name: "multinode", namespace: NS },
      spec: { replicas: 1, template: { roles: [role("prefill"), role("decode")] } },
    },
    modelServer("multinode", {}, "Qwen/Qwen3-8B", {
      workloadSelector: {
        matchLabels: { "modelserving.volcano.sh/name": "multinode", ...entry },
        pdGroup: {
          groupKey: "modelserving.volcano.sh/group-name",
          prefillLabels: { "modelserving.volcano.sh/role": "prefill", ...entry },
          decodeLabels: { "modelserving.volcano.sh/role": "decode", ...entry },
        },
      },
    }),
    modelRoute("multinode", {
      modelName: "multinode",
      rules: [{ targetModels: [{ modelServerName: "multinode" }] }],
    }),
  );
  await waitPodsReady(s, NS, "modelserving.volcano.sh/name=multinode", 4);
  assertCompletion(await waitForChat(s.routerUrl, "multinode"));
});

Deno.test(
  "SglangPrefillDecodeDisaggregation: an SGLang PD pair from a ModelServing",
  E2E,
  async () => {
    const s = await up();
    const role = (name: string) => ({
      name,
      replicas: 1,
      workerReplicas: 0,
      entryTemplate: {
        spec: {
          containers: [{
            name: "sglang",
            image: "lmsysorg/sglang:latest",
            command: ["python3", "-m", "sglang.launch_server"],
            args: [
              "--model-path",
              "Qwen/Qwen3-8B",
              "--port",
              "30000",
              "--disaggregation-mode",
              name,
              "--disaggregation-transfer-backend",
              "mooncake",
            ],
            readinessProbe: { httpGet: { path: "/health", port: 30000 } },
          }],
        },
      },
    });
    await apply(
      s,
      {
        apiVersion: "workload.serving.volcano.sh/v1alpha1",
        kind: "ModelServing",
        metadata: { name: "sglang-pd", namespace: NS },
        spec: { replicas: 1, template: { roles: [role("prefill"), role("decode")] } },
      },
      {
        ...modelServer(
          "sglang-pd",
          { "modelserving.volcano.sh/name": "sglang-pd" },
          "Qwen/Qwen3-8B",
          {
            inferenceEngine: "SGLang",
            workloadPort: { port: 30000 },
            workloadSelector: {
              matchLabels: { "modelserving.volcano.sh/name": "sglang-pd" },
              pdGroup: {
                groupKey: "modelserving.volcano.sh/group-name",
                prefillLabels: { "modelserving.volcano.sh/role": "prefill" },
                decodeLabels: { "modelserving.volcano.sh/role": "decode" },
              },
            },
          },
        ),
      },
      modelRoute("sglang-pd", {
        modelName: "sglang-pd",
        rules: [{ targetModels: [{ modelServerName: "sglang-pd" }] }],
      }),
    );
    await waitPodsReady(s, NS, "modelserving.volcano.sh/name=sglang-pd", 2);
    assertCompletion(await waitForChat(s.routerUrl, "sglang-pd"));
    const streamed = await chat(s.routerUrl, "sglang-pd", { stream: true });
    assert.equal(streamed.status, 200, streamed.text);
    assert.match(streamed.text, /data: \[DONE\]/);
  },
);

Deno.test("router e2e: no egress, and the stack stops", E2E, async () => {
  const s = await up();
  await s.assertNoEgress();
  await s.stop();
});
