/**
 * The ModelServing controller on a real kube-apiserver and kube-controller-manager (garbage
 * collection). There is no kubelet: a small loop in the test plays it, marking new pods Running
 * and Ready (or leaving pods of a "bad" image pending). Ports upstream's e2e checklist where no
 * kubelet is needed (kthena-controllers.md §7).
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { customResource, jsonLogger, KubeClient, silentLogger } from "@kthena/shared/k8s";
import {
  MODEL_SERVING as MODEL_SERVING_KIND,
  POD_GROUP as POD_GROUP_KIND,
} from "@kthena/shared/api";
import { ModelServingController } from "../../controller/model_serving/controller.ts";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

type Spec = Record<string, unknown>;

const container = (image = "nginx:1") => ({ spec: { containers: [{ name: "c", image }] } });
const role = (name: string, replicas = 1, workerReplicas = 0, extra: Spec = {}) => ({
  name,
  replicas,
  workerReplicas,
  entryTemplate: container(),
  ...(workerReplicas > 0 ? { workerTemplate: container() } : {}),
  ...extra,
});

/** A controller, a kubelet stand-in and helpers, in one namespace of the shared cluster. */
class Harness {
  controller!: ModelServingController;
  running: Promise<void> | undefined;
  readonly badImages = new Set<string>();
  #kubelet: ReturnType<typeof setInterval> | undefined;
  #busy = false;

  constructor(readonly client: KubeClient, readonly ns: string) {}

  static async start(prefix: string): Promise<Harness> {
    const cluster = await testCluster();
    const ns = await uniqueNamespace(cluster, prefix);
    const client = KubeClient.load({ path: cluster.kubeconfigPath });
    const h = new Harness(client, ns);
    h.startController();
    h.#kubelet = setInterval(() => h.#playKubelet(), 150);
    return h;
  }

  startController(): void {
    this.controller = new ModelServingController({
      client: this.client,
      workers: 4,
      logger: Deno.env.get("KTHENA_TEST_LOG") ? jsonLogger("debug") : silentLogger,
    });
    this.running = this.controller.run();
  }

  async stopController(): Promise<void> {
    await this.controller.stop();
    await this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.#kubelet);
    await this.stopController();
    this.client.close();
  }

  /** Marks pods without a phase Running/Ready, like a kubelet would. */
  async #playKubelet(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const pods = await this.client.pods.list({ namespace: this.ns });
      await Promise.all(
        pods.items.filter((p) => !p.status?.phase || p.status.phase === "Pending")
          .filter((p) => !p.metadata?.deletionTimestamp)
          .map(async (p) => {
            const image = p.spec?.containers[0]?.image ?? "";
            if (this.badImages.has(image)) return;
            await this.client.pods.patchStatus(this.ns, p.metadata!.name!, {
              phase: "Running",
              conditions: [{
                type: "Ready",
                status: "True",
                lastTransitionTime: new Date().toISOString(),
              }],
            }).catch(() => {});
          }),
      );
    } catch {
      /* the next tick tries again */
    } finally {
      this.#busy = false;
    }
  }

  async apply(name: string, spec: Spec): Promise<void> {
    const ms = this.client.resource(MODEL_SERVING_KIND);
    await ms.apply({
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "ModelServing",
      metadata: { name, namespace: this.ns },
      spec,
    } as never, { fieldManager: "test" });
  }

  async get(name: string): Promise<MsObject> {
    return await this.client.resource(MODEL_SERVING_KIND).get(this.ns, name) as MsObject;
  }

  async pods(): Promise<V1Pod[]> {
    return (await this.client.pods.list({ namespace: this.ns })).items
      .filter((p) => !p.metadata?.deletionTimestamp);
  }

  /** Waits for upstream's notion of ready: observed generation, replicas, available. */
  async waitReady(name: string, timeoutMs = 60_000): Promise<MsObject> {
    return await this.waitFor(`${name} ready`, async () => {
      const ms = await this.get(name);
      const s = ms.status ?? {};
      const want = ms.spec.replicas ?? 1;
      return s.observedGeneration === ms.metadata.generation && s.replicas === want &&
          s.availableReplicas === want
        ? ms
        : undefined;
    }, timeoutMs);
  }

  async waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 60_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await probe();
        if (v !== undefined && v !== false) return v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
  }
}

interface MsObject {
  metadata: { name: string; generation?: number; uid?: string };
  spec: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    conditions?: { type: string; status: string }[];
  };
}

const groupOf = (p: V1Pod) => Number(p.metadata!.labels![L.groupName]!.split("-").pop());
const ordinals = (pods: V1Pod[]) => [...new Set(pods.map(groupOf))].sort((a, b) => a - b);

