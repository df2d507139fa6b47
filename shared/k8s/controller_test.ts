import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { FakeApiServer, type Thing, THINGS } from "./_fake_api_server.ts";
import { waitUntil } from "./_wait.ts";
import {
  Controller,
  type ControllerOptions,
  generationChanged,
  TerminalError,
} from "./controller.ts";
import { Informer } from "./informer.ts";
import { RuntimeMetrics } from "./metrics.ts";
import { ItemExponentialRateLimiter } from "./rate_limiter.ts";
import { KubeTransport } from "./transport.ts";

function setup(
  opts: Partial<ControllerOptions<Thing>> & Pick<ControllerOptions<Thing>, "reconcile">,
) {
  const server = new FakeApiServer();
  const transport = new KubeTransport(server.kubeConfig());
  const informer = new Informer(transport, THINGS, { namespace: "dev" });
  const registry = new Registry();
  const controller = new Controller<Thing>({
    name: "things",
    informer,
    metrics: new RuntimeMetrics(registry),
    ...opts,
  });
  const cleanup = async () => {
    await controller.stop();
    await informer.stop();
    transport.close();
    await server.close();
  };
  return { server, informer, controller, registry, [Symbol.asyncDispose]: cleanup };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>) {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((v) =>
    Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)
  );
  return v?.value ?? 0;
}

Deno.test("Controller reconciles every existing object once after the informer syncs", async () => {
  const seen: string[] = [];
  let syncedAtFirstReconcile: boolean | undefined;
  await using t = setup({
    reconcile: (key) => {
      syncedAtFirstReconcile ??= t.informer.hasSynced();
      seen.push(key);
      return Promise.resolve();
    },
  });
  for (const n of ["a", "b", "c"]) t.server.put(n, 1);
  t.informer.start();
  const running = t.controller.run();
  await waitUntil(() => seen.length === 3, "three reconciles");
  assert.equal(syncedAtFirstReconcile, true, "workers start after the cache is complete");
  assert.deepEqual(seen.sort(), ["dev/a", "dev/b", "dev/c"]);
  await t.controller.stop();
  await running;
});

Deno.test("Controller: changes during a reconcile cause exactly one more reconcile", async () => {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using t = setup({
    workers: 4,
    reconcile: async () => {
      calls++;
      if (calls === 1) await gate;
    },
  });
  t.server.put("a", 0);
  t.informer.start();
  void t.controller.run();
  try {
    await waitUntil(() => calls === 1, "the first reconcile");
    for (let i = 1; i <= 10; i++) t.server.put("a", i);
    await waitUntil(() => t.informer.store.get("dev/a")?.spec?.value === 10, "all ten updates");
    assert.equal(calls, 1, "no second worker took the key meanwhile");
  } finally {
    release(); // also on failure, or stop() would wait for the blocked reconcile forever
  }
  await waitUntil(() => calls === 2, "the re-run");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(calls, 2, "ten updates, one re-run");
});

Deno.test("Controller honours requeueAfter", async () => {
  const times: number[] = [];
  await using t = setup({
    reconcile: () => {
      times.push(performance.now());
      return Promise.resolve(times.length < 4 ? { requeueAfter: 50 } : undefined);
    },
  });
  t.server.put("a", 0);
  t.informer.start();
  void t.controller.run();
  await waitUntil(() => times.length === 4, "four reconciles");
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i]! - times[i - 1]! >= 45, `requeue ${i} came too early`);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(times.length, 4, "no requeue once the reconcile stops asking");
  assert.equal(
    await metricValue(t.registry, "controller_runtime_reconcile_total", {
      controller: "things",
      result: "requeue_after",
    }),
    3,
  );
});

