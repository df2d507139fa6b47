import assert from "node:assert/strict";
import {
  chat,
  delay,
  postJson,
  postStream,
  sample,
  scrape,
  timedStream,
  waitFor,
} from "./_test_helpers.ts";
import { Engine } from "./engine.ts";
import type { SimOptions } from "./options.ts";
import { resolveSimOptions } from "./options.ts";
import { startSimulator } from "./server.ts";

async function withSim(
  overrides: Partial<SimOptions>,
  fn: (url: string, sim: Awaited<ReturnType<typeof startSimulator>>) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0, profile: "fast", model: "m", ...overrides });
  try {
    await fn(sim.url, sim);
  } finally {
    await sim.close();
  }
}

/** A long prompt: ~1,200 tokens of distinct words. */
function longPrompt(salt: string): string {
  return Array.from({ length: 600 }, (_, i) => `${salt}${i}`).join(" ");
}

Deno.test("a prefix-cache hit lowers TTFT by the prefill time of the cached tokens", async () => {
  // 0.5 ms per prompt token: a cold 1,200-token prompt takes ~600 ms to prefill, a warm one ~10 ms.
  await withSim({ prefillOverheadMs: 10, prefillTimePerTokenMs: 0.5 }, async (url) => {
    const body = chat(longPrompt("w"), { max_tokens: 2 });
    const cold = await timedStream(`${url}/v1/chat/completions`, body);
    const warm = await timedStream(`${url}/v1/chat/completions`, body);
    const other = await timedStream(
      `${url}/v1/chat/completions`,
      chat(longPrompt("z"), { max_tokens: 2 }),
    );
    assert.ok(cold.ttftMs > 400, `cold TTFT ${cold.ttftMs}`);
    assert.ok(cold.ttftMs - warm.ttftMs > 300, `cold ${cold.ttftMs} ms vs warm ${warm.ttftMs} ms`);
    assert.ok(other.ttftMs > 400, `a different prompt does not hit: ${other.ttftMs}`);
    const f = await scrape(url);
    const queries = sample(f, "vllm:prefix_cache_queries_total");
    const hits = sample(f, "vllm:prefix_cache_hits_total");
    assert.ok(hits > 1000 && hits < queries, `hits ${hits} of ${queries}`);
  });
});

Deno.test("requests beyond max-num-seqs wait in the queue and start when a slot frees", async () => {
  await withSim({ maxNumSeqs: 2, interTokenLatencyMs: 10 }, async (url) => {
    const body = chat("queue me", { max_tokens: 40, ignore_eos: true });
    const runs = Array.from({ length: 4 }, () => timedStream(`${url}/v1/chat/completions`, body));
    let peak = { running: 0, waiting: 0 };
    await waitFor(async () => {
      const f = await scrape(url);
      const running = sample(f, "vllm:num_requests_running");
      const waiting = sample(f, "vllm:num_requests_waiting");
      if (running + waiting > peak.running + peak.waiting) peak = { running, waiting };
      return running === 2 && waiting === 2;
    }, "2 running + 2 waiting");
    const results = await Promise.all(runs);
    const ttfts = results.map((r) => r.ttftMs).sort((a, b) => a - b);
    const firstDone = Math.min(...results.map((r) => r.totalMs));
    // The two queued requests cannot start before a running one finished (~400 ms of decode).
    assert.ok(
      ttfts[2]! > firstDone * 0.8,
      `queued TTFT ${ttfts[2]} vs first completion ${firstDone}`,
    );
    assert.ok(ttfts[2]! - ttfts[1]! > 200, `ttfts ${ttfts.map(Math.round)}`);
    const f = await scrape(url);
    assert.equal(sample(f, "vllm:num_requests_waiting"), 0);
    assert.ok(sample(f, "vllm:request_queue_time_seconds_sum") > 0.5);
  });
});

Deno.test("load slows every running request down (time factor under load)", async () => {
  await withSim({ maxNumSeqs: 8, interTokenLatencyMs: 10, timeFactorUnderLoad: 4 }, async (url) => {
    const body = chat("load", { max_tokens: 30, ignore_eos: true });
    const alone = await timedStream(`${url}/v1/chat/completions`, body);
    const crowd = await Promise.all(
      Array.from({ length: 8 }, () => timedStream(`${url}/v1/chat/completions`, body)),
    );
    const mean = crowd.reduce((s, r) => s + r.totalMs, 0) / crowd.length;
    // Alone: ~300 ms; with 8 running the ITL approaches 4×.
    assert.ok(mean > alone.totalMs * 2, `alone ${alone.totalMs} ms, loaded mean ${mean} ms`);
  });
});