Deno.test(
  "ModelServing lifecycle: create, roll to a new image, delete through GC (S1, S12)",
  opts,
  async () => {
    const h = await Harness.start("ms-life");
    try {
      await h.apply("life", { template: { roles: [role("prefill", 1, 1), role("decode")] } });
      const ms = await h.waitReady("life");
      const names = (await h.pods()).map((p) => p.metadata!.name).sort();
      assert.deepEqual(names, ["life-0-decode-0-0", "life-0-prefill-0-0", "life-0-prefill-0-1"]);
      const available = ms.status!.conditions!.find((c) => c.type === "Available");
      assert.equal(available?.status, "True");
      // A headless Service for the role with a worker, owned by the ModelServing.
      const svc = await h.client.services.get(h.ns, "life-0-prefill-0-0");
      assert.equal(svc.spec?.clusterIP, "None");
      assert.equal(svc.metadata?.ownerReferences?.[0]?.uid, ms.metadata.uid);

      await h.apply("life", {
        template: {
          roles: [
            { ...role("prefill", 1, 1), entryTemplate: container("nginx:2") },
            role("decode"),
          ],
        },
      });
      await h.waitFor("new image", async () => {
        const pods = await h.pods();
        const entry = pods.find((p) => p.metadata!.name === "life-0-prefill-0-0");
        const m = await h.get("life");
        return entry?.spec?.containers[0]?.image === "nginx:2" &&
          m.status?.availableReplicas === 1 &&
          m.status.currentRevision === m.status.updateRevision;
      });

      // Role events on the ModelServing (S12).
      const events = (await h.client.events.list({ namespace: h.ns })).items
        .filter((e) =>
          e.involvedObject.kind === "ModelServing" && e.involvedObject.uid === ms.metadata.uid
        );
      const reasons = new Set(events.map((e) => e.reason));
      assert.ok(reasons.has("RoleCreating") && reasons.has("RoleRunning"), [...reasons].join());

      await h.client.resource(MODEL_SERVING_KIND).delete(h.ns, "life");
      await h.waitFor("children collected", async () => (await h.pods()).length === 0, 90_000);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "scaling: exact ordinals up and down; headless Services follow (S2, S3, S7)",
  opts,
  async () => {
    const h = await Harness.start("ms-scale");
    try {
      await h.apply("sc", { replicas: 1, template: { roles: [role("prefill", 1, 1)] } });
      await h.waitReady("sc");
      await h.apply("sc", { replicas: 3, template: { roles: [role("prefill", 1, 1)] } });
      await h.waitReady("sc");
      assert.deepEqual(ordinals(await h.pods()), [0, 1, 2]);
      assert.equal((await h.client.services.list({ namespace: h.ns })).items.length, 3);
      await h.apply("sc", { replicas: 1, template: { roles: [role("prefill", 1, 1)] } });
      await h.waitReady("sc");
      await h.waitFor("one group left", async () => ordinals(await h.pods()).join() === "0");
      await h.waitFor(
        "one Service left",
        async () => (await h.client.services.list({ namespace: h.ns })).items.length === 1,
      );
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "ServingGroupRecreate rebuilds the whole group at the same ordinal (S6)",
  opts,
  async () => {
    const h = await Harness.start("ms-sgr");
    try {
      await h.apply("sgr", {
        recoveryPolicy: "ServingGroupRecreate",
        template: { roles: [role("prefill"), role("decode")] },
      });
      await h.waitReady("sgr");
      const before = new Map((await h.pods()).map((p) => [p.metadata!.name!, p.metadata!.uid]));
      await h.client.pods.delete(h.ns, "sgr-0-prefill-0-0");
      await h.waitFor("group rebuilt", async () => {
        const pods = await h.pods();
        return pods.length === 2 &&
          pods.every((p) =>
            before.has(p.metadata!.name!) && before.get(p.metadata!.name!) !== p.metadata!.uid
          ) &&
          pods.every((p) => p.status?.phase === "Running");
      });
    } finally {
      await h.close();
    }
  },
);

Deno.test("rolling update: maxUnavailable holds on every observed status (S11)", opts, async () => {
  const h = await Harness.start("ms-roll");
  try {
    const spec = (image: string) => ({
      replicas: 4,
      rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 2 } },
      template: { roles: [{ ...role("prefill", 2), entryTemplate: container(image) }] },
    });
    await h.apply("roll", spec("nginx:1"));
    await h.waitReady("roll");
    // Watch every status the API server holds while the update runs.
    const worst = { unavailable: 0 };
    const watcher = h.client.informer(customMs(), { namespace: h.ns });
    watcher.addHandler({
      onUpdate: (_, ms) => {
        const s = (ms as MsObject).status ?? {};
        worst.unavailable = Math.max(
          worst.unavailable,
          (s.replicas ?? 0) - (s.availableReplicas ?? 0),
        );
      },
    });
    watcher.start();
    try {
      await h.apply("roll", spec("nginx:2"));
      await h.waitFor("rolled", async () => {
        const pods = await h.pods();
        const m = await h.get("roll");
        return pods.length === 8 && pods.every((p) => p.spec!.containers[0]!.image === "nginx:2") &&
          m.status?.availableReplicas === 4 && m.status.updatedReplicas === 4;
      }, 90_000);
    } finally {
      await watcher.stop();
    }
    assert.ok(worst.unavailable <= 2, `unavailable reached ${worst.unavailable}`);
  } finally {
    await h.close();
  }
});

Deno.test(
  "partition: protected groups keep their revision, also when rebuilt (S15, S16)",
  opts,
  async () => {
    const h = await Harness.start("ms-part");
    try {
      const spec = (image: string) => ({
        replicas: 5,
        recoveryPolicy: "RoleRecreate",
        rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 5, partition: 3 } },
        template: { roles: [{ ...role("role"), entryTemplate: container(image) }] },
      });
      await h.apply("part", spec("nginx:1"));
      const initial = (await h.waitReady("part")).status!.updateRevision!;
      await h.apply("part", spec("nginx:2"));
      const image = async (g: number) =>
        (await h.pods()).find((p) => groupOf(p) === g)?.spec?.containers[0]?.image;
      await h.waitFor(
        "groups 3 and 4 updated",
        async () =>
          (await image(3)) === "nginx:2" && (await image(4)) === "nginx:2" &&
          (await h.get("part")).status?.availableReplicas === 5,
      );
      for (const g of [0, 1, 2]) {
        assert.equal(await image(g), "nginx:1");
      }
      assert.equal((await h.get("part")).status!.currentRevision, initial);

      await h.client.pods.delete(h.ns, "part-1-role-0-0");
      await h.waitFor("group 1 rebuilt", async () => {
        const p = (await h.pods()).find((x) => x.metadata!.name === "part-1-role-0-0");
        return p?.status?.phase === "Running" ? p : undefined;
      });
      const rebuilt = (await h.pods()).find((x) => x.metadata!.name === "part-1-role-0-0")!;
      assert.equal(rebuilt.metadata!.labels![L.revision], initial);
      assert.equal(rebuilt.spec!.containers[0]!.image, "nginx:1");
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "scale down by pod-deletion-cost keeps the most expensive group (S26)",
  opts,
  async () => {
    const h = await Harness.start("ms-cost");
    try {
      await h.apply("cost", { replicas: 4, template: { roles: [role("prefill")] } });
      await h.waitReady("cost");
      for (const p of await h.pods()) {
        await h.client.pods.patch(h.ns, p.metadata!.name!, {
          metadata: {
            annotations: { "controller.kubernetes.io/pod-deletion-cost": String(groupOf(p) * 100) },
          },
        });
      }
      await h.apply("cost", { replicas: 1, template: { roles: [role("prefill")] } });
      await h.waitFor("one group left", async () => ordinals(await h.pods()).join() === "3");
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "gang scheduling: one PodGroup per group with Volcano annotations on pods",
  opts,
  async () => {
    const h = await Harness.start("ms-gang");
    try {
      await h.apply("gang", {
        replicas: 2,
        template: { roles: [role("prefill", 2, 1), role("decode")] },
      });
      await h.waitReady("gang");
      const pgs = await h.client.resource(POD_GROUP_KIND).list({ namespace: h.ns });
      const byName = new Map(
        pgs.items.map((
          pg,
        ) => [pg.metadata!.name!, pg as unknown as { spec: { minMember: number } }]),
      );
      assert.deepEqual([...byName.keys()].sort(), ["gang-0", "gang-1"]);
      assert.equal(byName.get("gang-0")!.spec.minMember, 5);
      const pod = (await h.pods()).find((p) => p.metadata!.name === "gang-1-prefill-1-0")!;
      assert.equal(pod.metadata!.annotations!["scheduling.k8s.io/group-name"], "gang-1");
      assert.equal(pod.metadata!.annotations!["volcano.sh/task-spec"], "prefill-1");
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "a controller restart in the middle of creation ends with exactly the expected pods (S20)",
  opts,
  async () => {
    const h = await Harness.start("ms-restart");
    try {
      await h.apply("rs", {
        replicas: 5,
        template: { roles: [role("prefill", 1, 2), role("decode", 1, 1)] },
      });
      // Stop the controller while it is creating, then start a new one.
      await h.waitFor("creation under way", async () => (await h.pods()).length > 0, 30_000);
      await h.stopController();
      h.startController();
      await h.waitReady("rs", 90_000);
      const pods = await h.pods();
      assert.equal(pods.length, 25);
      assert.equal(new Set(pods.map((p) => p.metadata!.name)).size, 25);
    } finally {
      await h.close();
    }
  },
);

function customMs() {
  return customResource(MODEL_SERVING_KIND);
}
