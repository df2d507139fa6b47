/**
 * ModelServing failure recovery on a real API server: `recoveryPolicy` (whole group, role
 * replica, or just the missing pod) and `restartGracePeriodSeconds` for pods that crashed.
 * Upstream's S6 and S8 (kthena-controllers.md §7, §2.8), plus the grace period and
 * `recoveryPolicy: None`, which upstream's e2e suite does not cover.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { Harness, isReady, opts, role } from "./model_serving_harness.ts";

const uids = (pods: V1Pod[]) => new Map(pods.map((p) => [p.metadata!.name!, p.metadata!.uid!]));

Deno.test(
  "ServingGroupRecreate rebuilds the whole group at the same ordinal (S6)",
  opts,
  async () => {
    const h = await Harness.start("ms-sgr");
    try {
      await h.apply("sgr", {
        recoveryPolicy: "ServingGroupRecreate",
        template: { roles: [role("prefill"), role("decode", 1, 1)] },
      });
      await h.waitReady("sgr");
      /** Every pod of the group replaced (new UID), same names, in group sgr-0, running. */
      const rebuilt = async (before: Map<string, string>) => {
        const pods = await h.pods();
        return pods.length === 3 &&
          pods.every((p) =>
            before.has(p.metadata!.name!) && before.get(p.metadata!.name!) !== p.metadata!.uid &&
            p.metadata!.labels![L.groupName] === "sgr-0" && p.status?.phase === "Running"
          );
      };
      // A whole role replica lost (its only pod deleted).
      let before = uids(await h.pods());
      await h.client.pods.delete(h.ns, "sgr-0-prefill-0-0");
      await h.waitFor("group rebuilt after losing prefill-0", () => rebuilt(before));
      await h.waitReady("sgr");
      // A worker lost while its entry pod runs.
      before = uids(await h.pods());
      await h.client.pods.delete(h.ns, "sgr-0-decode-0-1");
      await h.waitFor("group rebuilt after losing a decode worker", () => rebuilt(before));
      await h.waitReady("sgr");
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "RoleRecreate under RoleRollingUpdate rebuilds the role replica of a deleted pod (S8)",
  opts,
  async () => {
    const h = await Harness.start("ms-rr");
    try {
      await h.apply("rr", {
        recoveryPolicy: "RoleRecreate",
        rolloutStrategy: { type: "RoleRollingUpdate" },
        template: { roles: [role("prefill", 1, 1), role("decode")] },
      });
      await h.waitReady("rr");
      const before = uids(await h.pods());
      await h.client.pods.delete(h.ns, "rr-0-prefill-0-0", {
        uid: before.get("rr-0-prefill-0-0"),
      });
      // The whole replica (entry and worker) comes back under the same names and labels.
      const pods = await h.waitFor("prefill-0 rebuilt", async () => {
        const m = await h.podMap();
        const fresh = ["rr-0-prefill-0-0", "rr-0-prefill-0-1"].map((n) => m.get(n));
        return fresh.every((p) =>
            p && p.metadata!.uid !== before.get(p.metadata!.name!) &&
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
          )
          ? m
          : undefined;
      });
      for (const name of ["rr-0-prefill-0-0", "rr-0-prefill-0-1"]) {
        const labels = pods.get(name)!.metadata!.labels!;
        assert.equal(labels[L.groupName], "rr-0", name);
        assert.equal(labels[L.roleId], "prefill-0", name);
      }
      assert.equal(pods.get("rr-0-decode-0-0")!.metadata!.uid, before.get("rr-0-decode-0-0"));
      assert.equal(pods.size, 3);
      await h.waitReady("rr");
    } finally {
      await h.close();
    }
  },
);

