import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import { ModelServing } from "@kthena/shared/api";
import { LeaderWorkerSetLabels as LWS, ModelServingLabels as L } from "@kthena/shared/labels";
import { buildPod } from "./children.ts";
import { planModelServing } from "./plan.ts";
import {
  buildPluginChain,
  pluginApplies,
  PluginChain,
  PluginError,
  type PluginSpecLike,
  podCreateRequest,
} from "./plugins.ts";
import { modelServingRevision, roleTemplateHash } from "./revision.ts";

type Spec = Record<string, unknown>;

const template = (image = "nginx:1") => ({
  spec: {
    containers: [{ name: "c", image, env: [{ name: "KEEP", value: "1" }] }],
    initContainers: [{ name: "init", image: "busybox:1" }],
  },
});

function ms(spec: Spec, owners: Spec[] = [], name = "test-lws-basic"): ModelServing {
  return ModelServing.parse({
    apiVersion: "workload.serving.volcano.sh/v1alpha1",
    kind: "ModelServing",
    metadata: { name, namespace: "default", uid: "uid-1", generation: 1, ownerReferences: owners },
    spec: {
      template: {
        roles: [{
          name: "default",
          replicas: 1,
          workerReplicas: 2,
          entryTemplate: template(),
          workerTemplate: template(),
        }],
      },
      ...spec,
    },
  });
}

const LWS_OWNER = {
  apiVersion: "leaderworkerset.x-k8s.io/v1",
  kind: "LeaderWorkerSet",
  name: "test-lws-basic",
  uid: "lws-uid",
  controller: true,
  blockOwnerDeletion: true,
};

/** The pods of group `g`, role replica 0, as the planner builds them (entry first). */
function pods(m: ModelServing, g = 0): V1Pod[] {
  const role = m.spec.template.roles[0]!;
  return Array.from(
    { length: role.workerReplicas + 1 },
    (_, podIdx) =>
      buildPod(m, { groupIdx: g, role, roleIdx: 0, podIdx }, {
        revision: modelServingRevision(m.spec.template.roles),
        roleTemplateHash: roleTemplateHash(role),
        gang: false,
      }),
  );
}

/** Runs the chain of `m.spec.plugins` over its pods, as the controller does before creating. */
function mutate(m: ModelServing, list: V1Pod[]): V1Pod[] {
  const chain = buildPluginChain(m.spec.plugins);
  for (const p of list) chain.onPodCreate(podCreateRequest(m, p));
  return list;
}

Deno.test("plugin scope: roles, then target (upstream's shouldRun)", () => {
  const cases: [string, PluginSpecLike["scope"], string, boolean, boolean][] = [
    // [what, scope, role, isEntry, runs]
    ["no scope: every pod", undefined, "decode", true, true],
    ["empty scope", {}, "decode", false, true],
    ["empty roles list means all roles", { roles: [] }, "decode", true, true],
    ["role listed", { roles: ["prefill", "decode"] }, "decode", true, true],
    ["role not listed", { roles: ["prefill"] }, "decode", true, false],
    [
      "role not listed, even with target All",
      { roles: ["prefill"], target: "All" },
      "x",
      true,
      false,
    ],
    ["target empty", { target: "" }, "decode", false, true],
    ["target All, entry", { target: "All" }, "decode", true, true],
    ["target All, worker", { target: "All" }, "decode", false, true],
    ["target Entry, entry", { target: "Entry" }, "decode", true, true],
    ["target Entry, worker", { target: "Entry" }, "decode", false, false],
    ["target Worker, entry", { target: "Worker" }, "decode", true, false],
    ["target Worker, worker", { target: "Worker" }, "decode", false, true],
    ["listed role and Worker", { roles: ["decode"], target: "Worker" }, "decode", false, true],
  ];
  for (const [what, scope, roleName, isEntry, runs] of cases) {
    assert.equal(pluginApplies({ name: "p", scope }, { roleName, isEntry }), runs, what);
  }
});

