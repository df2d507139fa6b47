import assert from "node:assert/strict";
import { ItemExponentialRateLimiter } from "./rate_limiter.ts";
import { WorkQueue, type WorkQueueMetrics } from "./work_queue.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves with the next key, or undefined when none comes within `ms`. Only for keys that
 * are expected: a get() that lost the race still takes the next key.
 */
async function getWithin<K>(q: WorkQueue<K>, ms: number): Promise<K | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  const got = await Promise.race([q.get(), timeout]);
  clearTimeout(timer);
  return got;
}

Deno.test("WorkQueue collapses adds of a queued key into one", async () => {
  const q = new WorkQueue<string>();
  q.add("a");
  q.add("b");
  q.add("a");
  q.add("a");
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), "a");
  assert.equal(await q.get(), "b");
  assert.equal(q.len(), 0);
  q.shutDown();
});

Deno.test("WorkQueue: N adds while a key is processed give exactly one re-run", async () => {
  const q = new WorkQueue<string>();
  q.add("a");
  const key = await q.get();
  assert.equal(key, "a");
  for (let i = 0; i < 10; i++) q.add("a");
  // While processing, the key is not handed out again (no get() here: an abandoned get()
  // would still take the next key).
  await delay(50);
  assert.equal(q.len(), 0);
  q.done("a");
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), "a");
  q.done("a");
  // Exactly one re-run: nothing is left.
  await delay(50);
  assert.equal(q.len(), 0);
  assert.equal(q.delayed, 0);
  q.shutDown();
});

Deno.test("WorkQueue: done() of a key not re-added does not requeue it", async () => {
  const q = new WorkQueue<string>();
  q.add("a");
  q.done((await q.get())!);
  assert.equal(q.len(), 0);
  q.shutDown();
});

Deno.test("WorkQueue.addAfter keeps the earlier due time (later add first)", async () => {
  const q = new WorkQueue<string>();
  q.addAfter("a", 60_000);
  q.addAfter("a", 20);
  assert.equal(q.delayed, 1);
  // Due in 20 ms, far before 60 s.
  assert.equal(await getWithin(q, 5_000), "a");
  q.done("a");
  assert.equal(q.delayed, 0, "the 60 s entry was replaced, not kept");
  q.shutDown();
});

Deno.test("WorkQueue.addAfter keeps the earlier due time (earlier add first)", async () => {
  const q = new WorkQueue<string>();
  q.addAfter("a", 20);
  q.addAfter("a", 60_000); // later: ignored
  assert.equal(q.delayed, 1);
  assert.equal(await getWithin(q, 5_000), "a");
  q.done("a");
  assert.equal(q.delayed, 0);
  // Delivered exactly once.
  await delay(300);
  assert.equal(q.len(), 0);
  q.shutDown();
});

Deno.test("WorkQueue.addAfter with a delay of 0 adds at once", async () => {
  const q = new WorkQueue<string>();
  q.addAfter("a", 0);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), "a");
  q.shutDown();
});

Deno.test("WorkQueue: rate-limited retries back off exponentially; forget resets", async () => {
  const delays: number[] = [];
  const limiter = new ItemExponentialRateLimiter<string>(5, 40);
  const q = new WorkQueue<string>({
    rateLimiter: {
      when: (k) => {
        const d = limiter.when(k);
        delays.push(d);
        return d;
      },
      forget: (k) => limiter.forget(k),
      numRequeues: (k) => limiter.numRequeues(k),
    },
  });
  for (let i = 0; i < 5; i++) {
    q.addRateLimited("a");
    assert.equal(await getWithin(q, 5_000), "a");
    q.done("a");
  }
  assert.deepEqual(delays, [5, 10, 20, 40, 40], "doubling from 5 ms, capped at 40 ms");
  assert.equal(q.numRequeues("a"), 5);
  q.forget("a");
  assert.equal(q.numRequeues("a"), 0);
  q.addRateLimited("a");
  assert.equal(delays.at(-1), 5, "after forget the backoff starts over");
  assert.equal(await getWithin(q, 5_000), "a");
  q.done("a");
  // Keys back off independently.
  q.addRateLimited("b");
  assert.equal(delays.at(-1), 5);
  q.shutDown();
});

Deno.test("WorkQueue never hands one key to two workers at once", async () => {
  const q = new WorkQueue<string>();
  const keys = ["a", "b", "c", "d"];
  const inFlight = new Set<string>();
  const runs = new Map<string, number>();
  let overlaps = 0;
  let maxParallel = 0;
  const worker = async () => {
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      if (inFlight.has(key)) overlaps++;
      inFlight.add(key);
      maxParallel = Math.max(maxParallel, inFlight.size);
      runs.set(key, (runs.get(key) ?? 0) + 1);
      // Yield repeatedly while adds of every key keep coming in.
      for (let i = 0; i < 3; i++) await delay(1);
      inFlight.delete(key);
      q.done(key);
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  for (let round = 0; round < 50; round++) {
    for (const k of keys) q.add(k);
    await delay(Math.random() * 3);
  }
  // Let the last re-runs drain.
  const deadline = performance.now() + 10_000;
  while ((q.len() > 0 || q.processing > 0) && performance.now() < deadline) await delay(5);
  q.shutDown();
  await Promise.all(workers);
  assert.equal(overlaps, 0, "a key was processed by two workers at once");
  assert.ok(maxParallel > 1, "different keys should have run in parallel");
  for (const k of keys) assert.ok((runs.get(k) ?? 0) >= 1, `${k} never ran`);
});

Deno.test("WorkQueue.shutDown releases blocked workers and drops queued keys", async () => {
  const q = new WorkQueue<string>();
  const blocked = q.get();
  q.shutDown();
  assert.equal(await blocked, undefined);
  q.add("a");
  q.addAfter("b", 10);
  q.addRateLimited("c");
  assert.equal(q.len(), 0);
  assert.equal(q.delayed, 0);
  assert.equal(await q.get(), undefined);
});

Deno.test("WorkQueue.idle waits for processing keys after shutdown", async () => {
  const q = new WorkQueue<string>();
  q.add("a");
  const key = await q.get();
  q.shutDown();
  let idle = false;
  const waiting = q.idle().then(() => idle = true);
  await delay(10);
  assert.equal(idle, false);
  q.done(key!);
  await waiting;
  assert.equal(idle, true);
});

Deno.test("WorkQueue reports adds, depth, retries and durations to its metrics hooks", async () => {
  const seen = { adds: 0, retries: 0, depths: [] as number[], queued: 0, worked: 0 };
  const metrics: WorkQueueMetrics = {
    add: () => seen.adds++,
    depth: (n) => seen.depths.push(n),
    retry: () => seen.retries++,
    queueDuration: (s) => {
      assert.ok(s >= 0);
      seen.queued++;
    },
    workDuration: (s) => {
      assert.ok(s >= 0);
      seen.worked++;
    },
  };
  const q = new WorkQueue<string>({ metrics });
  q.add("a");
  q.add("a"); // deduplicated: not an add
  q.add("b");
  assert.equal(seen.adds, 2);
  assert.equal(seen.depths.at(-1), 2);
  const k = await q.get();
  assert.equal(seen.depths.at(-1), 1);
  q.done(k!);
  q.addRateLimited("c");
  assert.equal(seen.retries, 1);
  assert.equal(seen.queued, 1);
  assert.equal(seen.worked, 1);
  q.shutDown();
});
