/**
 * The Kubernetes runtime of `shared/k8s` against a real API server: informers (custom
 * resources and pods, label selectors, 60 s of silence, relist after 410), server-side apply
 * with owner references and real garbage collection, `/status` writes with observedGeneration
 * and optimistic locking, Events, Lease leader election, and a toy controller end to end.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import {
  MODEL_BOOSTER,
  MODEL_ROUTE,
  MODEL_SERVER,
  type ModelBooster,
  type ModelRoute,
  type ModelServer,
} from "@kthena/shared/api";
import {
  Controller,
  controllerRef,
  customResource,
  type DeleteInfo,
  EventRecorder,
  findCondition,
  type Informer,
  isConflict,
  isNotFound,
  isObservedGenerationCurrent,
  KubeClient,
  KubeError,
  LeaderElector,
  PODS,
  RuntimeMetrics,
  setCondition,
  Store,
} from "@kthena/shared/k8s";
import { Registry } from "prom-client";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

// deno-lint-ignore no-console
const report = (line: string) => console.log(`[k8s_runtime] ${line}`);

let shared: Promise<KubeClient> | undefined;
function client(): Promise<KubeClient> {
  shared ??= testCluster().then((c) => KubeClient.load({ path: c.kubeconfigPath }));
  return shared;
}

async function setup(prefix: string) {
  const cluster = await testCluster();
  const ns = await uniqueNamespace(cluster, prefix);
  return { cluster, ns, client: await client() };
}

async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function route(ns: string, name: string, server = "s") {
  return {
    apiVersion: "networking.serving.volcano.sh/v1alpha1" as const,
    kind: "ModelRoute" as const,
    metadata: { name, namespace: ns },
    spec: {
      modelName: name,
      rules: [{ targetModels: [{ modelServerName: server, weight: 100 }] }],
    },
  } satisfies ModelRoute;
}

function server(ns: string, name: string, port = 8000) {
  return {
    apiVersion: "networking.serving.volcano.sh/v1alpha1" as const,
    kind: "ModelServer" as const,
    metadata: { name, namespace: ns },
    spec: {
      inferenceEngine: "vLLM" as const,
      workloadSelector: { matchLabels: { app: name } },
      workloadPort: { port },
    },
  };
}

function pod(ns: string, name: string, labels: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: "c", image: "registry.invalid/engine:1" }] },
  };
}

type Seen = [string, string, string?];

/** Records an informer's events as [kind, name, detail]. */
function record<T extends { metadata?: { name?: string; resourceVersion?: string } }>(
  informer: Informer<T>,
): Seen[] {
  const seen: Seen[] = [];
  informer.addHandler({
    onAdd: (o) => seen.push(["add", o.metadata?.name ?? ""]),
    onUpdate: (_o, n) => seen.push(["update", n.metadata?.name ?? ""]),
    onDelete: (o, info: DeleteInfo) =>
      seen.push(["delete", o.metadata?.name ?? "", info.finalStateUnknown ? "tombstone" : "final"]),
  });
  return seen;
}

Deno.test("informer sees add, update and delete of a custom resource, typed", opts, async () => {
  const { ns, client } = await setup("inf-cr");
  const routes = client.resource<ModelRoute>(MODEL_ROUTE);
  await routes.create(route(ns, "before"));
  const informer = client.informer(customResource<ModelRoute>(MODEL_ROUTE), { namespace: ns });
  const seen = record(informer);
  informer.start();
  try {
    await informer.waitForSync(30_000);
    assert.deepEqual(seen, [["add", "before"]]);

    await routes.create(route(ns, "r1"));
    await waitUntil(() => informer.store.has(`${ns}/r1`), "r1 in the cache");
    // The cache holds parsed objects with the schema's defaults.
    assert.equal(informer.store.get(`${ns}/r1`)?.spec.rules[0]?.targetModels[0]?.weight, 100);

    await routes.patch(ns, "r1", {
      spec: { rules: [{ targetModels: [{ modelServerName: "t" }] }] },
    });
    await waitUntil(
      () => informer.store.get(`${ns}/r1`)?.spec.rules[0]?.targetModels[0]?.modelServerName === "t",
      "the update",
    );
    await routes.delete(ns, "r1");
    await waitUntil(() => !informer.store.has(`${ns}/r1`), "the delete");
    assert.deepEqual(seen.slice(1), [["add", "r1"], ["update", "r1"], ["delete", "r1", "final"]]);
    assert.equal(informer.stats.errors, 0);
  } finally {
    await informer.stop();
  }
});

