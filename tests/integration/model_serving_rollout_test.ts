/**
 * ModelServing group rolling updates on a real API server: the `maxUnavailable` budget (also
 * with an image that never starts), `partition` through deletes and scaling, and convergence of
 * the status revisions. Upstream's S11, S13, S15–S19 (kthena-controllers.md §7, §2.9, §2.10).
 */
import assert from "node:assert/strict";
import {
  groupOf,
  Harness,
  imageOf,
  isReady,
  opts,
  ordinals,
  revisionOf,
  roleWithImage,
  type Spec,
} from "./model_serving_harness.ts";

Deno.test("rolling update: maxUnavailable holds on every observed status (S11)", opts, async () => {
  const h = await Harness.start("ms-roll");
  try {
    const spec = (image: string) => ({
      replicas: 4,
      rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 2 } },
      template: { roles: [roleWithImage("prefill", image, 4)] },
    });
    await h.apply("roll", spec("nginx:1"));
    await h.waitReady("roll");
    const watch = h.watchUnavailable("roll");
    try {
      await h.apply("roll", spec("nginx:2"));
      await h.waitFor("rolled", async () => {
        const pods = await h.pods();
        const m = await h.get("roll");
        return pods.length === 16 && pods.every((p) => imageOf(p) === "nginx:2") &&
          isReady(m) && m.status!.updatedReplicas === 4;
      });
    } finally {
      await watch.stop();
    }
    assert.ok(watch.worst() <= 2, `unavailable reached ${watch.worst()}`);
    assert.deepEqual(ordinals(await h.pods()), [0, 1, 2, 3]);
  } finally {
    await h.close();
  }
});

Deno.test(
  "a rollout to an image that never starts stops at maxUnavailable (S13)",
  opts,
  async () => {
    const h = await Harness.start("ms-bad");
    try {
      const spec = (image: string) => ({
        replicas: 6,
        rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 2 } },
        template: { roles: [roleWithImage("prefill", image)] },
      });
      await h.apply("bad", spec("nginx:1"));
      await h.waitReady("bad");
      h.badImages.add("nginx:does-not-exist");
      const watch = h.watchUnavailable("bad");
      try {
        await h.apply("bad", spec("nginx:does-not-exist"));
        // Two groups (the highest ordinals) are replaced and never come up; the rest stay.
        const stuck = async () => {
          const pods = await h.pods();
          const bad = pods.filter((p) => imageOf(p) === "nginx:does-not-exist");
          const s = (await h.get("bad")).status ?? {};
          return pods.length === 6 &&
            bad.map((p) => p.metadata!.name).sort().join() ===
              "bad-4-prefill-0-0,bad-5-prefill-0-0" &&
            bad.every((p) => p.status?.phase === "Pending") &&
            pods.filter((p) => imageOf(p) === "nginx:1" && p.status?.phase === "Running")
                .length === 4 &&
            s.replicas === 6 && s.availableReplicas === 4;
        };
        await h.waitFor("the rollout stuck at two groups", stuck);
        await h.holds("the rollout stuck at two groups", stuck, 5_000);
      } finally {
        await watch.stop();
      }
      assert.ok(watch.worst() <= 2, `unavailable reached ${watch.worst()}`);
      const s = (await h.get("bad")).status!;
      assert.equal(s.updatedReplicas, 2);
      assert.notEqual(s.currentRevision, s.updateRevision);
    } finally {
      await h.close();
    }
  },
);

/** S15's set-up: 5 groups, partition 3, rolled from nginx:1 to nginx:2. */
async function partitioned(h: Harness, name: string): Promise<{
  spec: (image: string, replicas?: number) => Spec;
  initial: string;
  update: string;
}> {
  const spec = (image: string, replicas = 5) => ({
    replicas,
    recoveryPolicy: "RoleRecreate",
    rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 5, partition: 3 } },
    template: { roles: [roleWithImage("role", image)] },
  });
  await h.apply(name, spec("nginx:1"));
  const initial = (await h.waitReady(name)).status!.updateRevision!;
  await h.apply(name, spec("nginx:2"));
  const ms = await h.waitFor("groups 3 and 4 updated", async () => {
    const m = await h.podMap();
    const ms = await h.get(name);
    return imageOf(m.get(`${name}-3-role-0-0`)) === "nginx:2" &&
        imageOf(m.get(`${name}-4-role-0-0`)) === "nginx:2" && isReady(ms)
      ? ms
      : undefined;
  });
  const update = ms.status!.updateRevision!;
  assert.notEqual(update, initial);
  return { spec, initial, update };
}

/** Per group ordinal: [image, revision label] of its one pod. */
async function groupsOf(h: Harness, name: string, n: number) {
  const m = await h.podMap();
  return Array.from({ length: n }, (_, g) => {
    const p = m.get(`${name}-${g}-role-0-0`);
    return [imageOf(p), revisionOf(p)];
  });
}

