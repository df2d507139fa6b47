/**
 * The planner against an in-memory world that plays the API server (applies the plan) and the
 * kubelet (makes pods ready, or not). Ports upstream's scenarios (kthena-controllers.md §7)
 * at the level of the plan; tests/integration runs them against a real API server.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { ModelServing, type PodGroup, type Role } from "@kthena/shared/api";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { type Plan, planModelServing } from "./plan.ts";
import { modelServingRevision, roleTemplateHash } from "./revision.ts";

type Spec = Record<string, unknown>;

function ms(spec: Spec, name = "ms"): ModelServing {
  return ModelServing.parse({
    apiVersion: "workload.serving.volcano.sh/v1alpha1",
    kind: "ModelServing",
    metadata: { name, namespace: "default", uid: "uid-1", generation: 1 },
    spec,
  });
}
const container = (image = "nginx:1", requests?: Record<string, string>) => ({
  spec: { containers: [{ name: "c", image, ...(requests ? { resources: { requests } } : {}) }] },
});
const role = (name: string, replicas = 1, workerReplicas = 0, extra: Spec = {}) => ({
  name,
  replicas,
  workerReplicas,
  entryTemplate: container(),
  ...(workerReplicas > 0 ? { workerTemplate: container() } : {}),
  ...extra,
});

/** Applies plans, plays the kubelet, and keeps history for budget checks. */
class World {
  pods = new Map<string, V1Pod>();
  services = new Set<string>();
  podGroups = new Map<string, PodGroup>();
  revisions = new Map<string, Role[]>();
  now = Date.parse("2026-01-01T00:00:00Z");
  history: { replicas: number; available: number }[] = [];
  /** Images that never become ready. */
  badImages = new Set<string>();
  uid = 0;

  constructor(public ms: ModelServing, public gang = false) {}

  step(): Plan {
    const plan = planModelServing({
      ms: this.ms,
      pods: [...this.pods.values()],
      services: this.services,
      podGroups: this.podGroups,
      revisions: this.revisions,
      gang: this.gang,
      subGroupPolicy: true,
      now: this.now,
    });
    if (plan.controllerRevision) {
      this.revisions.set(
        plan.controllerRevision.metadata.labels[L.revision]!,
        plan.controllerRevision.data.data,
      );
    }
    for (const d of plan.deletePods) this.pods.delete(d.name); // unbound pods go at once
    for (const p of plan.createPods) {
      assert.ok(!this.pods.has(p.metadata!.name!), `duplicate create ${p.metadata!.name}`);
      p.metadata!.uid = `pod-${++this.uid}`;
      this.pods.set(p.metadata!.name!, p);
    }
    for (const s of plan.createServices) this.services.add(s.metadata!.name!);
    for (const s of plan.deleteServices) this.services.delete(s);
    for (const pg of plan.applyPodGroups) this.podGroups.set(pg.metadata.name!, pg);
    for (const n of plan.deletePodGroups) this.podGroups.delete(n);
    this.ms = { ...this.ms, status: plan.status };
    this.history.push({
      replicas: plan.status.replicas!,
      available: plan.status.availableReplicas!,
    });
    return plan;
  }

  /** Marks every pod without a status Running and Ready (unless its image is bad). */
  kubelet(): void {
    for (const p of this.pods.values()) {
      if (p.status) continue;
      const image = p.spec!.containers[0]!.image!;
      p.status = this.badImages.has(image) ? { phase: "Pending" } : {
        phase: "Running",
        conditions: [{
          type: "Ready",
          status: "True",
          lastTransitionTime: new Date(this.now).toISOString() as unknown as Date,
        }],
      };
    }
  }

  /** Reconcile and kubelet until nothing changes (or a bound). */
  converge(max = 40): void {
    for (let i = 0; i < max; i++) {
      const plan = this.step();
      this.kubelet();
      if (plan.createPods.length + plan.deletePods.length === 0) {
        const again = this.step();
        if (again.createPods.length + again.deletePods.length === 0) return;
      }
    }
    throw new Error("did not converge");
  }