Deno.test("pod informer with a label selector follows objects in and out of it", opts, async () => {
  const { ns, client } = await setup("inf-pods");
  const informer = client.informer(PODS, { namespace: ns, labelSelector: "app=engine" });
  const seen = record(informer);
  informer.start();
  try {
    await informer.waitForSync(30_000);
    await client.pods.create(pod(ns, "match", { app: "engine" }));
    await client.pods.create(pod(ns, "other", { app: "sidecar" }));
    await waitUntil(() => informer.store.has(`${ns}/match`), "the matching pod");
    // Core objects are decoded like client-node's typed answers: timestamps are Dates.
    assert.ok(informer.store.get(`${ns}/match`)?.metadata?.creationTimestamp instanceof Date);

    // Leaving the selection is a delete; entering it an add.
    await client.pods.patch(ns, "match", { metadata: { labels: { app: "gone" } } });
    await client.pods.patch(ns, "other", { metadata: { labels: { app: "engine" } } });
    await waitUntil(
      () => !informer.store.has(`${ns}/match`) && informer.store.has(`${ns}/other`),
      "the pods to swap",
    );
    assert.deepEqual(seen, [
      ["add", "match"],
      ["delete", "match", "final"],
      ["add", "other"],
    ]);

    // A UID precondition protects a pod recreated under the same name.
    await assert.rejects(
      client.pods.delete(ns, "other", { uid: "00000000-0000-0000-0000-000000000000" }),
      (e) => e instanceof KubeError && e.code === 409,
    );
    const live = await client.pods.get(ns, "other");
    await client.pods.delete(ns, "other", { uid: live.metadata?.uid });
    await waitUntil(() => informer.store.size === 0, "the delete");
    assert.ok(isNotFound(await client.pods.get(ns, "other").catch((e) => e)));

    // deleteCollection removes exactly the selected pods.
    for (const [name, app] of [["a", "x"], ["b", "x"], ["c", "y"]]) {
      await client.pods.create(pod(ns, name!, { app: app!, batch: "1" }));
    }
    await client.pods.deleteCollection({ namespace: ns, labelSelector: "app=x" });
    const left = await client.pods.list({ namespace: ns, labelSelector: "batch=1" });
    assert.deepEqual(left.items.map((p: V1Pod) => p.metadata?.name).sort(), ["c"]);
  } finally {
    await informer.stop();
  }
});

Deno.test("an informer still delivers events after 60 s without any", opts, async () => {
  const { ns, client } = await setup("inf-idle");
  const informer = client.informer(customResource<ModelRoute>(MODEL_ROUTE), { namespace: ns });
  const seen = record(informer);
  informer.start();
  try {
    await informer.waitForSync(30_000);
    await waitUntil(() => informer.stats.watches === 1, "the watch");
    // Nothing happens in this namespace for 65 s: longer than client-node 2.0.1's Watch
    // survives on Deno (30 s), and past the API server's first bookmark (~60 s).
    await sleep(65_000);
    const created = performance.now();
    await client.resource<ModelRoute>(MODEL_ROUTE).create(route(ns, "late"));
    await waitUntil(() => informer.store.has(`${ns}/late`), "the event after 65 s idle", 20_000);
    report(
      `after 65 s idle: event delivered ${Math.round(performance.now() - created)} ms after ` +
        `the create, on watch connection #${informer.stats.watches} ` +
        `(bookmarks received: ${informer.stats.bookmarks})`,
    );
    assert.deepEqual(seen, [["add", "late"]]);
    // The very connection opened 65 s earlier delivered it: no error, no reconnect.
    assert.equal(informer.stats.watches, 1);
    assert.equal(informer.stats.errors, 0);
    assert.equal(informer.stats.idleTimeouts, 0);
  } finally {
    await informer.stop();
  }
});

