/**
 * ModelServing `RoleRollingUpdate` on a real API server: only the changed role is replaced, the
 * role's own `maxUnavailable` (also with an image that never starts) and `partition`, through
 * pod deletion and scale-down by deletion cost. Upstream's S21–S25 (kthena-controllers.md §7,
 * §2.7, §2.9).
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import {
  Harness,
  imageOf,
  isReady,
  opts,
  revisionOf,
  role,
  roleIdxOf,
  roleWithImage,
  type Spec,
} from "./model_serving_harness.ts";

const byName = (pods: V1Pod[]) => new Map(pods.map((p) => [p.metadata!.name!, p]));

Deno.test(
  "role rolling update replaces the changed role; decode pods keep names and UIDs (S21)",
  opts,
  async () => {
    const h = await Harness.start("ms-rru");
    try {
      const spec = (image: string) => ({
        replicas: 2,
        recoveryPolicy: "RoleRecreate",
        rolloutStrategy: { type: "RoleRollingUpdate" },
        template: { roles: [roleWithImage("prefill", image, 2), role("decode", 1)] },
      });
      await h.apply("rru", spec("nginx:1"));
      const initial = (await h.waitReady("rru")).status!.updateRevision!;
      const decode = new Map(
        (await h.pods()).filter((p) => p.metadata!.name!.includes("decode"))
          .map((p) => [p.metadata!.name!, p.metadata!.uid]),
      );
      assert.deepEqual([...decode.keys()].sort(), ["rru-0-decode-0-0", "rru-1-decode-0-0"]);

      await h.apply("rru", spec("nginx:2"));
      const s = await h.waitFor("prefill rolled", async () => {
        const pods = await h.pods();
        const ms = await h.get("rru");
        const prefill = pods.filter((p) => p.metadata!.name!.includes("prefill"));
        return isReady(ms) && prefill.length === 4 &&
            prefill.every((p) => imageOf(p) === "nginx:2" && p.status?.phase === "Running") &&
            ms.status!.updatedReplicas === 2
          ? ms.status
          : undefined;
      });
      assert.deepEqual(await h.podNames(), [
        "rru-0-decode-0-0",
        "rru-0-prefill-0-0",
        "rru-0-prefill-1-0",
        "rru-1-decode-0-0",
        "rru-1-prefill-0-0",
        "rru-1-prefill-1-0",
      ]);
      const now = byName(await h.pods());
      for (const [name, uid] of decode) {
        assert.equal(now.get(name)!.metadata!.uid, uid, `${name} kept its UID`);
        assert.equal(imageOf(now.get(name)), "nginx:1");
      }
      assert.equal(s.availableReplicas, 2);
      assert.notEqual(s.updateRevision, initial);
      assert.equal(s.currentRevision, s.updateRevision);
      for (const g of [0, 1]) {
        for (const r of [0, 1]) {
          assert.equal(revisionOf(now.get(`rru-${g}-prefill-${r}-0`)), s.updateRevision);
        }
      }
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "role maxUnavailable with an image that never starts: 2 old running + 2 bad (S22)",
  opts,
  async () => {
    const h = await Harness.start("ms-rbad");
    try {
      const spec = (image: string) => ({
        rolloutStrategy: { type: "RoleRollingUpdate" },
        template: {
          roles: [roleWithImage("prefill", image, 4, 0, { maxUnavailable: 2 }), role("decode")],
        },
      });
      await h.apply("rbad", spec("nginx:1"));
      await h.waitReady("rbad");
      const decodeUid = byName(await h.pods()).get("rbad-0-decode-0-0")!.metadata!.uid;
      h.badImages.add("nginx:does-not-exist");
      await h.apply("rbad", spec("nginx:does-not-exist"));
      const stuck = async () => {
        const pods = byName(await h.pods());
        const prefill = [0, 1, 2, 3].map((r) => pods.get(`rbad-0-prefill-${r}-0`));
        const decode = pods.get("rbad-0-decode-0-0");
        return pods.size === 5 &&
          prefill.map((p) => [imageOf(p), p?.status?.phase]).join() ===
            [
              ["nginx:1", "Running"],
              ["nginx:1", "Running"],
              ["nginx:does-not-exist", "Pending"],
              ["nginx:does-not-exist", "Pending"],
            ].join() &&
          decode?.metadata?.uid === decodeUid && decode?.status?.phase === "Running";
      };
      await h.waitFor("prefill stuck at two replicas", stuck);
      await h.holds("prefill stuck at two replicas", stuck, 5_000);
      assert.equal((await h.get("rbad")).status!.availableReplicas, 0);
    } finally {
      await h.close();
    }
  },
);

/** A one-group ModelServing, role `prefill` with a role partition, rolled to nginx:2. */
async function rolePartitioned(
  h: Harness,
  name: string,
  replicas: number,
  partition: number,
  maxUnavailable = 1,
): Promise<{ spec: (image: string, replicas: number) => Spec; initial: string; update: string }> {
  const spec = (image: string, n: number) => ({
    recoveryPolicy: "RoleRecreate",
    rolloutStrategy: { type: "RoleRollingUpdate" },
    template: { roles: [roleWithImage("prefill", image, n, 0, { partition, maxUnavailable })] },
  });
  await h.apply(name, spec("nginx:1", replicas));
  const initial = (await h.waitReady(name)).status!.updateRevision!;
  await h.apply(name, spec("nginx:2", replicas));
  const update = await h.waitFor("the unprotected replicas updated", async () => {
    const pods = byName(await h.pods());
    const ms = await h.get(name);
    const done = Array.from({ length: replicas }, (_, r) => pods.get(`${name}-0-prefill-${r}-0`))
      .every((p, r) =>
        p?.status?.phase === "Running" && imageOf(p) === (r < partition ? "nginx:1" : "nginx:2")
      );
    return done && isReady(ms) ? ms.status!.updateRevision : undefined;
  });
  assert.notEqual(update, initial);
  return { spec, initial, update };
}