  setSpec(patch: (spec: Spec) => void): void {
    const spec = structuredClone(this.ms.spec) as unknown as Spec;
    patch(spec);
    const next = ms(spec, this.ms.metadata.name);
    const generation = (this.ms.metadata.generation ?? 1) + 1;
    this.ms = { ...next, status: this.ms.status, metadata: { ...next.metadata, generation } };
  }

  names(): string[] {
    return [...this.pods.keys()].sort();
  }

  groups(): number[] {
    return [
      ...new Set(
        [...this.pods.values()].map((p) =>
          Number(p.metadata!.labels![L.groupName]!.split("-").pop())
        ),
      ),
    ]
      .sort((a, b) => a - b);
  }

  image(name: string): string {
    return this.pods.get(name)!.spec!.containers[0]!.image!;
  }

  setCost(pred: (p: V1Pod) => number): void {
    for (const p of this.pods.values()) {
      p.metadata!.annotations = {
        ...(p.metadata!.annotations ?? {}),
        "controller.kubernetes.io/pod-deletion-cost": String(pred(p)),
      };
    }
  }
}

const setImage = (image: string, roleIdx = 0) => (spec: Spec) => {
  const roles =
    (spec.template as { roles: { entryTemplate: { spec: { containers: { image: string }[] } } }[] })
      .roles;
  roles[roleIdx]!.entryTemplate.spec.containers[0]!.image = image;
};