Deno.test("demo-pod-tweaks: runtimeClassName, merged annotations, env appended everywhere", () => {
  const m = ms({
    plugins: [{
      name: "demo-pod-tweaks",
      config: {
        runtimeClassName: "nvidia",
        annotations: { a: "b", keep: "overwritten" },
        env: [{ name: "FOO", value: "bar" }, {
          name: "NODE",
          valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
        }],
      },
      scope: { target: "Worker" },
    }],
  });
  const [entry, ...workers] = pods(m);
  entry!.metadata!.annotations = { keep: "mine" };
  workers[0]!.metadata!.annotations = { keep: "mine", other: "x" };
  mutate(m, [entry!, ...workers]);

  assert.equal(entry!.spec!.runtimeClassName, undefined, "the entry is out of scope");
  assert.deepEqual(entry!.metadata!.annotations, { keep: "mine" });
  assert.equal(entry!.spec!.containers[0]!.env!.some((e) => e.name === "FOO"), false);

  assert.equal(workers.length, 2);
  for (const w of workers) {
    assert.equal(w.spec!.runtimeClassName, "nvidia");
    assert.equal(w.metadata!.annotations!.a, "b");
    assert.equal(w.metadata!.annotations!.keep, "overwritten");
    for (const c of [...w.spec!.containers, ...w.spec!.initContainers!]) {
      const env = c.env!;
      // Appended after the template's and the controller's variables, in config order.
      assert.deepEqual(env.slice(-2).map((e) => e.name), ["FOO", "NODE"], c.name);
      assert.equal(env.at(-2)!.value, "bar");
      assert.deepEqual(env.at(-1)!.valueFrom, { fieldRef: { fieldPath: "spec.nodeName" } });
    }
    assert.equal(w.spec!.containers[0]!.env![0]!.name, "KEEP");
  }
  assert.equal(workers[0]!.metadata!.annotations!.other, "x", "annotations are merged");
});

Deno.test("lws-standard-labels: LeaderWorkerSet's labels, only under a LeaderWorkerSet", () => {
  const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");
  const plugins = [{ name: "lws-standard-labels", type: "BuiltIn" }];
  const cases: { what: string; owners: Spec[]; group: number; want?: string[] }[] = [
    { what: "owned, group 0", owners: [LWS_OWNER], group: 0, want: ["0", "1", "2"] },
    { what: "owned, group 3", owners: [LWS_OWNER], group: 3, want: ["0", "1", "2"] },
    {
      what: "a non-controller LeaderWorkerSet reference counts too",
      owners: [{ ...LWS_OWNER, controller: false }],
      group: 0,
      want: ["0", "1", "2"],
    },
    {
      what: "owned by something else",
      owners: [{ ...LWS_OWNER, kind: "ModelBooster" }],
      group: 0,
    },
    { what: "no owner", owners: [], group: 0 },
  ];
  for (const c of cases) {
    const m = ms({ plugins }, c.owners);
    const list = mutate(m, pods(m, c.group));
    if (!c.want) {
      for (const p of list) {
        const keys = Object.keys(p.metadata!.labels!);
        assert.deepEqual(keys.filter((k) => k.startsWith("leaderworkerset.")), [], c.what);
      }
      continue;
    }
    assert.deepEqual(list.map((p) => p.metadata!.labels![LWS.workerIndex]), c.want, c.what);
    for (const p of list) {
      const labels = p.metadata!.labels!;
      assert.equal(labels[LWS.name], "test-lws-basic", c.what);
      assert.equal(labels[LWS.groupIndex], String(c.group), c.what);
      assert.equal(labels[LWS.groupKey], sha1(`test-lws-basic-${c.group}`), c.what);
    }
  }
  // The value upstream's e2e test S14 checks, computed here independently of the plugin.
  const m = ms({ plugins }, [LWS_OWNER]);
  const key = mutate(m, pods(m))[0]!.metadata!.labels![LWS.groupKey];
  assert.equal(key, createHash("sha1").update("test-lws-basic-0").digest("hex"));
  assert.match(key!, /^[0-9a-f]{40}$/);
});

