import assert from "node:assert/strict";
import {
  defaultControllerRateLimiter,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  TokenBucketRateLimiter,
} from "./rate_limiter.ts";

Deno.test("ItemExponentialRateLimiter doubles per key up to the cap and forgets", () => {
  const rl = new ItemExponentialRateLimiter<string>(5, 100);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(() => rl.when("a")), [5, 10, 20, 40, 80, 100, 100]);
  assert.equal(rl.when("b"), 5, "keys are independent");
  assert.equal(rl.numRequeues("a"), 7);
  rl.forget("a");
  assert.equal(rl.numRequeues("a"), 0);
  assert.equal(rl.when("a"), 5);
});

Deno.test("ItemExponentialRateLimiter does not overflow after many failures", () => {
  const rl = new ItemExponentialRateLimiter<string>(5, 300_000);
  let last = 0;
  for (let i = 0; i < 2000; i++) last = rl.when("a");
  assert.equal(last, 300_000);
});

Deno.test("TokenBucketRateLimiter allows a burst, then spaces retries at 1/qps", () => {
  let now = 0;
  const rl = new TokenBucketRateLimiter<string>(10, 3, () => now);
  assert.deepEqual([rl.when("a"), rl.when("b"), rl.when("c")], [0, 0, 0]);
  // Bucket empty: each next retry waits one more token (100 ms at 10 qps).
  assert.equal(rl.when("d"), 100);
  assert.equal(rl.when("e"), 200);
  now += 1000; // refills, but never beyond the burst
  assert.equal(rl.when("f"), 0);
  assert.equal(rl.numRequeues("f"), 0);
});

Deno.test("MaxOfRateLimiter takes the larger delay and forgets in every limiter", () => {
  let now = 0;
  const rl = new MaxOfRateLimiter<string>(
    new ItemExponentialRateLimiter(5, 1000),
    new TokenBucketRateLimiter(10, 1, () => now),
  );
  assert.equal(rl.when("a"), 5); // the bucket has a token: the per-key delay wins
  assert.equal(rl.when("a"), 100); // bucket empty: 100 ms beats 10 ms
  now += 10_000;
  assert.equal(rl.when("a"), 20);
  assert.equal(rl.numRequeues("a"), 3);
  rl.forget("a");
  assert.equal(rl.numRequeues("a"), 0);
});

Deno.test("defaultControllerRateLimiter starts at 5 ms", () => {
  const rl = defaultControllerRateLimiter<string>();
  assert.equal(rl.when("x"), 5);
  assert.equal(rl.when("x"), 10);
});