Deno.test("a cancelled streaming request frees its slot and blocks at once", async () => {
  await withSim({ maxNumSeqs: 1, interTokenLatencyMs: 50 }, async (url, sim) => {
    const abort = new AbortController();
    const res = await postStream(
      `${url}/v1/chat/completions`,
      chat("long " + "x ".repeat(1000), {
        max_tokens: 2000,
        ignore_eos: true,
      }),
      { signal: abort.signal },
    );
    const reader = res.body!.getReader();
    await reader.read();
    await waitFor(
      () => sim.engine.scheduler.numRunning === 1 && sim.engine.kv.numUsedBlocks > 0,
      "running",
    );
    const queued = timedStream(`${url}/v1/chat/completions`, chat("next", { max_tokens: 3 }));
    await delay(150);
    assert.equal(sim.engine.scheduler.numWaiting, 1, "second request queued behind the first");
    const cancelledAt = performance.now();
    abort.abort();
    await reader.cancel().catch(() => {});
    const next = await queued;
    // It would take 2,000 × 50 ms = 100 s if the slot were not freed.
    assert.ok(performance.now() - cancelledAt < 5000);
    assert.ok(next.text.length > 0);
    await waitFor(() => sim.engine.kv.numUsedBlocks === 0, "blocks freed");
    const f = await scrape(url);
    assert.equal(sample(f, "vllm:num_requests_running"), 0);
    assert.equal(sample(f, "vllm:kv_cache_usage_perc"), 0);
    assert.equal(sample(f, "vllm:request_success_total", { finished_reason: "abort" }), 1);
  });
});

Deno.test("a cancelled non-streaming request (queued or running) is dropped", async () => {
  await withSim({ maxNumSeqs: 1, interTokenLatencyMs: 50 }, async (url, sim) => {
    const long = new AbortController();
    const waiting = new AbortController();
    // A body well over 1 KB: Deno only notices such a client going away while the response
    // body is pending, which is why non-streaming answers send their headers at once.
    const body = JSON.stringify(chat("x ".repeat(1500), { max_tokens: 2000, ignore_eos: true }));
    const a = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      body,
      signal: long.signal,
    });
    assert.equal(a.status, 200);
    await waitFor(() => sim.engine.scheduler.numRunning === 1, "first running");
    const b = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      body,
      signal: waiting.signal,
    });
    await waitFor(() => sim.engine.scheduler.numWaiting === 1, "second waiting");
    waiting.abort();
    await assert.rejects(b.text());
    await waitFor(() => sim.engine.scheduler.numWaiting === 0, "queued request dropped");
    long.abort();
    await assert.rejects(a.text());
    await waitFor(
      () => sim.engine.scheduler.numRunning === 0 && sim.engine.kv.numUsedBlocks === 0,
      "slot freed",
    );
    assert.equal(sim.engine.numActive, 0);
  });
});

Deno.test("KV pressure preempts the newest request, which resumes and completes", async () => {
  // 12 blocks × 16 tokens = 192 tokens of KV; three requests of ~100 tokens each cannot all fit.
  await withSim({ numGpuBlocks: 12, maxModelLen: 192, interTokenLatencyMs: 2 }, async (url) => {
    const runs = ["a", "b", "c"].map((s) =>
      postJson(
        `${url}/v1/chat/completions`,
        chat(`${s} `.repeat(10), { max_tokens: 80, ignore_eos: true }),
      )
    );
    const results = await Promise.all(runs);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal((r.body.usage as { completion_tokens: number }).completion_tokens, 80);
    }
    const f = await scrape(url);
    assert.ok(sample(f, "vllm:num_preemptions_total") >= 1);
    assert.equal(sample(f, "vllm:kv_cache_usage_perc"), 0);
  });
});

Deno.test("Engine runs in-process without HTTP and close() cancels what is left", async () => {
  const engine = new Engine(
    resolveSimOptions({ profile: "fast", interTokenLatencyMs: 20 }),
    () => false,
  );
  const g = engine.submit({
    id: "x",
    lora: undefined,
    promptIds: [1, 2, 3],
    extraTtftMs: 0,
    pd: { kind: "none" },
    plan: {
      tokens: Array.from({ length: 100 }, () => ({ id: 9, text: "a" })),
      finishReason: "length",
      stopReason: null,
    },
  });
  const it = g.events();
  assert.deepEqual((await it.next()).value, { type: "ready" });
  assert.equal(((await it.next()).value as { type: string }).type, "token");
  await engine.close();
  await assert.rejects(it.next());
  assert.equal(engine.scheduler.numRunning, 0);
  assert.equal(engine.kv.numUsedBlocks, 0);
});
