/**
 * Upstream's controller end-to-end scenarios (S1, S6, S13, S20 of
 * /work/shared/reference/kthena-controllers.md) on the full stack: the controller manager
 * creates pods, kube-scheduler binds them, the node agent runs them as processes and reports
 * their status. No status is patched by hand.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { E2E, type E2EStack, e2eStack, eventually, pods, runningReady } from "./_helpers.ts";

let stack: E2EStack | undefined;
const up = async () => stack ??= await e2eStack();

const NAME_LABEL = "modelserving.volcano.sh/name";
const GROUP_LABEL = "modelserving.volcano.sh/group-name";

interface RoleOptions {
  name: string;
  replicas?: number;
  workers?: number;
  image?: string;
}

function engine(image: string) {
  return {
    name: "test-container",
    image,
    args: ["--model", "m", "--port", "8000"],
    readinessProbe: { httpGet: { path: "/health", port: 8000 }, periodSeconds: 1 },
  };
}

function modelServing(
  name: string,
  ns: string,
  replicas: number,
  roles: RoleOptions[],
  spec: Record<string, unknown> = {},
) {
  return {
    apiVersion: "workload.serving.volcano.sh/v1alpha1",
    kind: "ModelServing",
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      ...spec,
      template: {
        roles: roles.map((r) => ({
          name: r.name,
          replicas: r.replicas ?? 1,
          workerReplicas: r.workers ?? 0,
          entryTemplate: { spec: { containers: [engine(r.image ?? "vllm/vllm-openai:v0.10.0")] } },
          ...(r.workers
            ? {
              workerTemplate: {
                spec: {
                  containers: [{ name: "worker", image: "busybox", command: ["sleep", "inf"] }],
                },
              },
            }
            : {}),
        })),
      },
    },
  };
}

interface MsStatus {
  replicas?: number;
  availableReplicas?: number;
  updatedReplicas?: number;
  conditions?: { type: string; status: string }[];
}

async function msStatus(s: E2EStack, ns: string, name: string): Promise<MsStatus | undefined> {
  const r = await s.cluster.kubectl(["get", "modelserving", "-n", ns, name, "-o", "json"]);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { status?: MsStatus }).status ?? {};
}

/** Waits until the ModelServing reports all `groups` available and `podCount` pods Ready. */
async function waitReady(s: E2EStack, ns: string, name: string, groups: number, podCount: number) {
  return await eventually(`${ns}/${name} ready`, async () => {
    const st = await msStatus(s, ns, name);
    if (st?.availableReplicas !== groups || st.replicas !== groups) return undefined;
    const live = (await pods(s, ns, `${NAME_LABEL}=${name}`)).filter((p) =>
      !p.metadata?.deletionTimestamp
    );
    return live.length === podCount && live.every(runningReady) ? live : undefined;
  }, 180_000);
}

const apply = (s: E2EStack, obj: unknown) => s.k(["apply", "-f", "-"], JSON.stringify(obj));

Deno.test(
  "S1 lifecycle: ready, an image change rolls the pods, delete removes all",
  E2E,
  async () => {
    const s = await up();
    const ns = "s1";
    await s.k(["create", "namespace", ns]);
    await apply(s, modelServing("s1", ns, 1, [{ name: "main" }]));
    await waitReady(s, ns, "s1", 1, 1);
    await apply(
      s,
      modelServing("s1", ns, 1, [{ name: "main", image: "vllm/vllm-openai:v0.10.1" }]),
    );
    await eventually("every pod on the new image", async () => {
      const st = await msStatus(s, ns, "s1");
      const live = (await pods(s, ns, `${NAME_LABEL}=s1`)).filter((p) =>
        !p.metadata?.deletionTimestamp
      );
      return st?.availableReplicas === 1 && live.length === 1 && live.every(runningReady) &&
        live.every((p) =>
          p.spec?.containers.find((c) => c.name === "test-container")?.image ===
            "vllm/vllm-openai:v0.10.1"
        );
    }, 120_000);
    await s.k(["delete", "modelserving", "-n", ns, "s1", "--wait=false"]);
    await eventually("ModelServing and pods gone", async () => {
      const gone = (await msStatus(s, ns, "s1")) === undefined;
      return gone && (await pods(s, ns, `${NAME_LABEL}=s1`)).length === 0;
    }, 120_000);
  },
);