Deno.test("Controller retries errors with backoff and gives up on TerminalError", async () => {
  const calls = new Map<string, number>();
  await using t = setup({
    rateLimiter: new ItemExponentialRateLimiter(5, 50),
    reconcile: (key) => {
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      if (key === "dev/flaky" && n < 4) return Promise.reject(new Error("transient"));
      if (key === "dev/broken") return Promise.reject(new TerminalError("invalid spec"));
      return Promise.resolve();
    },
  });
  t.server.put("flaky", 0);
  t.server.put("broken", 0);
  t.informer.start();
  void t.controller.run();
  await waitUntil(() => calls.get("dev/flaky") === 4, "flaky to succeed on the 4th try");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(calls.get("dev/flaky"), 4, "no retry after success");
  assert.equal(calls.get("dev/broken"), 1, "a terminal error is not retried");
  assert.equal(t.controller.queue.numRequeues("dev/flaky"), 0, "success forgets the backoff");
  const errors = await metricValue(t.registry, "controller_runtime_reconcile_errors_total", {
    controller: "things",
  });
  assert.equal(errors, 4);
  assert.equal(
    await metricValue(t.registry, "controller_runtime_terminal_reconcile_errors_total", {
      controller: "things",
    }),
    1,
  );
  assert.equal(
    await metricValue(t.registry, "workqueue_retries_total", { name: "things" }),
    3,
  );
});

Deno.test("Controller maps owned objects' events to the owner's key", async () => {
  const seen: string[] = [];
  const push = (key: string) => {
    seen.push(key);
    return Promise.resolve();
  };
  await using t = setup({ reconcile: push });
  // Children live in another namespace of the same fake collection, owned by dev objects'
  // kind; the owner key keeps the child's namespace, as Kubernetes owners must.
  const childTransport = new KubeTransport(t.server.kubeConfig());
  const children = new Informer(childTransport, {
    ...THINGS,
    decode: (raw) => {
      const c = THINGS.decode(raw);
      return {
        ...c,
        metadata: {
          ...c.metadata,
          namespace: "dev",
          name: `child-${c.metadata.name}`,
          ownerReferences: [{
            apiVersion: "v1",
            kind: "Thing",
            name: c.metadata.name,
            uid: "u",
            controller: true,
          }],
        },
      } as Thing;
    },
  }, { namespace: "kids" });
  const controller = new Controller<Thing>({
    name: "owners",
    informer: t.informer,
    owns: [children],
    metrics: new RuntimeMetrics(new Registry()),
    reconcile: push,
  });
  try {
    t.informer.start();
    children.start();
    void controller.run();
    await t.informer.waitForSync();
    await children.waitForSync();
    await waitUntil(() => t.server.watchers === 2, "both watches");
    t.server.put("parent", 0, { ns: "kids" });
    await waitUntil(() => seen.includes("dev/parent"), "the owner key");
  } finally {
    await controller.stop();
    await children.stop();
    childTransport.close();
  }
});

Deno.test("generationChanged compares metadata.generation", () => {
  assert.equal(
    generationChanged({ metadata: { generation: 1 } }, { metadata: { generation: 1 } }),
    false,
  );
  assert.equal(
    generationChanged({ metadata: { generation: 1 } }, { metadata: { generation: 2 } }),
    true,
  );
});

Deno.test("Controller.stop waits for the running reconcile and aborts its signal", async () => {
  let aborted = false;
  let finished = false;
  let started = false;
  await using t = setup({
    reconcile: async (_key, { signal }) => {
      started = true;
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      aborted = signal.aborted;
      await new Promise((r) => setTimeout(r, 50));
      finished = true;
    },
  });
  t.server.put("a", 0);
  t.informer.start();
  const running = t.controller.run();
  await waitUntil(() => started, "the reconcile");
  await t.controller.stop();
  assert.equal(aborted, true);
  assert.equal(finished, true, "stop() returned before the reconcile finished");
  await running;
});

Deno.test("Controller.run fails when an informer does not sync in time", async () => {
  await using t = setup({ syncTimeoutMs: 100, reconcile: () => Promise.resolve() });
  // The informer is never started.
  await assert.rejects(t.controller.run(), /not synced/);
});
