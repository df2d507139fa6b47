import assert from "node:assert/strict";
import { Counter, Registry } from "prom-client";
import { healthHandler, informersReady, serveHealth } from "./health.ts";

Deno.test("healthHandler answers ok when every check passes and 503 naming failures", async () => {
  let ready: boolean | string = "cache not synced";
  const handler = healthHandler({
    healthz: { alive: () => true },
    readyz: { cache: () => ready, api: async () => {} },
    registry: new Registry(),
  });
  const live = await handler(new Request("http://x/healthz"));
  assert.equal(live.status, 200);
  assert.equal(await live.text(), "ok\n");

  const notReady = await handler(new Request("http://x/readyz"));
  assert.equal(notReady.status, 503);
  assert.match(await notReady.text(), /\[-\]cache failed: cache not synced/);

  ready = true;
  const verbose = await handler(new Request("http://x/readyz?verbose"));
  assert.equal(verbose.status, 200);
  assert.equal(await verbose.text(), "[+]cache ok\n[+]api ok\nok\n");

  const unknown = await handler(new Request("http://x/nope"));
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("a check that throws fails with its message", async () => {
  const handler = healthHandler({
    readyz: {
      boom: () => {
        throw new Error("no lease");
      },
    },
    registry: new Registry(),
  });
  const res = await handler(new Request("http://x/readyz"));
  assert.equal(res.status, 503);
  assert.match(await res.text(), /boom failed: no lease/);
});

Deno.test("serveHealth serves /metrics from the registry", async () => {
  const registry = new Registry();
  new Counter({ name: "kthena_test_total", help: "t", registers: [registry] }).inc(3);
  const server = serveHealth({ port: 0, hostname: "127.0.0.1", registry });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^kthena_test_total 3$/m);
  } finally {
    await server.shutdown();
  }
});

Deno.test("informersReady fails until synced and when an informer is silent too long", () => {
  const inf = { name: "pods", synced: false, age: 0 };
  const fake = {
    name: inf.name,
    hasSynced: () => inf.synced,
    lastEventAgeMs: () => inf.age,
  };
  const check = informersReady([fake], 1000);
  assert.equal(check(), "pods not synced");
  inf.synced = true;
  assert.equal(check(), true);
  inf.age = 5000;
  assert.equal(check(), "pods silent for 5 s");
});
