/**
 * The LeaderWorkerSet → ModelServing controller with the ModelServing controller on the real
 * test cluster (our minimal LeaderWorkerSet CRD from manifests/testing/, garbage collection by
 * kube-controller-manager): upstream's e2e scenario S14 (`TestLWSAPIBasic`), scaling through
 * the LeaderWorkerSet, and a ModelServing of the same name that is not the LeaderWorkerSet's.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { LEADER_WORKER_SET, type LeaderWorkerSet, MODEL_SERVING } from "@kthena/shared/api";
import { LeaderWorkerSetLabels as LWS } from "@kthena/shared/labels";
import { isNotFound } from "@kthena/shared/k8s";
import { container, Harness, healthOf, opts, role } from "./model_serving_harness.ts";

const NAME = "test-lws-basic";

async function createLws(h: Harness, spec: Record<string, unknown>): Promise<LeaderWorkerSet> {
  return await h.client.resource<LeaderWorkerSet>(LEADER_WORKER_SET).create({
    apiVersion: "leaderworkerset.x-k8s.io/v1",
    kind: "LeaderWorkerSet",
    metadata: { name: NAME, namespace: h.ns },
    spec,
  } as never);
}

/** Waits for the LeaderWorkerSet's status to show these counts. */
async function waitLwsStatus(h: Harness, replicas: number, readyReplicas: number): Promise<void> {
  await h.waitFor(`LeaderWorkerSet status ${replicas}/${readyReplicas}`, async () => {
    const lws = await h.client.resource<LeaderWorkerSet>(LEADER_WORKER_SET).get(h.ns, NAME);
    return lws.status?.replicas === replicas && lws.status?.readyReplicas === readyReplicas;
  });
}

