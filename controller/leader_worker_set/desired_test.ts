import assert from "node:assert/strict";
import { LeaderWorkerSet, ModelServing } from "@kthena/shared/api";
import { LeaderWorkerSetAnnotations } from "@kthena/shared/labels";
import {
  containsFields,
  desiredModelServing,
  InvalidLeaderWorkerSet,
  lwsStatusFor,
  modelServingPatch,
  needsUpdate,
} from "./desired.ts";

type Obj = Record<string, unknown>;

const worker = {
  metadata: { name: "ignored", labels: { app: "llm" }, creationTimestamp: null },
  spec: {
    containers: [{
      name: "vllm",
      image: "vllm/vllm-openai:v0.9",
      ports: [{ containerPort: 8000 }],
    }],
    nodeSelector: { gpu: "a100" },
  },
};

function lws(spec: Obj, name = "test-lws-basic"): LeaderWorkerSet {
  return LeaderWorkerSet.parse({
    apiVersion: "leaderworkerset.x-k8s.io/v1",
    kind: "LeaderWorkerSet",
    metadata: { name, namespace: "dev", uid: "lws-uid" },
    spec,
  });
}

/** The ModelServing the API server would hold after a create: defaulted, with extras. */
function stored(desired: ReturnType<typeof desiredModelServing>): ModelServing {
  const copy = structuredClone(desired) as unknown as {
    metadata: Obj & { annotations: Record<string, string> };
    spec: { template: { roles: { workerTemplate: { spec: { containers: Obj[] } } }[] } };
  };
  copy.metadata = { ...copy.metadata, uid: "ms-uid", generation: 1 };
  copy.metadata.annotations = { ...copy.metadata.annotations, "someone/else": "x" };
  // Server-side defaults inside the pod template (the vendored PodSpec schema's).
  for (const c of copy.spec.template.roles[0]!.workerTemplate.spec.containers) {
    c.ports = (c.ports as Obj[] | undefined)?.map((p) => ({ ...p, protocol: "TCP" }));
  }
  return ModelServing.parse(copy);
}

Deno.test("LeaderWorkerSet → ModelServing: upstream's mapping", () => {
  const cases: {
    what: string;
    spec: Obj;
    replicas: number;
    workerReplicas: number;
    entryImage: string;
  }[] = [
    {
      what: "only a worker template (S14): entry = worker, size 2 → 1 worker, replicas default 1",
      spec: { leaderWorkerTemplate: { size: 2, workerTemplate: worker } },
      replicas: 1,
      workerReplicas: 1,
      entryImage: "vllm/vllm-openai:v0.9",
    },
    {
      what: "a leader template is the entry template",
      spec: {
        replicas: 3,
        leaderWorkerTemplate: {
          size: 4,
          workerTemplate: worker,
          leaderTemplate: { spec: { containers: [{ name: "leader", image: "leader:1" }] } },
        },
      },
      replicas: 3,
      workerReplicas: 3,
      entryImage: "leader:1",
    },
    {
      what: "size defaults to 1: no workers",
      spec: { replicas: 0, leaderWorkerTemplate: { workerTemplate: worker } },
      replicas: 0,
      workerReplicas: 0,
      entryImage: "vllm/vllm-openai:v0.9",
    },
  ];
  for (const c of cases) {
    const d = desiredModelServing(lws(c.spec));
    assert.equal(d.metadata.name, "test-lws-basic", c.what);
    assert.equal(d.metadata.namespace, "dev", c.what);
    assert.deepEqual(d.metadata.ownerReferences, [{
      apiVersion: "leaderworkerset.x-k8s.io/v1",
      kind: "LeaderWorkerSet",
      name: "test-lws-basic",
      uid: "lws-uid",
      controller: true,
      blockOwnerDeletion: true,
    }], c.what);
    assert.equal(d.spec.replicas, c.replicas, c.what);
    assert.deepEqual(d.spec.plugins, [{ name: "lws-standard-labels", type: "BuiltIn" }], c.what);
    assert.equal(d.spec.template.roles.length, 1, c.what);
    const role = d.spec.template.roles[0]!;
    assert.equal(role.name, "default", c.what);
    assert.equal(role.replicas, 1, c.what);
    assert.equal(role.workerReplicas, c.workerReplicas, c.what);
    assert.equal(role.entryTemplate.spec.containers[0]!.image, c.entryImage, c.what);
    // Only labels and annotations of a template's metadata mean something in a ModelServing.
    assert.deepEqual(role.workerTemplate, {
      metadata: { labels: { app: "llm" } },
      spec: worker.spec,
    });
    assert.match(d.metadata.annotations[LeaderWorkerSetAnnotations.specHash]!, /^[a-z2-9]{10}$/);
    // What is written is a valid ModelServing.
    assert.doesNotThrow(() => ModelServing.parse(d), c.what);
  }
});

