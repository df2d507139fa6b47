import assert from "node:assert/strict";
import { gaussian, mixSeed, seededRandom } from "./prng.ts";

Deno.test("seededRandom is deterministic and uniform-ish in [0, 1)", () => {
  const a = seededRandom(123);
  const b = seededRandom(123);
  const xs = Array.from({ length: 10000 }, () => a());
  assert.deepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02);
});

Deno.test("mixSeed depends on every part and their order", () => {
  assert.equal(mixSeed(1, 2, 3), mixSeed(1, 2, 3));
  assert.notEqual(mixSeed(1, 2, 3), mixSeed(3, 2, 1));
  assert.notEqual(mixSeed(2 ** 40), mixSeed(0));
});

Deno.test("gaussian has mean ~0 and std-dev ~1", () => {
  const r = seededRandom(7);
  const xs = Array.from({ length: 20000 }, () => gaussian(r));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.05 && Math.abs(sd - 1) < 0.05, `${mean} ${sd}`);
});