Deno.test("a new ModelServing gets upstream's pod names, labels, env and owner", () => {
  const w = new World(ms({ template: { roles: [role("prefill", 1, 1), role("decode")] } }));
  w.converge();
  assert.deepEqual(w.names(), ["ms-0-decode-0-0", "ms-0-prefill-0-0", "ms-0-prefill-0-1"]);
  const entry = w.pods.get("ms-0-prefill-0-0")!;
  const worker = w.pods.get("ms-0-prefill-0-1")!;
  assert.equal(entry.metadata!.labels![L.entry], "true");
  assert.equal(worker.metadata!.labels![L.entry], undefined);
  assert.equal(entry.metadata!.labels![L.groupName], "ms-0");
  assert.equal(entry.metadata!.labels![L.roleId], "prefill-0");
  assert.equal(entry.metadata!.labels![L.revision], modelServingRevision(w.ms.spec.template.roles));
  const env = (p: V1Pod) =>
    Object.fromEntries(p.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
  assert.deepEqual(env(worker), {
    GROUP_SIZE: "2",
    ENTRY_ADDRESS: "ms-0-prefill-0-0.default",
    WORKER_INDEX: "1",
  });
  assert.equal(entry.spec!.schedulerName, "volcano");
  assert.equal(entry.metadata!.ownerReferences![0]!.uid, "uid-1");
  assert.equal(entry.metadata!.ownerReferences![0]!.controller, true);
  // A headless Service per role replica with workers, named like its entry pod.
  assert.deepEqual([...w.services], ["ms-0-prefill-0-0"]);
  const s = w.ms.status!;
  assert.equal(s.replicas, 1);
  assert.equal(s.availableReplicas, 1);
  assert.equal(s.conditions!.find((c) => c.type === "Available")!.status, "True");
  assert.equal(
    s.labelSelector,
    "modelserving.volcano.sh/entry=true,modelserving.volcano.sh/name=ms,modelserving.volcano.sh/role=prefill,modelserving.volcano.sh/role-id=prefill-0",
  );
});

Deno.test("the revision ignores replica counts and rollout knobs, not templates", () => {
  const a = ms({ template: { roles: [role("prefill", 1)] } }).spec.template.roles;
  const b = ms({
    rolloutStrategy: { type: "RoleRollingUpdate" },
    template: { roles: [role("prefill", 5, 0, { maxUnavailable: 3, partition: 1 })] },
  }).spec.template.roles;
  const c =
    ms({ template: { roles: [{ ...role("prefill"), entryTemplate: container("other") }] } }).spec
      .template.roles;
  assert.equal(modelServingRevision(a), modelServingRevision(b));
  assert.notEqual(modelServingRevision(a), modelServingRevision(c));
  assert.equal(roleTemplateHash(a[0]!), roleTemplateHash(b[0]!));
  assert.match(modelServingRevision(a), /^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
});

Deno.test("scale up fills ordinal gaps, scale down removes the highest ordinals", () => {
  const w = new World(ms({ replicas: 1, template: { roles: [role("prefill")] } }));
  w.converge();
  w.setSpec((s) => s.replicas = 3);
  w.converge();
  assert.deepEqual(w.groups(), [0, 1, 2]);
  // A missing group (all its pods gone) is rebuilt at its own ordinal.
  w.pods.delete("ms-1-prefill-0-0");
  w.converge();
  assert.deepEqual(w.groups(), [0, 1, 2]);
  w.setSpec((s) => s.replicas = 1);
  w.converge();
  assert.deepEqual(w.groups(), [0]);
  assert.equal(w.ms.status!.availableReplicas, 1);
});

Deno.test("scale down prefers not-ready groups, then low deletion cost (S26, S29)", () => {
  const w = new World(ms({ replicas: 4, template: { roles: [role("prefill")] } }));
  w.converge();
  w.setCost((p) => Number(p.metadata!.labels![L.groupName]!.split("-").pop()) * 100);
  w.setSpec((s) => s.replicas = 1);
  w.converge();
  assert.deepEqual(w.groups(), [3], "the most expensive group survives");

  const v = new World(ms({ replicas: 4, template: { roles: [role("prefill")] } }));
  v.converge();
  v.pods.get("ms-1-prefill-0-0")!.status!.conditions![0]!.status = "False";
  v.setSpec((s) => s.replicas = 3);
  v.step();
  assert.deepEqual(v.groups(), [0, 2, 3], "the not-ready group goes first");
});

Deno.test("role scaling fills role ordinals and removes by cost (S4, S5, S27)", () => {
  const w = new World(ms({ template: { roles: [role("prefill", 1)] } }));
  w.converge();
  w.setSpec((s) => ((s.template as { roles: Spec[] }).roles[0]!.replicas = 4));
  w.converge();
  assert.deepEqual(w.names(), [0, 1, 2, 3].map((i) => `ms-0-prefill-${i}-0`));
  w.setCost((p) => Number(p.metadata!.labels![L.roleId]!.split("-").pop()) * 100);
  w.setSpec((s) => ((s.template as { roles: Spec[] }).roles[0]!.replicas = 1));
  w.converge();
  assert.deepEqual(w.names(), ["ms-0-prefill-3-0"]);
});

Deno.test("headless Services follow the role replicas that have workers (S7)", () => {
  const w = new World(ms({ replicas: 3, template: { roles: [role("prefill", 1, 1)] } }));
  w.converge();
  assert.equal(w.services.size, 3);
  w.setSpec((s) => s.replicas = 1);
  w.converge();
  assert.deepEqual([...w.services], ["ms-0-prefill-0-0"]);
  // A deleted Service comes back (S9).
  w.services.clear();
  w.step();
  assert.deepEqual([...w.services], ["ms-0-prefill-0-0"]);
});

Deno.test("recovery policies: group, role replica, or just the pod (S6, S8)", () => {
  const roles = [role("prefill"), role("decode")];
  const g = new World(ms({ recoveryPolicy: "ServingGroupRecreate", template: { roles } }));
  g.converge();
  const before = new Map([...g.pods].map(([n, p]) => [n, p.metadata!.uid]));
  g.pods.delete("ms-0-prefill-0-0");
  g.converge();
  assert.deepEqual(g.names(), ["ms-0-decode-0-0", "ms-0-prefill-0-0"]);
  for (const [n, p] of g.pods) assert.notEqual(p.metadata!.uid, before.get(n), `${n} was rebuilt`);

  const r = new World(ms({ template: { roles: [role("prefill", 1, 1), role("decode")] } }));
  r.converge();
  const decodeUid = r.pods.get("ms-0-decode-0-0")!.metadata!.uid;
  const workerUid = r.pods.get("ms-0-prefill-0-1")!.metadata!.uid;
  r.pods.delete("ms-0-prefill-0-0");
  r.converge();
  assert.equal(r.pods.get("ms-0-decode-0-0")!.metadata!.uid, decodeUid, "other roles untouched");
  assert.notEqual(
    r.pods.get("ms-0-prefill-0-1")!.metadata!.uid,
    workerUid,
    "the whole replica rebuilt",
  );

  const n = new World(ms({ recoveryPolicy: "None", template: { roles: [role("prefill", 1, 1)] } }));
  n.converge();
  const entryUid = n.pods.get("ms-0-prefill-0-0")!.metadata!.uid;
  n.pods.delete("ms-0-prefill-0-1");
  n.converge();
  assert.equal(n.pods.get("ms-0-prefill-0-0")!.metadata!.uid, entryUid, "only the missing pod");
  assert.ok(n.pods.has("ms-0-prefill-0-1"));
});

Deno.test("a failed pod waits out restartGracePeriodSeconds, then is rebuilt", () => {
  const w = new World(
    ms({ template: { restartGracePeriodSeconds: 60, roles: [role("prefill")] } }),
  );
  w.converge();
  const pod = w.pods.get("ms-0-prefill-0-0")!;
  pod.status = {
    phase: "Running",
    containerStatuses: [{ name: "c", restartCount: 1, ready: false, image: "", imageID: "" }],
    conditions: [{
      type: "Ready",
      status: "False",
      lastTransitionTime: new Date(w.now).toISOString() as unknown as Date,
    }],
  };
  let plan = w.step();
  assert.equal(plan.deletePods.length, 0, "within the grace period nothing is deleted");
  assert.equal(plan.requeueAfterMs, 60_000, "but a reconcile is due when it ends");
  w.now += 30_000;
  plan = w.step();
  assert.equal(plan.requeueAfterMs, 30_000);
  w.now += 30_000;
  plan = w.step();
  assert.deepEqual(plan.deletePods.map((d) => d.name), ["ms-0-prefill-0-0"]);
  assert.equal(plan.deletePods[0]!.uid, pod.metadata!.uid, "deleted with a UID precondition");
  w.converge();
  assert.equal(w.ms.status!.availableReplicas, 1);
});

Deno.test("rolling update never exceeds maxUnavailable and ends on the new revision (S11, S19)", () => {
  const w = new World(ms({
    replicas: 4,
    rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 2 } },
    template: { roles: [role("prefill", 4)] },
  }));
  w.converge();
  const initial = w.ms.status!.updateRevision!;
  w.history = [];
  w.setSpec(setImage("nginx:2"));
  w.converge();
  for (const h of w.history) assert.ok(4 - h.available <= 2, `unavailable ${4 - h.available}`);
  const s = w.ms.status!;
  assert.notEqual(s.updateRevision, initial);
  assert.equal(s.currentRevision, s.updateRevision);
  assert.deepEqual([s.replicas, s.availableReplicas, s.updatedReplicas, s.currentReplicas], [
    4,
    4,
    4,
    4,
  ]);
  for (const name of w.names()) assert.equal(w.image(name), "nginx:2");
  assert.deepEqual(w.groups(), [0, 1, 2, 3]);
});