Deno.test("recoveryPolicy None recreates only the missing pod", opts, async () => {
  const h = await Harness.start("ms-none");
  try {
    await h.apply("none", {
      recoveryPolicy: "None",
      template: { roles: [role("prefill", 1, 1), role("decode")] },
    });
    await h.waitReady("none");
    const before = uids(await h.pods());
    const svc = (await h.client.services.get(h.ns, "none-0-prefill-0-0")).metadata!.uid;
    await h.client.pods.delete(h.ns, "none-0-prefill-0-1", {
      uid: before.get("none-0-prefill-0-1"),
    });
    const worker = await h.waitFor("the worker back and running", async () => {
      const p = (await h.podMap()).get("none-0-prefill-0-1");
      return p && p.metadata!.uid !== before.get("none-0-prefill-0-1") &&
          p.status?.phase === "Running"
        ? p
        : undefined;
    });
    assert.equal(worker.metadata!.labels![L.roleId], "prefill-0");
    assert.equal(worker.metadata!.labels![L.entry], undefined);
    const after = uids(await h.pods());
    assert.equal(after.size, 3);
    assert.equal(after.get("none-0-prefill-0-0"), before.get("none-0-prefill-0-0"), "entry kept");
    assert.equal(after.get("none-0-decode-0-0"), before.get("none-0-decode-0-0"), "decode kept");
    assert.equal((await h.client.services.get(h.ns, "none-0-prefill-0-0")).metadata!.uid, svc);
    await h.waitReady("none");
  } finally {
    await h.close();
  }
});

Deno.test(
  "a crashed pod is left alone for restartGracePeriodSeconds, then its replica is rebuilt",
  opts,
  async () => {
    const grace = 5;
    const h = await Harness.start("ms-grace");
    try {
      await h.apply("grace", {
        template: { restartGracePeriodSeconds: grace, roles: [role("prefill"), role("decode")] },
      });
      await h.waitReady("grace");
      const before = uids(await h.pods());
      const uid = before.get("grace-0-prefill-0-0")!;

      // The container restarts and does not come back ready.
      h.health.set(uid, "crashed");
      const crashed = await h.waitFor("the crash visible", async () => {
        const p = (await h.podMap()).get("grace-0-prefill-0-0");
        if (p?.metadata?.uid !== uid) return "gone";
        return p.status?.containerStatuses?.[0]?.restartCount === 1 ? p : undefined;
      });
      assert.ok(crashed !== "gone", "the crashed pod was deleted before its grace period ended");
      const readyCond = crashed.status!.conditions!.find((c) => c.type === "Ready")!;
      const failedAt = Date.parse(String(readyCond.lastTransitionTime));
      // During the grace period the pod stays (and its group is not available).
      let sawUnavailable = false;
      await h.waitFor("the crashed pod deleted", async () => {
        const [pods, ms] = await Promise.all([h.podMap(), h.get("grace")]);
        const same = pods.get("grace-0-prefill-0-0")?.metadata?.uid === uid;
        if (same && ms.status?.availableReplicas === 0) sawUnavailable = true;
        return !same;
      }, 30_000);
      const waited = Date.now() - failedAt;
      // lastTransitionTime has second precision (rounded down): failedAt is at most 1 s early.
      assert.ok(waited >= grace * 1000, `deleted ${waited} ms after the failure`);
      assert.ok(waited < (grace + 15) * 1000, `deleted only ${waited} ms after the failure`);
      assert.ok(sawUnavailable, "the group was reported unavailable during the grace period");

      const rebuilt = await h.waitFor("prefill-0 rebuilt and running", async () => {
        const p = (await h.podMap()).get("grace-0-prefill-0-0");
        return p && p.metadata!.uid !== uid && p.status?.phase === "Running" ? p : undefined;
      });
      assert.equal(rebuilt.status?.containerStatuses?.[0]?.restartCount, 0);
      const after = uids(await h.pods());
      assert.equal(after.size, 2);
      assert.equal(after.get("grace-0-decode-0-0"), before.get("grace-0-decode-0-0"));
      assert.ok(isReady(await h.waitReady("grace")));
    } finally {
      await h.close();
    }
  },
);
