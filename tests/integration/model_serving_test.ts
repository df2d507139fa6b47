/**
 * The ModelServing controller on a real kube-apiserver and kube-controller-manager: lifecycle,
 * scaling of groups and roles, headless Services, pass-through of the pod spec, gang
 * scheduling and a controller restart. Ports upstream's e2e checklist where no kubelet is
 * needed (kthena-controllers.md §7); the kubelet is played by {@linkcode Harness}.
 *
 * The other scenarios are in `model_serving_{recovery,rollout,role_rollout,scale_down}_test.ts`.
 * S14 (LeaderWorkerSet) is not ported: there is no LeaderWorkerSet support.
 */
import assert from "node:assert/strict";
import { POD_GROUP } from "@kthena/shared/api";
import {
  container,
  Harness,
  isReady,
  opts,
  ordinals,
  role,
  roleWithImage,
} from "./model_serving_harness.ts";
import { MODEL_SERVING } from "@kthena/shared/api";

Deno.test(
  "ModelServing lifecycle: create, roll to a new image, delete through GC (S1, S12)",
  opts,
  async () => {
    const h = await Harness.start("ms-life");
    try {
      await h.apply("life", { template: { roles: [role("prefill", 1, 1), role("decode")] } });
      const ms = await h.waitReady("life");
      assert.deepEqual(await h.podNames(), [
        "life-0-decode-0-0",
        "life-0-prefill-0-0",
        "life-0-prefill-0-1",
      ]);
      const available = ms.status!.conditions!.find((c) => c.type === "Available");
      assert.equal(available?.status, "True");
      // A headless Service for the role with a worker, owned by the ModelServing.
      const svc = await h.client.services.get(h.ns, "life-0-prefill-0-0");
      assert.equal(svc.spec?.clusterIP, "None");
      assert.equal(svc.metadata?.ownerReferences?.[0]?.uid, ms.metadata.uid);

      await h.apply("life", {
        template: { roles: [roleWithImage("prefill", "nginx:2", 1, 1), role("decode")] },
      });
      await h.waitFor("new image", async () => {
        const entry = (await h.podMap()).get("life-0-prefill-0-0");
        const m = await h.get("life");
        return entry?.spec?.containers[0]?.image === "nginx:2" && isReady(m) &&
          m.status!.currentRevision === m.status!.updateRevision;
      });

      // Role events on the ModelServing (S12).
      const reasons = new Set((await h.events(ms)).map((e) => e.reason));
      assert.ok(reasons.has("RoleCreating") && reasons.has("RoleRunning"), [...reasons].join());

      await h.client.resource(MODEL_SERVING).delete(h.ns, "life");
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
      assert.deepEqual((await h.services()).map((s) => s.metadata!.name).sort(), [
        "sc-0-prefill-0-0",
        "sc-1-prefill-0-0",
        "sc-2-prefill-0-0",
      ]);
      await h.apply("sc", { replicas: 1, template: { roles: [role("prefill", 1, 1)] } });
      const ms = await h.waitReady("sc");
      assert.equal(ms.status!.availableReplicas, 1);
      await h.waitFor("one group left", async () => ordinals(await h.pods()).join() === "0");
      await h.waitFor(
        "one Service left",
        async () => (await h.services()).map((s) => s.metadata!.name).join() === "sc-0-prefill-0-0",
      );
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "role scaling: 1 → 3 → 1 role replicas, lowest ordinals kept (S4, S5)",
  opts,
  async () => {
    const h = await Harness.start("ms-rscale");
    try {
      const spec = (n: number) => ({ template: { roles: [role("prefill", n)] } });
      await h.apply("rs", spec(1));
      await h.waitReady("rs");
      const first = (await h.podMap()).get("rs-0-prefill-0-0")!.metadata!.uid;

      // S4: role replicas 1 → 3: three running pods, gaps filled from 0, the first one kept.
      await h.apply("rs", spec(3));
      await h.waitReady("rs");
      const up = await h.waitFor("three running pods", async () => {
        const pods = await h.pods();
        return pods.length === 3 && pods.every((p) => p.status?.phase === "Running")
          ? pods
          : undefined;
      });
      assert.deepEqual(up.map((p) => p.metadata!.name).sort(), [
        "rs-0-prefill-0-0",
        "rs-0-prefill-1-0",
        "rs-0-prefill-2-0",
      ]);
      assert.equal(up.find((p) => p.metadata!.name === "rs-0-prefill-0-0")!.metadata!.uid, first);

      // S5: role replicas 3 → 1: the highest ordinals go (equal cost), one running pod left.
      await h.apply("rs", spec(1));
      await h.waitReady("rs");
      await h.waitFor("one pod left", async () => (await h.pods()).length === 1);
      const [left] = await h.pods();
      assert.equal(left!.metadata!.name, "rs-0-prefill-0-0");
      assert.equal(left!.metadata!.uid, first);
      assert.equal(left!.status?.phase, "Running");
      assert.equal((await h.get("rs")).status!.availableReplicas, 1);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "a deleted headless Service comes back with a new UID, pods untouched (S9)",
  opts,
  async () => {
    const h = await Harness.start("ms-svc");
    try {
      await h.apply("svc", { template: { roles: [role("prefill", 1, 1)] } });
      const ms = await h.waitReady("svc");
      const name = "svc-0-prefill-0-0";
      const before = await h.waitFor(
        "the headless Service",
        () => h.client.services.find(h.ns, name),
      );
      const pods = new Map((await h.pods()).map((p) => [p.metadata!.name!, p.metadata!.uid]));

      await h.client.services.delete(h.ns, name, { uid: before.metadata!.uid });
      const after = await h.waitFor("a new Service", async () => {
        const s = await h.client.services.find(h.ns, name);
        return s && s.metadata!.uid !== before.metadata!.uid ? s : undefined;
      });
      assert.equal(after.spec!.clusterIP, "None");
      assert.equal(after.spec!.publishNotReadyAddresses, true);
      assert.equal(after.metadata!.ownerReferences![0]!.uid, ms.metadata.uid);
      assert.equal(after.metadata!.ownerReferences![0]!.controller, true);
      assert.ok(isReady(await h.get("svc")), "the ModelServing stays ready");
      assert.deepEqual(
        new Map((await h.pods()).map((p) => [p.metadata!.name!, p.metadata!.uid])),
        pods,
        "no pod was replaced",
      );
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  {
    name: "hostAliases with a duplicate IP pass through to the pods untouched (S10)",
    // Pods accept two hostAliases with one IP; our CRD must too (upstream's did not,
    // volcano-sh/kthena#680): manifests/update_k8s_openapi.ts makes that list atomic.
    ...opts,
  },
  async () => {
    const h = await Harness.start("ms-alias");
    try {
      const hostAliases = [
        { ip: "10.1.2.3", hostnames: ["a.example", "b.example"] },
        { ip: "10.1.2.3", hostnames: ["c.example"] },
        { ip: "10.9.9.9", hostnames: ["d.example"] },
      ];
      await h.apply("alias", {
        template: {
          roles: [{
            ...role("prefill", 1, 1),
            entryTemplate: container("nginx:1", { hostAliases }),
          }],
        },
      });
      await h.waitReady("alias");
      const pods = await h.podMap();
      const entry = pods.get("alias-0-prefill-0-0")!;
      assert.equal(entry.status?.phase, "Running");
      // Plain JSON: the client decodes into V1HostAlias class instances.
      assert.deepEqual(JSON.parse(JSON.stringify(entry.spec!.hostAliases)), hostAliases);
      assert.equal(pods.get("alias-0-prefill-0-1")!.spec!.hostAliases, undefined);
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
      const pgs = await h.client.resource(POD_GROUP).list({ namespace: h.ns });
      const byName = new Map(
        pgs.items.map((
          pg,
        ) => [pg.metadata!.name!, pg as unknown as { spec: { minMember: number } }]),
      );
      assert.deepEqual([...byName.keys()].sort(), ["gang-0", "gang-1"]);
      assert.equal(byName.get("gang-0")!.spec.minMember, 5);
      const pod = (await h.podMap()).get("gang-1-prefill-1-0")!;
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
      assert.ok(pods.every((p) => p.status?.phase === "Running"));
    } finally {
      await h.close();
    }
  },
);
