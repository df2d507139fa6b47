/**
 * End to end on the full stack (real API server, scheduler, controller manager, node agent,
 * router): every example of examples/ applied with kubectl becomes Running, Ready pods that
 * answer chat completions through the router; scheduling honours resources; nothing leaves
 * loopback.
 */
import assert from "node:assert/strict";
import {
  assertCompletion,
  assertStream,
  chat,
  E2E,
  type E2EStack,
  e2eStack,
  eventually,
  pods,
  ROOT,
  waitForChat,
  waitPodsReady,
} from "./_helpers.ts";

/** ModelServing, ModelServer and ModelRoute of each example, and what it serves. */
const EXAMPLES = [
  {
    ms: "vllm-qwen-06b",
    ns: "default",
    model: "Qwen/Qwen3-0.6B",
    node: "gpu-node-0",
    files: [
      "examples/model-serving/qwen3-0.6b-gpu-pd.yaml",
      "examples/kthena-router/ModelServer-qwen3-0.6b.yaml",
      "examples/kthena-router/ModelRoute-qwen3-0.6b.yaml",
    ],
  },
  {
    ms: "pd-sample",
    ns: "default",
    model: "qwen3-8B",
    node: "gpu-node-0",
    files: [
      "examples/model-serving/gpu-pd-disaggregation.yaml",
      "examples/kthena-router/ModelServer-pd-sample.yaml",
      "examples/kthena-router/ModelRoute-pd-sample.yaml",
    ],
  },
  {
    ms: "deepseek-v2-lite",
    ns: "dev",
    model: "deepseek-ai/DeepSeekV2",
    node: "ascend-node-0",
    files: [
      "examples/model-serving/prefill-decode-disaggregation.yaml",
      "examples/kthena-router/ModelServer-prefill-decode-disaggregation.yaml",
      "examples/kthena-router/ModelRoute-prefill-decode-disaggregation.yaml",
    ],
  },
];

let stack: E2EStack | undefined;
const up = async () => stack ??= await e2eStack();

Deno.test("kube-scheduler binds by resources: 1 GPU runs, 9 GPUs stay Pending", E2E, async () => {
  const s = await up();
  await s.k(["create", "namespace", "sched"]);
  const pod = (name: string, gpus: number) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "sched", labels: { app: name } },
      spec: {
        containers: [{
          name: "engine",
          image: "vllm/vllm-openai",
          args: ["--model", "m", "--port", "8000"],
          resources: { limits: { "nvidia.com/gpu": String(gpus) } },
          readinessProbe: { httpGet: { path: "/health", port: 8000 } },
        }],
      },
    });
  await s.k(["apply", "-f", "-"], pod("fits", 1));
  await s.k(["apply", "-f", "-"], pod("too-big", 9));
  const [fits] = await waitPodsReady(s, "sched", "app=fits", 1, 60_000);
  assert.equal(fits?.spec?.nodeName, "gpu-node-0");
  assert.match(fits?.status?.podIP ?? "", /^127\.1\./);
  const big = await eventually("the scheduler to mark too-big unschedulable", async () => {
    const p = (await pods(s, "sched")).find((p) => p.metadata?.name === "too-big");
    return p?.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False")
      ? p
      : undefined;
  }, 30_000);
  assert.equal(big.spec?.nodeName, undefined);
  assert.equal(big.status?.phase, "Pending");
  // It answers directly on its pod IP, as the router will dial it.
  const r = await chat(`http://${fits!.status!.podIP}:8000`, "m");
  assertCompletion(r);
  await s.k(["delete", "namespace", "sched", "--wait=false"]);
});

Deno.test("every example answers a chat completion through the router", E2E, async () => {
  const s = await up();
  await s.k(["create", "namespace", "dev"]);
  const applied = performance.now();
  for (const e of EXAMPLES) {
    for (const f of e.files) await s.k(["apply", "-f", `${ROOT}${f}`]);
  }
  await Promise.all(EXAMPLES.map(async (e) => {
    const ready = await waitPodsReady(s, e.ns, `modelserving.volcano.sh/name=${e.ms}`, 2);
    for (const p of ready) {
      assert.equal(p.spec?.nodeName, e.node, `${p.metadata?.name} runs on ${e.node}`);
      assert.match(p.status?.podIP ?? "", /^127\.1\./);
    }
    const first = await waitForChat(s.routerUrl, e.model);
    // deno-lint-ignore no-console
    console.log(
      `${e.ms}: first chat ${((performance.now() - applied) / 1000).toFixed(1)} s after apply`,
    );
    assertCompletion(first);
    assertStream(await chat(s.routerUrl, e.model, { stream: true }));
    const body = assertCompletion(await chat(s.routerUrl, e.model));
    assert.equal(body.model, e.model);
  }));
  // The PodGroups of the Volcano examples were bound as gangs.
  const pg = await s.k(["get", "podgroups", "-A", "-o", "jsonpath={.items[*].status.phase}"]);
  assert.match(pg, /Running/);
});

Deno.test(
  "nothing in the stack dialed outside 127.0.0.0/8; the stack stops clean",
  E2E,
  async () => {
    const s = await up();
    await s.assertNoEgress();
    const pids = s.agent.pids();
    assert.ok(pids.length >= 6, `engine processes: ${pids}`);
    await s.stop();
    for (const pid of pids) {
      await assert.rejects(Deno.stat(`/proc/${pid}`), `process ${pid} is gone`);
    }
  },
);