Deno.test("plugin chain errors name the field", () => {
  const cases: [string, PluginSpecLike[], RegExp, string][] = [
    [
      "unknown name",
      [{ name: "demo-pod-tweaks" }, { name: "nope", type: "BuiltIn" }],
      /^spec\.plugins\[1\]\.name: unknown plugin "nope" \(built-in plugins: demo-pod-tweaks, lws-standard-labels\)$/,
      "spec.plugins[1].name",
    ],
    [
      "a type other than BuiltIn",
      [{ name: "demo-pod-tweaks", type: "Webhook" }],
      /^spec\.plugins\[0\]\.type: unsupported plugin type "Webhook"$/,
      "spec.plugins[0].type",
    ],
    [
      "env entry without a name",
      [{ name: "demo-pod-tweaks", config: { env: [{ value: "x" }] } }],
      /^spec\.plugins\[0\]\.config\.env\[0\]\.name: /,
      "spec.plugins[0].config.env[0].name",
    ],
    [
      "annotation value not a string",
      [{ name: "demo-pod-tweaks", config: { annotations: { a: 1 } } }],
      /^spec\.plugins\[0\]\.config\.annotations\.a: /,
      "spec.plugins[0].config.annotations.a",
    ],
    [
      "runtimeClassName not a string",
      [{ name: "lws-standard-labels" }, {
        name: "demo-pod-tweaks",
        config: { runtimeClassName: 3 },
      }],
      /^spec\.plugins\[1\]\.config\.runtimeClassName: /,
      "spec.plugins[1].config.runtimeClassName",
    ],
    [
      "misspelt key",
      [{ name: "demo-pod-tweaks", config: { envs: [] } }],
      /^spec\.plugins\[0\]\.config: .*envs/,
      "spec.plugins[0].config",
    ],
  ];
  for (const [what, specs, message, field] of cases) {
    assert.throws(() => buildPluginChain(specs), (e: unknown) => {
      assert.ok(e instanceof PluginError, what);
      assert.match(e.message, message, what);
      assert.equal(e.field, field, what);
      return true;
    });
  }
  assert.equal(buildPluginChain(undefined).length, 0);
  assert.equal(buildPluginChain([]).length, 0);
  assert.equal(buildPluginChain([{ name: "demo-pod-tweaks" }]).length, 1, "config is optional");
});

Deno.test("plugin chain: list order, and the pod's identity survives any plugin", () => {
  const seen: string[] = [];
  const chain = new PluginChain([
    {
      spec: { name: "first" },
      plugin: {
        name: "first",
        onPodCreate: ({ pod }) => {
          seen.push("first");
          pod.metadata!.labels = { ...pod.metadata!.labels, order: "first", [L.role]: "evil" };
          pod.metadata!.name = "renamed";
          pod.metadata!.ownerReferences = [];
        },
      },
    },
    {
      spec: { name: "second", scope: { target: "Entry" } },
      plugin: {
        name: "second",
        onPodCreate: ({ pod }) => {
          seen.push("second");
          pod.metadata!.labels = { ...pod.metadata!.labels, order: "second" };
        },
      },
    },
  ]);
  const m = ms({});
  const [entry, worker] = pods(m);
  const name = entry!.metadata!.name;
  chain.onPodCreate(podCreateRequest(m, entry!));
  chain.onPodCreate(podCreateRequest(m, worker!));
  assert.deepEqual(seen, ["first", "second", "first"]);
  assert.equal(entry!.metadata!.labels!.order, "second");
  assert.equal(worker!.metadata!.labels!.order, "first");
  assert.equal(entry!.metadata!.name, name);
  assert.equal(entry!.metadata!.labels![L.role], "default");
  assert.equal(entry!.metadata!.ownerReferences![0]!.uid, "uid-1");
});

Deno.test("plugin output never makes pods look outdated (no recreate loop)", () => {
  const plugins = [
    { name: "lws-standard-labels" },
    {
      name: "demo-pod-tweaks",
      config: { runtimeClassName: "rc", annotations: { a: "b" }, env: [{ name: "X", value: "1" }] },
    },
  ];
  const plain = ms({});
  const withPlugins = ms({ plugins }, [LWS_OWNER]);
  assert.equal(
    modelServingRevision(withPlugins.spec.template.roles),
    modelServingRevision(plain.spec.template.roles),
    "plugins are not part of the revision",
  );

  // Pods as the controller creates them (plugins run), then Running and Ready.
  const first = planModelServing({
    ms: withPlugins,
    pods: [],
    services: new Set(),
    podGroups: new Map(),
    revisions: new Map(),
    gang: false,
    subGroupPolicy: false,
    now: 0,
  });
  const created = mutate(withPlugins, first.createPods).map((p, i) =>
    ({
      ...p,
      metadata: { ...p.metadata, uid: `pod-${i}` },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    }) as V1Pod
  );
  assert.equal(created.length, 3);
  assert.equal(created[1]!.metadata!.labels![LWS.workerIndex], "1");

  const again = planModelServing({
    ms: { ...withPlugins, status: first.status },
    pods: created,
    services: new Set(first.createServices.map((s) => s.metadata!.name!)),
    podGroups: new Map(),
    revisions: new Map([[first.revision, withPlugins.spec.template.roles]]),
    gang: false,
    subGroupPolicy: false,
    now: 1_000,
  });
  assert.deepEqual(again.createPods, []);
  assert.deepEqual(again.deletePods, []);
  assert.equal(again.status.availableReplicas, 1);
  assert.equal(again.status.updatedReplicas, 1);
});
