import assert from "node:assert/strict";
import { LatencyModel, type LatencyParams } from "./latency.ts";

const params: LatencyParams = {
  prefillOverheadMs: 10,
  prefillTimePerTokenMs: 0.5,
  interTokenLatencyMs: 20,
  kvTransferTimePerTokenMs: 0.01,
  kvTransferLatencyMs: 2,
  timeFactorUnderLoad: 3,
  maxNumSeqs: 5,
  jitter: 0,
  timeScale: 1,
};

Deno.test("TTFT = overhead + uncached tokens × per-token time", () => {
  const m = new LatencyModel(params);
  assert.equal(m.prefillMs(0, 1), 10);
  assert.equal(m.prefillMs(100, 1), 60);
});

Deno.test("load factor grows linearly to timeFactorUnderLoad at maxNumSeqs", () => {
  const m = new LatencyModel(params);
  assert.equal(m.loadFactor(1), 1);
  assert.equal(m.loadFactor(3), 2);
  assert.equal(m.loadFactor(5), 3);
  assert.equal(m.loadFactor(50), 3);
  assert.equal(m.interTokenMs(5), 60);
  assert.equal(m.prefillMs(100, 5), 180);
});

Deno.test("KV transfer is constant + per token and not load-scaled", () => {
  const m = new LatencyModel(params);
  assert.equal(m.transferMs(0), 0);
  assert.equal(m.transferMs(1000), 12);
});

Deno.test("time scale multiplies everything; 0 means no waiting", () => {
  const half = new LatencyModel({ ...params, timeScale: 0.5 });
  assert.equal(half.prefillMs(100, 1), 30);
  assert.equal(half.fixedMs(100), 50);
  const zero = new LatencyModel({ ...params, timeScale: 0 });
  assert.equal(zero.prefillMs(100, 5), 0);
  assert.equal(zero.interTokenMs(5), 0);
  assert.equal(zero.transferMs(100), 0);
});

Deno.test("jitter is seeded and clamped to ±70 %", () => {
  const a = new LatencyModel({ ...params, jitter: 0.3 }, 42);
  const b = new LatencyModel({ ...params, jitter: 0.3 }, 42);
  const xs = Array.from({ length: 2000 }, () => a.interTokenMs(1));
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b.interTokenMs(1)));
  assert.ok(Math.min(...xs) >= 20 * 0.3 - 1e-9);
  assert.ok(Math.max(...xs) <= 20 * 1.7 + 1e-9);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 20) < 1, `mean ${mean}`);
});
