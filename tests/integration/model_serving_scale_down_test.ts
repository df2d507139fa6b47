/**
 * ModelServing scale-down victim order on a real API server: not-ready units first, then the
 * lowest `controller.kubernetes.io/pod-deletion-cost` (summed over a unit's pods), then the
 * highest ordinal; for serving groups and for role replicas. Upstream's S26–S30
 * (kthena-controllers.md §7, §2.7).
 */
import assert from "node:assert/strict";
import { groupOf, Harness, opts, ordinals, role, roleIdxOf } from "./model_serving_harness.ts";

Deno.test(
  "scale down by pod-deletion-cost keeps the most expensive group (S26)",
  opts,
  async () => {
    const h = await Harness.start("ms-cost");
    try {
      await h.apply("cost", { replicas: 4, template: { roles: [role("prefill")] } });
      await h.waitReady("cost");
      await h.setCost((p) => groupOf(p) * 100);
      await h.apply("cost", { replicas: 1, template: { roles: [role("prefill")] } });
      await h.waitFor("one group left", async () => (await h.pods()).length === 1);
      assert.deepEqual(await h.podNames(), ["cost-3-prefill-0-0"]);
      await h.waitReady("cost");
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "role scale down by pod-deletion-cost keeps the most expensive replica (S27)",
  opts,
  async () => {
    const h = await Harness.start("ms-rcost");
    try {
      const spec = (n: number) => ({ template: { roles: [role("prefill", n)] } });
      await h.apply("rcost", spec(4));
      await h.waitReady("rcost");
      await h.setCost((p) => roleIdxOf(p) * 100);
      const uid = (await h.podMap()).get("rcost-0-prefill-3-0")!.metadata!.uid;
      await h.apply("rcost", spec(1));
      await h.waitFor("one replica left", async () => (await h.pods()).length === 1);
      const [left] = await h.pods();
      assert.equal(left!.metadata!.name, "rcost-0-prefill-3-0");
      assert.equal(left!.metadata!.uid, uid);
      await h.waitReady("rcost");
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "groups and roles scaled down together by cost: the most expensive pods stay (S28)",
  opts,
  async () => {
    const h = await Harness.start("ms-ccost");
    try {
      const spec = (groups: number, prefill: number) => ({
        replicas: groups,
        template: { roles: [role("prefill", prefill), role("decode", 1)] },
      });
      await h.apply("ccost", spec(2, 2));
      await h.waitReady("ccost");
      await h.setCost((p) => groupOf(p) * 100 + roleIdxOf(p) * 10);
      const before = await h.podMap();
      await h.apply("ccost", spec(1, 1));
      await h.waitFor("two pods left", async () => (await h.pods()).length === 2);
      const after = await h.podMap();
      assert.deepEqual([...after.keys()].sort(), ["ccost-1-decode-0-0", "ccost-1-prefill-1-0"]);
      for (const [name, p] of after) {
        assert.equal(p.metadata!.uid, before.get(name)!.metadata!.uid, `${name} kept`);
        assert.equal(p.status?.phase, "Running", name);
      }
      await h.waitReady("ccost");
    } finally {
      await h.close();
    }
  },
);

Deno.test("a not-ready group is scaled down first (S29)", opts, async () => {
  const h = await Harness.start("ms-nrg");
  try {
    // Group 1's pod runs but never passes readiness (upstream: a readiness gate left False).
    h.health.set("nrg-1-prefill-0-0", "notReady");
    await h.apply("nrg", { replicas: 4, template: { roles: [role("prefill")] } });
    await h.waitFor("3 of 4 groups available", async () => {
      const s = (await h.get("nrg")).status;
      return s?.replicas === 4 && s.availableReplicas === 3 && (await h.pods()).length === 4;
    });
    const before = await h.podMap();
    assert.equal(before.get("nrg-1-prefill-0-0")!.status?.phase, "Running");

    await h.apply("nrg", { replicas: 3, template: { roles: [role("prefill")] } });
    await h.waitFor("a group removed", async () => (await h.pods()).length === 3);
    const after = await h.podMap();
    assert.deepEqual(ordinals([...after.values()]), [0, 2, 3], "the not-ready group went");
    for (const [name, p] of after) {
      assert.equal(p.metadata!.uid, before.get(name)!.metadata!.uid, `${name} kept`);
    }
    await h.waitReady("nrg");
  } finally {
    await h.close();
  }
});

Deno.test("a not-ready role replica is scaled down first (S30)", opts, async () => {
  const h = await Harness.start("ms-nrr");
  try {
    h.health.set("nrr-0-prefill-1-0", "notReady");
    const spec = (n: number) => ({ template: { roles: [role("prefill", n)] } });
    await h.apply("nrr", spec(4));
    const ms = await h.waitFor("4 pods, 3 running role replicas reported", async () => {
      const ms = await h.get("nrr");
      const running = (await h.events(ms)).filter((e) => e.reason === "RoleRunning");
      return running.length >= 3 && (await h.pods()).length === 4 ? ms : undefined;
    });
    const running = (await h.events(ms)).filter((e) => e.reason === "RoleRunning")
      .map((e) => e.message).sort();
    assert.deepEqual(
      running,
      [0, 2, 3].map((r) => `Role prefill/prefill-${r} in ServingGroup nrr-0 is now Running`),
    );
    assert.equal((await h.get("nrr")).status!.availableReplicas, 0);
    const before = await h.podMap();

    await h.apply("nrr", spec(3));
    await h.waitFor("a replica removed", async () => (await h.pods()).length === 3);
    const after = await h.podMap();
    assert.deepEqual([...after.keys()].sort(), [
      "nrr-0-prefill-0-0",
      "nrr-0-prefill-2-0",
      "nrr-0-prefill-3-0",
    ]);
    for (const [name, p] of after) {
      assert.equal(p.metadata!.uid, before.get(name)!.metadata!.uid, `${name} kept`);
    }
    await h.waitReady("nrr");
  } finally {
    await h.close();
  }
});