Deno.test(
  "a watch from an expired resourceVersion gets 410 and the informer relists",
  opts,
  async () => {
    const { ns, client } = await setup("inf-410");
    const routes = client.resource<ModelRoute>(MODEL_ROUTE);
    await routes.create(route(ns, "real-a"));
    await routes.create(route(ns, "real-b"));
    // Our own store, so the test can make the cache diverge from the server the way a broken
    // watch would (a missed create, a missed delete).
    const store = new Store<ModelRoute>();
    const informer = client.informer(customResource<ModelRoute>(MODEL_ROUTE), {
      namespace: ns,
      store,
    });
    informer.start();
    try {
      await informer.waitForSync(30_000);
      await waitUntil(() => informer.stats.watches === 1, "the first watch");
      const seen = record(informer);
      seen.length = 0; // drop the replay of the cache
      store.delete(`${ns}/real-b`);
      store.upsert(route(ns, "ghost"));

      // resourceVersion "1" predates the CRD's watch cache: the real API server answers with
      // an ERROR event, code 410 "too old resource version".
      informer.restartWatch("1");
      await waitUntil(() => informer.stats.lists === 2, "the relist");
      assert.equal(informer.stats.expired, 1);
      assert.deepEqual(
        seen.sort((a, b) => a[1].localeCompare(b[1])),
        [["delete", "ghost", "tombstone"], ["add", "real-b"]],
      );
      assert.deepEqual(store.keys().sort(), [`${ns}/real-a`, `${ns}/real-b`]);
      // And the informer keeps watching after the relist.
      await routes.create(route(ns, "real-c"));
      await waitUntil(() => store.has(`${ns}/real-c`), "an event after the relist");
    } finally {
      await informer.stop();
    }
  },
);

Deno.test(
  "server-side apply creates and updates owned children; GC deletes them",
  opts,
  async () => {
    const { ns, client } = await setup("ssa");
    const servers = client.resource<ModelServer>(MODEL_SERVER);
    const routes = client.resource<ModelRoute>(MODEL_ROUTE);
    const owner = await servers.create(server(ns, "owner"));
    const ref = controllerRef(owner);
    const fieldManager = "kthena-test-controller";
    const desired = (target: string) => ({
      ...route(ns, "child", target),
      metadata: { name: "child", namespace: ns, ownerReferences: [ref] },
    });

    const created = await routes.apply(desired("first"), { fieldManager });
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.metadata.ownerReferences?.[0]?.uid, owner.metadata.uid);
    assert.equal(created.metadata.ownerReferences?.[0]?.controller, true);
    const managers = created.metadata.managedFields as { manager: string; operation: string }[];
    assert.ok(managers.some((m) => m.manager === fieldManager && m.operation === "Apply"));

    const updated = await routes.apply(desired("second"), { fieldManager });
    assert.equal(updated.metadata.uid, created.metadata.uid, "updated in place");
    assert.equal(updated.metadata.generation, 2);
    assert.equal(updated.spec.rules[0]?.targetModels[0]?.modelServerName, "second");
    // Applying the same state again changes nothing.
    const again = await routes.apply(desired("second"), { fieldManager });
    assert.equal(again.metadata.resourceVersion, updated.metadata.resourceVersion);

    // A core child, applied the same way.
    const svc = await client.services.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "child-svc", namespace: ns, ownerReferences: [ref] },
      spec: { clusterIP: "None", selector: { app: "owner" }, ports: [{ port: 8000 }] },
    }, { fieldManager });
    assert.equal(svc.spec?.clusterIP, "None");

    // Foreground deletion waits for the children (blockOwnerDeletion); either way the garbage
    // collector of kube-controller-manager removes them. It discovers our CRDs on its periodic
    // resync (30 s), hence the generous timeout.
    await servers.delete(ns, "owner", { propagationPolicy: "Background" });
    const started = performance.now();
    await waitUntil(
      async () =>
        (await routes.find(ns, "child")) === undefined &&
        (await client.services.find(ns, "child-svc")) === undefined,
      "garbage collection of the children",
      120_000,
    );
    report(
      `garbage collection removed the children in ${Math.round(performance.now() - started)} ms`,
    );
  },
);