Deno.test("LeaderWorkerSet → ModelServing: a template that is no pod template names the field", () => {
  const cases: [Obj, RegExp][] = [
    [
      { leaderWorkerTemplate: { size: 2, workerTemplate: { metadata: {} } } },
      /^spec\.leaderWorkerTemplate\.workerTemplate\.spec: /,
    ],
    [
      { leaderWorkerTemplate: { workerTemplate: worker, leaderTemplate: { spec: [] } } },
      /^spec\.leaderWorkerTemplate\.leaderTemplate\.spec: /,
    ],
    [
      {
        leaderWorkerTemplate: {
          workerTemplate: { metadata: { labels: { a: 1 } }, spec: worker.spec },
        },
      },
      /^spec\.leaderWorkerTemplate\.workerTemplate\.metadata\.labels\.a: /,
    ],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => desiredModelServing(lws(spec)), (e: unknown) => {
      assert.ok(e instanceof InvalidLeaderWorkerSet);
      assert.match(e.message, message);
      assert.equal(e.field, e.message.split(": ")[0]);
      return true;
    });
  }
});

Deno.test("needsUpdate: no write for a server-defaulted copy; writes for changes and drift", () => {
  const spec = { replicas: 2, leaderWorkerTemplate: { size: 2, workerTemplate: worker } };
  const desired = desiredModelServing(lws(spec));
  const have = stored(desired);
  assert.equal(needsUpdate(desired, have), false, "defaults and foreign annotations are fine");

  const removed = structuredClone(spec) as typeof spec & { leaderWorkerTemplate: Obj };
  delete (removed.leaderWorkerTemplate.workerTemplate as { spec: Obj }).spec.nodeSelector;
  const afterRemoval = desiredModelServing(lws(removed));
  assert.equal(containsFields(have.spec, afterRemoval.spec), true, "invisible to a compare…");
  assert.equal(needsUpdate(afterRemoval, have), true, "…but the hash changed");

  const scaled = desiredModelServing(lws({ ...spec, replicas: 3 }));
  assert.equal(needsUpdate(scaled, have), true);

  const drifted = { ...have, spec: { ...have.spec, replicas: 5 } };
  assert.equal(needsUpdate(desired, drifted), true, "someone scaled the ModelServing");
  const noPlugin = { ...have, spec: { ...have.spec, plugins: [] } };
  assert.equal(needsUpdate(desired, noPlugin), true, "someone removed the plugin");

  const patch = modelServingPatch(desired);
  assert.deepEqual(Object.keys(patch.metadata), ["annotations"], "owner references untouched");
  assert.deepEqual(patch.spec, desired.spec);
});

Deno.test("containsFields: only the wanted fields count", () => {
  const cases: [string, unknown, unknown, boolean][] = [
    ["equal scalars", 1, 1, true],
    ["different scalars", 1, 2, false],
    ["string is not number", "1", 1, false],
    ["extra keys in have", { a: 1, b: 2 }, { a: 1 }, true],
    ["missing key", { b: 2 }, { a: 1 }, false],
    ["nested", { a: { b: 1, c: 2 } }, { a: { b: 1 } }, true],
    ["arrays elementwise", [{ a: 1, x: 0 }, { a: 2 }], [{ a: 1 }, { a: 2 }], true],
    ["array length differs", [1, 2], [1], false],
    ["array order matters", [2, 1], [1, 2], false],
    ["null wanted, absent have", {}, { a: null }, true],
    ["null wanted, value have", { a: 1 }, { a: null }, false],
    ["undefined wanted", { a: 1 }, { a: undefined }, true],
    ["empty object wanted, absent have", {}, { a: {} }, true],
    ["empty array wanted, absent have", {}, { a: [] }, true],
    ["object wanted, array have", { a: [] }, { a: { b: 1 } }, false],
  ];
  for (const [what, have, want, ok] of cases) assert.equal(containsFields(have, want), ok, what);
});

Deno.test("LeaderWorkerSet status mirrors the ModelServing's groups", () => {
  assert.deepEqual(lwsStatusFor(undefined), { replicas: 0, readyReplicas: 0 });
  assert.deepEqual(lwsStatusFor({ status: {} }), { replicas: 0, readyReplicas: 0 });
  assert.deepEqual(lwsStatusFor({ status: { replicas: 3, availableReplicas: 2 } }), {
    replicas: 3,
    readyReplicas: 2,
  });
});