/** Per role replica (the ModelServing has one group of one role): [ordinal, image, revision]. */
async function replicasOf(h: Harness) {
  return (await h.pods()).sort((a, b) => roleIdxOf(a) - roleIdxOf(b))
    .map((p) => [roleIdxOf(p), imageOf(p), revisionOf(p)]);
}

Deno.test("role partition keeps the first replicas on the old template (S23)", opts, async () => {
  const h = await Harness.start("ms-rpart");
  try {
    const { initial, update } = await rolePartitioned(h, "rpart", 4, 2, 4);
    assert.deepEqual(await replicasOf(h), [
      [0, "nginx:1", initial],
      [1, "nginx:1", initial],
      [2, "nginx:2", update],
      [3, "nginx:2", update],
    ]);
    const s = (await h.get("rpart")).status!;
    assert.equal(s.currentRevision, initial, "the group still has outdated, protected replicas");
    assert.equal(s.updateRevision, update);
  } finally {
    await h.close();
  }
});

Deno.test(
  "a deleted protected role replica comes back on the old template and revision (S24)",
  opts,
  async () => {
    const h = await Harness.start("ms-rpdel");
    try {
      const { initial, update } = await rolePartitioned(h, "rpdel", 3, 1);
      const uid = byName(await h.pods()).get("rpdel-0-prefill-0-0")!.metadata!.uid;
      await h.client.pods.delete(h.ns, "rpdel-0-prefill-0-0", { uid });
      await h.waitFor("prefill-0 rebuilt", async () => {
        const p = byName(await h.pods()).get("rpdel-0-prefill-0-0");
        return p && p.metadata!.uid !== uid && p.status?.phase === "Running";
      });
      await h.waitReady("rpdel");
      assert.deepEqual(await replicasOf(h), [
        [0, "nginx:1", initial],
        [1, "nginx:2", update],
        [2, "nginx:2", update],
      ]);
      const s = (await h.get("rpdel")).status!;
      assert.equal(s.currentRevision, initial);
      assert.equal(s.updateRevision, update);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "role partition beats pod-deletion-cost when the role scales down (S25)",
  opts,
  async () => {
    const h = await Harness.start("ms-rpcost");
    try {
      const { spec, initial } = await rolePartitioned(h, "rpcost", 5, 3);
      // Protected replicas are the cheapest to delete; they must stay anyway.
      await h.setCost((p) => roleIdxOf(p) < 3 ? 0 : 10_000 + roleIdxOf(p));
      await h.apply("rpcost", spec("nginx:2", 3));
      await h.waitFor(
        "two replicas removed",
        async () => (await h.pods()).length === 3 && isReady(await h.get("rpcost")),
      );
      assert.deepEqual(await replicasOf(h), [
        [0, "nginx:1", initial],
        [1, "nginx:1", initial],
        [2, "nginx:1", initial],
      ]);
    } finally {
      await h.close();
    }
  },
);
