import assert from "node:assert/strict";
import { Backoff, sleep } from "./backoff.ts";

Deno.test("Backoff grows by its factor up to the cap, jittered into the upper half", () => {
  const top = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => top.next()), [100, 200, 400, 800, 1000, 1000]);
  const bottom = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual([1, 2, 3].map(() => bottom.next()), [50, 100, 200]);
  for (let i = 0; i < 100; i++) {
    const b = new Backoff({ initialMs: 800, maxMs: 30_000 });
    const d = b.next();
    assert.ok(d >= 400 && d <= 800, String(d));
  }
});

Deno.test("Backoff.reset starts over", () => {
  const b = new Backoff({ initialMs: 100, random: () => 1 });
  b.next();
  b.next();
  assert.equal(b.attempts, 2);
  b.reset();
  assert.equal(b.next(), 100);
});

Deno.test("sleep ends early when its signal aborts", async () => {
  const ac = new AbortController();
  const started = performance.now();
  const s = sleep(60_000, ac.signal);
  ac.abort();
  await s;
  assert.ok(performance.now() - started < 30_000);
});