Deno.test("a rollout to a bad image stops at maxUnavailable (S13)", () => {
  const w = new World(ms({
    replicas: 6,
    rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 2 } },
    template: { roles: [role("prefill")] },
  }));
  w.converge();
  w.badImages.add("bad:image");
  w.history = [];
  w.setSpec(setImage("bad:image"));
  for (let i = 0; i < 15; i++) {
    w.step();
    w.kubelet();
  }
  for (const h of w.history) assert.ok(6 - h.available <= 2);
  assert.equal(w.ms.status!.availableReplicas, 4);
  assert.equal(w.names().filter((n) => w.image(n) === "bad:image").length, 2);
});

Deno.test("partition keeps the first groups on their revision, through deletes and scaling (S15-S18)", () => {
  const spec = {
    replicas: 5,
    recoveryPolicy: "RoleRecreate",
    rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 5, partition: 3 } },
    template: { roles: [role("role")] },
  };
  const w = new World(ms(spec));
  w.converge();
  const initial = w.ms.status!.updateRevision!;
  w.setSpec(setImage("nginx:2"));
  w.converge();
  const rev = (g: number) => w.pods.get(`ms-${g}-role-0-0`)!.metadata!.labels![L.revision];
  assert.deepEqual([0, 1, 2].map(rev), [initial, initial, initial]);
  assert.deepEqual([3, 4].map((g) => w.image(`ms-${g}-role-0-0`)), ["nginx:2", "nginx:2"]);
  assert.equal(w.ms.status!.currentRevision, initial);
  assert.notEqual(w.ms.status!.updateRevision, initial);

  // S16: a protected group that loses a pod comes back on its historical revision.
  w.pods.delete("ms-1-role-0-0");
  w.converge();
  assert.equal(rev(1), initial);
  assert.equal(w.image("ms-1-role-0-0"), "nginx:1");

  // S17: new groups past the partition get the update revision.
  w.setSpec((s) => s.replicas = 7);
  w.converge();
  assert.deepEqual(w.groups(), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(w.image("ms-6-role-0-0"), "nginx:2");
  assert.equal(w.image("ms-2-role-0-0"), "nginx:1");

  // S18: scaling down keeps the protected groups.
  w.setSpec((s) => s.replicas = 3);
  w.converge();
  assert.deepEqual(w.groups(), [0, 1, 2]);
  const s = w.ms.status!;
  assert.deepEqual([s.replicas, s.updatedReplicas, s.currentReplicas, s.availableReplicas], [
    3,
    0,
    3,
    3,
  ]);
});