Deno.test(
  "status goes through /status with observedGeneration; a stale replace gets 409",
  opts,
  async () => {
    const { ns, client } = await setup("status");
    const boosters = client.resource<ModelBooster>(MODEL_BOOSTER);
    const mb = await boosters.create({
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "ModelBooster",
      metadata: { name: "qwen", namespace: ns },
      spec: {
        backend: {
          name: "b",
          type: "vLLM",
          modelURI: "hf://Qwen/Qwen3-0.6B",
          workers: [{ type: "server", image: "vllm/vllm-openai:latest" }],
        },
      },
    });
    const gen = mb.metadata.generation!;
    const { conditions } = setCondition(mb.status?.conditions, {
      type: "Initialized",
      status: "True",
      reason: "Created",
      message: "created for the test",
      observedGeneration: gen,
    });
    const patched = await boosters.patchStatus(ns, "qwen", { observedGeneration: gen, conditions });
    assert.equal(patched.metadata.generation, gen, "a status write does not bump the generation");
    assert.ok(isObservedGenerationCurrent(patched));
    assert.equal(findCondition(patched.status?.conditions, "Initialized")?.status, "True");

    // A spec change bumps the generation: the status is stale until the controller catches up.
    const stale = await boosters.get(ns, "qwen");
    await boosters.patch(ns, "qwen", { spec: { backend: { minReplicas: 1 } } });
    const fresh = await boosters.get(ns, "qwen");
    assert.equal(fresh.metadata.generation, gen + 1);
    assert.equal(isObservedGenerationCurrent(fresh), false);

    // Replacing the status from the stale copy fails: its resourceVersion is old.
    const err = await boosters.replaceStatus({
      ...stale,
      status: { ...stale.status, observedGeneration: gen },
    }).catch((e) => e);
    assert.ok(err instanceof KubeError && isConflict(err), String(err));
    assert.match(err.message, /the object has been modified/);

    const ok = await boosters.replaceStatus({
      ...fresh,
      status: { ...fresh.status, observedGeneration: fresh.metadata.generation },
    });
    assert.ok(isObservedGenerationCurrent(ok));
  },
);

Deno.test("the event recorder writes Events and aggregates repeats", opts, async () => {
  const { ns, client } = await setup("events");
  const owner = await client.resource<ModelServer>(MODEL_SERVER).create(server(ns, "srv"));
  const recorder = new EventRecorder(client, { component: "kthena-test", instance: "test-host" });
  for (let i = 0; i < 3; i++) {
    await recorder.event(owner, "Warning", "PodsPending", "0/1 pods ready");
  }
  await recorder.event(owner, "Normal", "RoleRunning", "Role decode/decode-0 is now Running");
  const { items } = await client.events.list({
    namespace: ns,
    fieldSelector: `involvedObject.uid=${owner.metadata.uid}`,
  });
  const byReason = new Map(items.map((e) => [e.reason, e]));
  assert.equal(items.length, 2);
  const pending = byReason.get("PodsPending");
  assert.equal(pending?.count, 3);
  assert.equal(pending?.type, "Warning");
  assert.equal(pending?.message, "0/1 pods ready");
  assert.equal(pending?.involvedObject.kind, "ModelServer");
  assert.equal(pending?.involvedObject.name, "srv");
  assert.equal(pending?.source?.component, "kthena-test");
  assert.equal(byReason.get("RoleRunning")?.count, 1);
});