Deno.test(
  "S14 TestLWSAPIBasic: a LeaderWorkerSet becomes a ready ModelServing with LWS labels; deleting it removes everything",
  opts,
  async () => {
    const h = await Harness.start("lws-basic", { leaderWorkerSet: true });
    try {
      const lws = await createLws(h, {
        replicas: 1,
        leaderWorkerTemplate: { size: 2, workerTemplate: container("nginx:1") },
      });

      const ms = await h.waitFor("the ModelServing", async () => {
        try {
          return await h.client.resource(MODEL_SERVING).get(h.ns, NAME);
        } catch (e) {
          if (isNotFound(e)) return undefined;
          throw e;
        }
      });
      const ref = ms.metadata?.ownerReferences?.[0];
      assert.equal(ref?.kind, "LeaderWorkerSet");
      assert.equal(ref?.apiVersion, "leaderworkerset.x-k8s.io/v1");
      assert.equal(ref?.name, NAME);
      assert.equal(ref?.uid, lws.metadata.uid);
      assert.equal(ref?.controller, true);
      assert.equal(ref?.blockOwnerDeletion, true);

      const ready = await h.waitReady(NAME);
      assert.equal(ready.status?.availableReplicas, 1);

      const pods = await h.pods();
      assert.equal(pods.length, 2, pods.map((p) => p.metadata!.name).join(", "));
      const groupKey = createHash("sha1").update(`${NAME}-0`).digest("hex");
      for (const p of pods) {
        const labels = p.metadata!.labels!;
        assert.equal(healthOf(p), "ready", p.metadata!.name!);
        assert.equal(labels[LWS.name], NAME);
        assert.equal(labels[LWS.groupIndex], "0");
        assert.equal(labels[LWS.groupKey], groupKey);
      }
      assert.deepEqual(pods.map((p) => p.metadata!.labels![LWS.workerIndex]).sort(), ["0", "1"]);

      await waitLwsStatus(h, 1, 1);
      // An event that changes nothing the ModelServing is made from (a label) is reconciled
      // without a write: the controller compares only the fields it sets, not the whole
      // server-defaulted spec as upstream does. Every write is recorded as an Event.
      await h.client.resource(LEADER_WORKER_SET).patch(h.ns, NAME, {
        metadata: { labels: { touched: "yes" } },
      });
      // The controller has seen the change once its cache has; give the reconcile it triggers
      // a second to write, if it were to.
      await h.waitFor(
        "the controller to see the label",
        () =>
          Promise.resolve(
            h.lwsController?.leaderWorkerSets?.store.get(`${h.ns}/${NAME}`)?.metadata.labels
              ?.touched === "yes",
          ),
      );
      await new Promise((r) => setTimeout(r, 1_000));
      const writes = (await h.client.events.list({ namespace: h.ns })).items
        .filter((e) => e.involvedObject.uid === lws.metadata.uid)
        .map((e) => `${e.reason}×${e.count}`);
      assert.deepEqual(writes, ["Created×1"]);
      assert.equal((await h.get(NAME)).metadata.generation, 1);

      await h.client.resource(LEADER_WORKER_SET).delete(h.ns, NAME);
      await h.waitFor("the ModelServing to be garbage-collected", async () => {
        try {
          await h.client.resource(MODEL_SERVING).get(h.ns, NAME);
          return false;
        } catch (e) {
          return isNotFound(e);
        }
      }, 60_000);
      await h.waitFor("the pods to be garbage-collected", async () => {
        const left = await h.client.pods.list({ namespace: h.ns });
        return left.items.length === 0;
      }, 60_000);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "LeaderWorkerSet changes reach the ModelServing: scale, and a field removed from the template",
  opts,
  async () => {
    const h = await Harness.start("lws-change", { leaderWorkerSet: true });
    try {
      await createLws(h, {
        replicas: 1,
        leaderWorkerTemplate: {
          size: 2,
          workerTemplate: container("nginx:1", { nodeSelector: { pool: "gpu" } }),
        },
      });
      await h.waitReady(NAME);

      const lwsClient = h.client.resource(LEADER_WORKER_SET);
      await lwsClient.patch(h.ns, NAME, { spec: { replicas: 2 } });
      await h.waitFor("2 serving groups", async () => (await h.get(NAME)).spec.replicas === 2);
      await h.waitReady(NAME);
      const pods = await h.pods();
      assert.equal(pods.length, 4);
      assert.deepEqual(
        [...new Set(pods.map((p) => p.metadata!.labels![LWS.groupIndex]))].sort(),
        ["0", "1"],
      );
      await waitLwsStatus(h, 2, 2);

      // A removal is invisible to a compare of the fields set; the spec hash catches it.
      await lwsClient.patch(h.ns, NAME, {
        spec: { leaderWorkerTemplate: { workerTemplate: { spec: { nodeSelector: null } } } },
      });
      await h.waitFor("nodeSelector gone from the ModelServing", async () => {
        const ms = await h.client.resource(MODEL_SERVING).get(h.ns, NAME) as unknown as {
          spec: { template: { roles: { workerTemplate: { spec: { nodeSelector?: unknown } } }[] } };
        };
        return ms.spec.template.roles[0]!.workerTemplate.spec.nodeSelector === undefined;
      });
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "a ModelServing of the same name that the LeaderWorkerSet does not control is left alone",
  opts,
  async () => {
    const h = await Harness.start("lws-conflict", { leaderWorkerSet: true });
    try {
      await h.apply(NAME, { replicas: 1, template: { roles: [role("solo")] } });
      const before = await h.client.resource(MODEL_SERVING).get(h.ns, NAME);
      const lws = await createLws(h, {
        leaderWorkerTemplate: { size: 2, workerTemplate: container("nginx:1") },
      });
      await h.waitFor("a ModelServingExists warning on the LeaderWorkerSet", async () => {
        const events = (await h.client.events.list({ namespace: h.ns })).items;
        return events.some((e) =>
          e.involvedObject.uid === lws.metadata.uid && e.type === "Warning" &&
          e.reason === "ModelServingExists"
        );
      });
      const after = await h.client.resource(MODEL_SERVING).get(h.ns, NAME);
      assert.equal(after.metadata?.generation, before.metadata?.generation);
      assert.deepEqual(after.metadata?.ownerReferences ?? [], []);
    } finally {
      await h.close();
    }
  },
);