Deno.test("role rolling update replaces only the changed role, within its budget (S21, S22)", () => {
  const w = new World(ms({
    replicas: 2,
    recoveryPolicy: "RoleRecreate",
    rolloutStrategy: { type: "RoleRollingUpdate" },
    template: { roles: [role("prefill", 2), role("decode", 1)] },
  }));
  w.converge();
  const decodeUids = [0, 1].map((g) => w.pods.get(`ms-${g}-decode-0-0`)!.metadata!.uid);
  w.setSpec(setImage("nginx:2"));
  w.converge();
  for (const g of [0, 1]) {
    for (const r of [0, 1]) assert.equal(w.image(`ms-${g}-prefill-${r}-0`), "nginx:2");
  }
  assert.deepEqual([0, 1].map((g) => w.pods.get(`ms-${g}-decode-0-0`)!.metadata!.uid), decodeUids);
  assert.equal(w.ms.status!.availableReplicas, 2);
  assert.equal(w.ms.status!.updatedReplicas, 2);

  // S22: a bad image stops after maxUnavailable role replicas.
  const b = new World(ms({
    rolloutStrategy: { type: "RoleRollingUpdate" },
    template: { roles: [role("prefill", 4, 0, { maxUnavailable: 2 }), role("decode", 1)] },
  }));
  b.converge();
  b.badImages.add("bad:image");
  b.setSpec(setImage("bad:image"));
  for (let i = 0; i < 15; i++) {
    b.step();
    b.kubelet();
  }
  const prefill = b.names().filter((n) => n.includes("prefill"));
  assert.equal(prefill.filter((n) => b.image(n) === "bad:image").length, 2);
  assert.equal(prefill.filter((n) => b.image(n) === "nginx:1").length, 2);
});

Deno.test("role partition protects the first role replicas (S23, S24, S25)", () => {
  const w = new World(ms({
    recoveryPolicy: "RoleRecreate",
    rolloutStrategy: { type: "RoleRollingUpdate" },
    template: { roles: [role("prefill", 4, 0, { partition: 2, maxUnavailable: 4 })] },
  }));
  w.converge();
  const initial = w.ms.status!.updateRevision!;
  w.setSpec(setImage("nginx:2"));
  w.converge();
  assert.deepEqual([0, 1, 2, 3].map((r) => w.image(`ms-0-prefill-${r}-0`)), [
    "nginx:1",
    "nginx:1",
    "nginx:2",
    "nginx:2",
  ]);
  // S24: a protected replica that loses its pod comes back on the old template.
  w.pods.delete("ms-0-prefill-0-0");
  w.converge();
  assert.equal(w.image("ms-0-prefill-0-0"), "nginx:1");
  assert.equal(w.pods.get("ms-0-prefill-0-0")!.metadata!.labels![L.revision], initial);
  // S25: the partition beats deletion cost when scaling down.
  w.setCost((p) => {
    const r = Number(p.metadata!.labels![L.roleId]!.split("-").pop());
    return r < 2 ? 0 : 10_000 + r;
  });
  w.setSpec((s) => {
    const r = (s.template as { roles: Spec[] }).roles[0]!;
    r.replicas = 2;
    r.maxUnavailable = 2;
  });
  w.converge();
  assert.deepEqual(w.names(), ["ms-0-prefill-0-0", "ms-0-prefill-1-0"]);
});