Deno.test("S6 ServingGroupRecreate: a deleted pod brings its whole group back", E2E, async () => {
  const s = await up();
  const ns = "s6";
  await s.k(["create", "namespace", ns]);
  await apply(
    s,
    modelServing("s6", ns, 1, [{ name: "prefill" }, { name: "decode" }], {
      recoveryPolicy: "ServingGroupRecreate",
    }),
  );
  const before = await waitReady(s, ns, "s6", 1, 2);
  const oldUids = new Set(before.map((p) => p.metadata?.uid));
  const group = before[0]!.metadata?.labels?.[GROUP_LABEL];
  await s.k(["delete", "pod", "-n", ns, before[0]!.metadata!.name!, "--wait=false"]);
  await eventually("both pods new, Ready, same group", async () => {
    const all = await pods(s, ns, `${NAME_LABEL}=s6`);
    const live = all.filter((p) => !p.metadata?.deletionTimestamp);
    return all.every((p) => !oldUids.has(p.metadata?.uid)) && live.length === 2 &&
      live.every(runningReady) && live.every((p) => p.metadata?.labels?.[GROUP_LABEL] === group);
  }, 180_000);
});

Deno.test("S13 a bad image never takes more than maxUnavailable groups down", E2E, async () => {
  const s = await up();
  const ns = "s13";
  await s.k(["create", "namespace", ns]);
  const rollout = {
    rolloutStrategy: {
      type: "ServingGroupRollingUpdate",
      rollingUpdateConfiguration: { maxUnavailable: 2 },
    },
  };
  await apply(s, modelServing("s13", ns, 6, [{ name: "main" }], rollout));
  await waitReady(s, ns, "s13", 6, 6);
  await apply(
    s,
    modelServing(
      "s13",
      ns,
      6,
      [{ name: "main", image: "registry.invalid/nonexistent:v0" }],
      rollout,
    ),
  );
  let worst = 0;
  let sawBad = false;
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const st = await msStatus(s, ns, "s13");
    worst = Math.max(worst, (st?.replicas ?? 6) - (st?.availableReplicas ?? 0));
    assert.ok(worst <= 2, `unavailable groups ${worst} > maxUnavailable 2: ${JSON.stringify(st)}`);
    const bad = (await pods(s, ns, `${NAME_LABEL}=s13`)).filter((p: V1Pod) =>
      p.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === "ErrImagePull")
    );
    sawBad ||= bad.length > 0;
    await new Promise((r) => setTimeout(r, 500));
  }
  const st = await msStatus(s, ns, "s13");
  assert.ok((st?.replicas ?? 6) - (st?.availableReplicas ?? 0) <= 2, JSON.stringify(st));
  assert.ok(sawBad, "the agent reported ErrImagePull for the bad image");
  await s.k(["delete", "namespace", ns, "--wait=false"]);
});

Deno.test(
  "S20 the controller manager killed mid-creation: 25 pods, no more, no less",
  E2E,
  async () => {
    const s = await up();
    const ns = "s20";
    await s.k(["create", "namespace", ns]);
    await apply(
      s,
      modelServing("s20", ns, 5, [{ name: "prefill", workers: 2 }, { name: "decode", workers: 1 }]),
    );
    await new Promise((r) => setTimeout(r, Math.random() * 3000));
    await s.restartController();
    const live = await waitReady(s, ns, "s20", 5, 25);
    assert.equal(new Set(live.map((p) => p.metadata?.name)).size, 25);
    await s.k(["delete", "namespace", ns, "--wait=false"]);
  },
);

Deno.test("controller e2e: no egress, and the stack stops", E2E, async () => {
  const s = await up();
  await s.assertNoEgress();
  await s.stop();
});