Deno.test(
  "leader election: one leader, a takeover after it stops renewing, release, loss",
  opts,
  async () => {
    const { ns, client, cluster } = await setup("lease");
    const timing = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
    const log: string[] = [];
    const elector = (id: string, extra: Partial<typeof timing> = {}) =>
      new LeaderElector({
        client,
        namespace: ns,
        name: "kthena-test",
        identity: id,
        ...timing,
        ...extra,
        metrics: new RuntimeMetrics(new Registry()),
        onStartedLeading: () => void log.push(`${id} started`),
        onStoppedLeading: () => void log.push(`${id} stopped`),
      });
    const leaseJson = async () => {
      const r = await cluster.kubectl(["get", "lease", "-n", ns, "kthena-test", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as {
        spec: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number };
      };
    };

    const a = elector("a");
    const aRun = a.run();
    await waitUntil(() => a.isLeader(), "a to lead");
    const b = elector("b");
    const bRun = b.run();
    // b campaigns through several lease durations' worth of renewals and never leads.
    await sleep(6_000);
    assert.equal(b.isLeader(), false);
    assert.equal(b.leader(), "a");
    const lease = await leaseJson();
    assert.equal(lease.spec.holderIdentity, "a");
    assert.match(lease.spec.renewTime ?? "", /\.\d{6}Z$/, "MicroTime with microseconds");

    // a stops renewing without handing the lease back (a crash).
    await a.stop({ release: false });
    assert.equal(await aRun, "stopped");
    await waitUntil(() => b.isLeader(), "b to take over", 30_000);
    assert.equal((await leaseJson()).spec.leaseTransitions, 1);

    // b stops gracefully and releases: c takes over at once, without waiting out a long lease.
    await b.stop();
    assert.equal(await bRun, "stopped");
    assert.equal((await leaseJson()).spec.holderIdentity, "");
    const c = elector("c", { leaseDurationMs: 60_000, renewDeadlineMs: 3_000 });
    const cRun = c.run();
    await waitUntil(() => c.isLeader(), "c to take the released lease", 20_000);

    // Someone else takes the lease: c cannot renew, loses leadership and says so.
    const r = await cluster.kubectl([
      "patch",
      "lease",
      "-n",
      ns,
      "kthena-test",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { holderIdentity: "intruder" } }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await withTimeout(cRun, 30_000), "lost");
    assert.equal(c.isLeader(), false);
    assert.deepEqual(log, [
      "a started",
      "a stopped",
      "b started",
      "b stopped",
      "c started",
      "c stopped",
    ]);
  },
);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test(
  "a toy controller over ModelServers: dedup, requeueAfter, owned children",
  opts,
  async () => {
    const { ns, client } = await setup("toy");
    const servers = client.resource<ModelServer>(MODEL_SERVER);
    const routes = client.resource<ModelRoute>(MODEL_ROUTE);
    const serverInformer = client.informer(customResource<ModelServer>(MODEL_SERVER), {
      namespace: ns,
    });
    const routeInformer = client.informer(customResource<ModelRoute>(MODEL_ROUTE), {
      namespace: ns,
    });
    await servers.create(server(ns, "dedup"));
    await servers.create(server(ns, "requeue"));
    const parent = await servers.create(server(ns, "parent"));

    const counts = new Map<string, number>();
    const inFlight = new Set<string>();
    let overlaps = 0;
    let lastPatchedRv = "";
    const controller = new Controller<ModelServer>({
      name: "toy",
      informer: serverInformer,
      owns: [routeInformer],
      workers: 3,
      metrics: new RuntimeMetrics(new Registry()),
      reconcile: async (key) => {
        if (inFlight.has(key)) overlaps++;
        inFlight.add(key);
        try {
          const n = (counts.get(key) ?? 0) + 1;
          counts.set(key, n);
          if (key === `${ns}/dedup` && n === 1) {
            // Five spec changes while this reconcile runs; return only once the informer has
            // seen the last one, so all five adds land while the key is being processed.
            for (let port = 8001; port <= 8005; port++) {
              const s = await servers.patch(ns, "dedup", { spec: { workloadPort: { port } } });
              lastPatchedRv = s.metadata.resourceVersion ?? "";
            }
            await waitUntil(
              () =>
                serverInformer.store.get(`${ns}/dedup`)?.metadata.resourceVersion === lastPatchedRv,
              "the informer to see the last patch",
            );
          }
          if (key === `${ns}/requeue` && n < 3) return { requeueAfter: 300 };
          return {};
        } finally {
          inFlight.delete(key);
        }
      },
    });
    serverInformer.start();
    routeInformer.start();
    const running = controller.run();
    try {
      await waitUntil(() => counts.get(`${ns}/dedup`) === 2, "the one re-run of dedup");
      await waitUntil(() => counts.get(`${ns}/requeue`) === 3, "three reconciles of requeue");
      await waitUntil(() => counts.get(`${ns}/parent`) === 1, "parent");

      // A child owned by "parent": its changes reconcile the parent.
      await routes.apply({
        ...route(ns, "child"),
        metadata: { name: "child", namespace: ns, ownerReferences: [controllerRef(parent)] },
      }, { fieldManager: "toy" });
      await waitUntil(() => (counts.get(`${ns}/parent`) ?? 0) >= 2, "the child's add → parent");

      await sleep(2_000);
      assert.equal(counts.get(`${ns}/dedup`), 2, "five updates during a reconcile → one re-run");
      assert.equal(counts.get(`${ns}/requeue`), 3, "requeued twice, then left alone");
      assert.equal(overlaps, 0, "never two reconciles of one key at once");
    } finally {
      await controller.stop();
      await running;
      await serverInformer.stop();
      await routeInformer.stop();
    }
  },
);

Deno.test("measured: informer sync time and toy reconcile throughput", opts, async () => {
  const { ns, client } = await setup("measure");
  const servers = client.resource<ModelServer>(MODEL_SERVER);
  const N = 300;
  const t0 = performance.now();
  for (let i = 0; i < N; i += 20) {
    await Promise.all(
      Array.from(
        { length: Math.min(20, N - i) },
        (_, j) => servers.create(server(ns, `s-${i + j}`)),
      ),
    );
  }
  const createMs = performance.now() - t0;

  const informer = client.informer(customResource<ModelServer>(MODEL_SERVER), {
    namespace: ns,
    pageSize: 100,
  });
  const t1 = performance.now();
  informer.start();
  await informer.waitForSync(60_000);
  const syncMs = performance.now() - t1;
  assert.equal(informer.store.size, N);

  let done = 0;
  const controller = new Controller<ModelServer>({
    name: "measure",
    informer,
    workers: 4,
    metrics: new RuntimeMetrics(new Registry()),
    reconcile: (key) => {
      // A cache read and a bit of work, no API calls: this measures the runner.
      const s = informer.store.get(key);
      if (s) JSON.stringify(s.spec);
      done++;
      return Promise.resolve();
    },
  });
  const t2 = performance.now();
  const running = controller.run();
  await waitUntil(() => done === N, "every key reconciled once", 60_000);
  const reconcileMs = performance.now() - t2;
  await controller.stop();
  await running;
  await informer.stop();
  report(
    `created ${N} ModelServers in ${Math.round(createMs)} ms; informer synced ${N} objects ` +
      `(3 pages) in ${Math.round(syncMs)} ms; ${N} reconciles in ${Math.round(reconcileMs)} ms ` +
      `(${Math.round(N / (reconcileMs / 1000))}/s, 4 workers, cache reads only)`,
  );
});