Deno.test("a PodGroup per group: gang size, summed requests, one sub-group per role", () => {
  const w = new World(
    ms({
      replicas: 2,
      template: {
        gangPolicy: { minRoleReplicas: { prefill: 1 } },
        roles: [
          {
            ...role("prefill", 2, 1),
            entryTemplate: container("x", { cpu: "500m", memory: "1Gi" }),
          },
          { ...role("decode", 1), entryTemplate: container("y", { cpu: "1" }) },
        ],
      },
    }),
    true,
  );
  w.converge();
  assert.deepEqual([...w.podGroups.keys()].sort(), ["ms-0", "ms-1"]);
  const pg = w.podGroups.get("ms-0")!;
  assert.equal(pg.spec.minMember, 3, "prefill: min 1 replica × 2 pods, decode: 1 × 1");
  assert.deepEqual(pg.spec.minResources, { cpu: "1500m", memory: "1073741824" });
  assert.deepEqual(pg.spec.subGroupPolicy!.map((s) => [s.name, s.subGroupSize, s.minSubGroups]), [
    ["prefill", 2, 1],
    ["decode", 1, 1],
  ]);
  const entry = w.pods.get("ms-1-prefill-1-0")!;
  assert.equal(entry.metadata!.annotations!["scheduling.k8s.io/group-name"], "ms-1");
  assert.equal(entry.metadata!.annotations!["volcano.sh/task-spec"], "prefill-1");
  // An unchanged PodGroup is not written again; a scaled-down group's PodGroup goes.
  assert.equal(w.step().applyPodGroups.length, 0);
  w.setSpec((s) => s.replicas = 1);
  w.converge();
  assert.deepEqual([...w.podGroups.keys()], ["ms-0"]);
});

Deno.test("a restart mid-creation converges to exactly the expected pods (S20)", () => {
  const spec = {
    replicas: 5,
    template: { roles: [role("prefill", 1, 2), role("decode", 1, 1)] },
  };
  const w = new World(ms(spec));
  const plan = w.step();
  // The first controller died after creating 7 of 25 pods; a new one starts from the cluster.
  const keep = new Set(plan.createPods.slice(0, 7).map((p) => p.metadata!.name!));
  for (const n of [...w.pods.keys()]) if (!keep.has(n)) w.pods.delete(n);
  w.converge();
  assert.equal(w.pods.size, 25);
  assert.equal(w.ms.status!.availableReplicas, 5);
});

Deno.test("a terminating protected role replica keeps currentRevision, so it returns old (S24)", () => {
  // On a real cluster a deleted pod stays Terminating for a while. While the protected replica
  // had no live pod, the group looked fully updated and currentRevision moved to the update
  // revision; the replica was then rebuilt from the new template, breaking the partition.
  const w = new World(ms({
    recoveryPolicy: "RoleRecreate",
    rolloutStrategy: { type: "RoleRollingUpdate" },
    template: { roles: [role("prefill", 3, 0, { partition: 1 })] },
  }));
  w.converge();
  const initial = w.ms.status!.updateRevision!;
  w.setSpec(setImage("nginx:2"));
  w.converge();
  assert.equal(w.ms.status!.currentRevision, initial);
  const pod = w.pods.get("ms-0-prefill-0-0")!;
  pod.metadata!.deletionTimestamp = new Date(w.now) as unknown as Date;
  const plan = w.step();
  assert.equal(plan.createPods.length, 0, "the name is still taken");
  assert.equal(w.ms.status!.currentRevision, initial);
  assert.equal(w.ms.status!.updatedReplicas, 0, "the group is not on the update revision");
  w.pods.delete("ms-0-prefill-0-0");
  w.converge();
  assert.equal(w.image("ms-0-prefill-0-0"), "nginx:1");
  assert.equal(w.pods.get("ms-0-prefill-0-0")!.metadata!.labels![L.revision], initial);
  assert.deepEqual([1, 2].map((r) => w.image(`ms-0-prefill-${r}-0`)), ["nginx:2", "nginx:2"]);
  assert.equal(w.ms.status!.currentRevision, initial);
});
