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
  // The agent keeps its nodes' Leases fresh, as a kubelet does.
  for (const node of s.agent.nodeNames) {
    const renew = await s.k([
      "get",
      "lease",
      "-n",
      "kube-node-lease",
      node,
      "-o",
      "jsonpath={.spec.renewTime}",
    ]);
    assert.ok(Date.now() - Date.parse(renew) < 30_000, `${node} lease renewed at ${renew}`);
  }
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

Deno.test("the gang binder binds a PodGroup only when all of minMember fit", E2E, async () => {
  const s = await up();
  const ns = "gang";
  await s.k(["create", "namespace", ns]);
  const group = (name: string, minMember: number) =>
    JSON.stringify({
      apiVersion: "scheduling.volcano.sh/v1beta1",
      kind: "PodGroup",
      metadata: { name, namespace: ns },
      spec: { minMember },
    });
  const pod = (name: string, pg: string, gpus: number) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: ns,
        labels: { pg },
        annotations: { "scheduling.k8s.io/group-name": pg },
      },
      spec: {
        schedulerName: "volcano",
        containers: [{
          name: "c",
          image: "busybox",
          resources: { limits: { "nvidia.com/gpu": String(gpus) } },
        }],
      },
    });
  // Two members of 5 GPUs each: 10 > 8, neither is bound.
  await s.k(["apply", "-f", "-"], group("big", 2));
  await s.k(["apply", "-f", "-"], pod("big-0", "big", 5));
  await s.k(["apply", "-f", "-"], pod("big-1", "big", 5));
  // A gang of two whose second member comes later.
  await s.k(["apply", "-f", "-"], group("late", 2));
  await s.k(["apply", "-f", "-"], pod("late-0", "late", 1));
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok((await pods(s, ns)).every((p) => !p.spec?.nodeName), "nothing bound yet");
  const phase = (pg: string) =>
    s.k(["get", "podgroup", "-n", ns, pg, "-o", "jsonpath={.status.phase}"]);
  assert.equal(await phase("big"), "Pending");
  await s.k(["apply", "-f", "-"], pod("late-1", "late", 1));
  await waitPodsReady(s, ns, "pg=late", 2, 30_000);
  assert.equal(await phase("late"), "Running");
  assert.ok((await pods(s, ns, "pg=big")).every((p) => !p.spec?.nodeName));
  await s.k(["delete", "namespace", ns, "--wait=false"]);
  // The GPUs the gang held are free again before the examples need them.
  await eventually("gang pods gone", async () => (await pods(s, ns)).length === 0, 60_000);
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
  // Each answer came from a prefill and a decode pod of one group (the router's access log).
  const readLines = async (model: string) =>
    (await Deno.readTextFile(`${s.cluster.dir}/router.log`)).split("\n")
      .filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, string | number>)
      .filter((l) => l.model_name === model && l.status_code === 200);
  // A stream's access line is written when it has ended, just after the client's last byte.
  for (let i = 0; i < 50; i++) {
    const counts = await Promise.all(EXAMPLES.map(async (e) => (await readLines(e.model)).length));
    if (counts.every((n) => n >= 3)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const e of EXAMPLES) {
    const lines = await readLines(e.model);
    assert.ok(lines.length >= 3, `${e.model}: ${lines.length} access-log lines`);
    for (const l of lines) {
      assert.match(String(l.prefill_pod), new RegExp(`^${e.ms}-0-prefill-`), JSON.stringify(l));
      assert.match(String(l.decode_pod), new RegExp(`^${e.ms}-0-decode-`), JSON.stringify(l));
    }
  }
  // The PodGroups of the Volcano examples were bound as gangs.
  const pg = await s.k(["get", "podgroups", "-A", "-o", "jsonpath={.items[*].status.phase}"]);
  assert.match(pg, /Running/);
});

Deno.test(
  "the agent restarts a dead process (Always, liveness, image change), fails the pod (Never)",
  E2E,
  async () => {
    const s = await up();
    await s.k(["create", "namespace", "restarts"]);
    const pod = (name: string, restartPolicy: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "restarts", labels: { app: name } },
        spec: {
          restartPolicy,
          containers: [{
            name: "engine",
            image: "vllm/vllm-openai",
            args: ["--model", "m", "--port", "8000"],
            readinessProbe: { httpGet: { path: "/health", port: 8000 } },
          }],
        },
      });
    await s.k(["apply", "-f", "-"], pod("always", "Always"));
    await s.k(["apply", "-f", "-"], pod("never", "Never"));
    // A liveness probe that always fails (the simulator has no /nope) restarts the container.
    const unlive = JSON.parse(pod("unlive", "Always"));
    unlive.spec.containers[0].livenessProbe = {
      httpGet: { path: "/nope", port: 8000 },
      periodSeconds: 1,
      failureThreshold: 2,
    };
    await s.k(["apply", "-f", "-"], JSON.stringify(unlive));
    await waitPodsReady(s, "restarts", "app=always", 1, 60_000);
    await waitPodsReady(s, "restarts", "app=never", 1, 60_000);
    for (const name of ["always", "never"]) {
      Deno.kill(s.agent.processes("restarts", name).engine!, "SIGKILL");
    }
    const restarted = await eventually("always restarted and Ready", async () => {
      const [p] = await pods(s, "restarts", "app=always");
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.restartCount === 1 && cs.ready && cs.lastState?.terminated ? p : undefined;
    }, 60_000);
    assert.equal(restarted.status?.phase, "Running");
    // An image change restarts the container from the new spec, as the kubelet does.
    await s.k([
      "patch",
      "pod",
      "-n",
      "restarts",
      "always",
      "--type=json",
      "-p",
      '[{"op":"replace","path":"/spec/containers/0/image","value":"vllm/vllm-openai:v2"}]',
    ]);
    await eventually("always restarted on the new image", async () => {
      const [p] = await pods(s, "restarts", "app=always");
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.restartCount === 2 && cs.ready && cs.image === "vllm/vllm-openai:v2";
    }, 60_000);
    const failed = await eventually("never Failed", async () => {
      const [p] = await pods(s, "restarts", "app=never");
      return p?.status?.phase === "Failed" ? p : undefined;
    }, 30_000);
    assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
    await eventually("unlive restarted by its liveness probe", async () => {
      const [p] = await pods(s, "restarts", "app=unlive");
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1;
    }, 60_000);
    // Graceful deletion: the process goes, then the pod object.
    const pid = s.agent.processes("restarts", "always").engine!;
    await s.k(["delete", "pod", "-n", "restarts", "always", "--wait=false"]);
    await eventually(
      "pod always removed",
      async () => (await pods(s, "restarts", "app=always")).length === 0,
      30_000,
    );
    await assert.rejects(Deno.stat(`/proc/${pid}`));
  },
);

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