Deno.test(
  "partition: protected groups keep their revision, also when rebuilt (S15, S16)",
  opts,
  async () => {
    const h = await Harness.start("ms-part");
    try {
      const { initial, update } = await partitioned(h, "part");
      const old = ["nginx:1", initial];
      const now = ["nginx:2", update];
      assert.deepEqual(await groupsOf(h, "part", 5), [old, old, old, now, now]);
      let s = (await h.get("part")).status!;
      assert.equal(s.currentRevision, initial);
      assert.equal(s.updateRevision, update);

      // S16: a pod of a protected group is deleted: the group comes back on its old revision.
      const uid = (await h.podMap()).get("part-1-role-0-0")!.metadata!.uid;
      await h.client.pods.delete(h.ns, "part-1-role-0-0", { uid });
      await h.waitFor("group 1 rebuilt", async () => {
        const p = (await h.podMap()).get("part-1-role-0-0");
        return p && p.metadata!.uid !== uid && p.status?.phase === "Running";
      });
      s = (await h.waitReady("part")).status!;
      assert.deepEqual(await groupsOf(h, "part", 5), [old, old, old, now, now]);
      assert.equal(s.currentRevision, initial);
      assert.equal(s.updateRevision, update);
      assert.deepEqual([s.replicas, s.updatedReplicas, s.currentReplicas], [5, 2, 3]);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "partition scale up: new groups past the partition get the update revision (S17)",
  opts,
  async () => {
    const h = await Harness.start("ms-pup");
    try {
      const { spec, initial, update } = await partitioned(h, "pup");
      const before = (await h.podMap()).get("pup-0-role-0-0")!.metadata!.uid;
      await h.apply("pup", spec("nginx:2", 7));
      const s = (await h.waitReady("pup")).status!;
      assert.deepEqual(ordinals(await h.pods()), [0, 1, 2, 3, 4, 5, 6]);
      const old = ["nginx:1", initial];
      const now = ["nginx:2", update];
      assert.deepEqual(await groupsOf(h, "pup", 7), [old, old, old, now, now, now, now]);
      assert.equal((await h.podMap()).get("pup-0-role-0-0")!.metadata!.uid, before);
      assert.equal(s.currentRevision, initial);
      assert.equal(s.updateRevision, update);
      assert.deepEqual([s.replicas, s.updatedReplicas, s.currentReplicas], [7, 4, 3]);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "partition scale down: the protected groups are the ones that stay (S18)",
  opts,
  async () => {
    const h = await Harness.start("ms-pdown");
    try {
      const { spec, initial } = await partitioned(h, "pdown");
      // Beyond upstream's S18, where the protected groups are also the lowest ordinals (the
      // last victims anyway): make them the cheapest to delete, and group 0 not ready, so
      // that only the partition rule keeps groups 0-2.
      await h.setCost((p) => groupOf(p) < 3 ? 0 : 1000 - groupOf(p));
      h.health.set("pdown-0-role-0-0", "notReady");
      await h.waitFor(
        "group 0 not ready",
        async () => (await h.get("pdown")).status?.availableReplicas === 4,
      );
      await h.apply("pdown", spec("nginx:2", 3));
      await h.waitFor("two groups removed", async () => (await h.pods()).length === 3);
      assert.deepEqual(ordinals(await h.pods()), [0, 1, 2]);
      h.health.delete("pdown-0-role-0-0");
      const s = (await h.waitReady("pdown")).status!;
      const old = ["nginx:1", initial];
      assert.deepEqual(await groupsOf(h, "pdown", 3), [old, old, old]);
      assert.equal((await h.pods()).length, 3);
      assert.deepEqual(
        [s.replicas, s.updatedReplicas, s.currentReplicas, s.availableReplicas],
        [3, 0, 3, 3],
      );
      assert.equal(s.currentRevision, initial);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "a plain rolling update converges: currentRevision == updateRevision, all counts 3 (S19)",
  opts,
  async () => {
    const h = await Harness.start("ms-conv");
    try {
      const spec = (image: string) => ({
        replicas: 3,
        rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: 2 } },
        template: { roles: [roleWithImage("prefill", image)] },
      });
      await h.apply("conv", spec("nginx:1"));
      const initial = (await h.waitReady("conv")).status!.updateRevision!;
      await h.apply("conv", spec("nginx:2"));
      const s = await h.waitFor("converged", async () => {
        const ms = await h.get("conv");
        const st = ms.status;
        return isReady(ms) && st?.currentRevision === st?.updateRevision &&
            st?.updatedReplicas === 3
          ? st
          : undefined;
      });
      assert.notEqual(s.updateRevision, initial);
      assert.deepEqual(
        [s.replicas, s.availableReplicas, s.updatedReplicas, s.currentReplicas],
        [3, 3, 3, 3],
      );
      const pods = await h.pods();
      assert.deepEqual(ordinals(pods), [0, 1, 2]);
      assert.equal(pods.length, 3);
      for (const p of pods) {
        assert.equal(imageOf(p), "nginx:2", p.metadata!.name!);
        assert.equal(revisionOf(p), s.updateRevision, p.metadata!.name!);
      }
      const conds = Object.fromEntries(s.conditions!.map((c) => [c.type, c.status]));
      assert.deepEqual(conds, {
        Available: "True",
        Progressing: "False",
        UpdateInProgress: "False",
      });
    } finally {
      await h.close();
    }
  },
);
