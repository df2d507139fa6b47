import assert from "node:assert/strict";
import { FaultInjector, isFailureKind } from "./faults.ts";
import { chat, postJson, postStream, sample, scrape, timedStream } from "./_test_helpers.ts";
import { startSimulator } from "./server.ts";

Deno.test("rate 0 never fails, rate 1 always fails with a configured kind", () => {
  const never = new FaultInjector(0, ["5xx"], 1);
  const always = new FaultInjector(1, ["429", "slow-start"], 1);
  for (let i = 0; i < 100; i++) {
    assert.equal(never.pick(null), undefined);
    assert.ok(["429", "slow-start"].includes(always.pick(null)!));
  }
});

Deno.test("the failure rate is honoured and seeded", () => {
  const a = new FaultInjector(0.3, ["5xx", "429"], 9);
  const b = new FaultInjector(0.3, ["5xx", "429"], 9);
  const xs = Array.from({ length: 2000 }, () => a.pick(null));
  assert.deepEqual(xs.slice(0, 50), Array.from({ length: 50 }, () => b.pick(null)));
  const rate = xs.filter((x) => x !== undefined).length / xs.length;
  assert.ok(rate > 0.25 && rate < 0.35, `rate ${rate}`);
  assert.ok(xs.includes("5xx") && xs.includes("429"));
});

Deno.test("the x-sim-failure header forces a kind; junk is ignored", () => {
  const f = new FaultInjector(0, ["5xx"], 1);
  assert.equal(f.pick("drop-mid-stream"), "drop-mid-stream");
  assert.equal(f.pick("teapot"), undefined);
  assert.equal(isFailureKind("5xx"), true);
});

Deno.test("HTTP: --failure-rate 1 with 5xx and 429 kinds answers OpenAI errors", async () => {
  const sim = await startSimulator({
    port: 0,
    profile: "fast",
    model: "m",
    failureRate: 1,
    failureKinds: ["5xx", "429"],
  });
  try {
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const r = await postJson(`${sim.url}/v1/chat/completions`, chat("x", { max_tokens: 2 }));
      seen.add(r.status);
      assert.ok(r.status === 500 || r.status === 429);
      assert.equal((r.body.error as { code: number }).code, r.status);
      if (r.status === 429) assert.equal(r.headers.get("retry-after"), "1");
    }
    assert.deepEqual([...seen].sort(), [429, 500]);
    const f = await scrape(sim.url);
    assert.equal(
      sample(f, "kthena_sim_injected_failures_total", { kind: "5xx" }) +
        sample(f, "kthena_sim_injected_failures_total", { kind: "429" }),
      20,
    );
  } finally {
    await sim.close();
  }
});

Deno.test("HTTP: drop-mid-stream breaks the stream after some tokens, without [DONE]", async () => {
  const sim = await startSimulator({ port: 0, profile: "fast", model: "m" });
  try {
    const res = await postStream(
      `${sim.url}/v1/chat/completions`,
      chat("x", { max_tokens: 20, ignore_eos: true }),
      {
        headers: { "content-type": "application/json", "x-sim-failure": "drop-mid-stream" },
      },
    );
    assert.equal(res.status, 200);
    let received = "";
    await assert.rejects(async () => {
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) received += chunk;
    });
    assert.match(received, /chat\.completion\.chunk/);
    assert.doesNotMatch(received, /\[DONE\]/);
    const plain = await fetch(`${sim.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "x-sim-failure": "drop-mid-stream" },
      body: JSON.stringify(chat("x", { max_tokens: 5 })),
    });
    await assert.rejects(plain.json());
    assert.equal(sim.engine.kv.numUsedBlocks, 0);
  } finally {
    await sim.close();
  }
});

Deno.test("HTTP: slow-start delays the first token by --slow-start-ms", async () => {
  const sim = await startSimulator({ port: 0, profile: "fast", model: "m", slowStartMs: 600 });
  try {
    const body = chat("x", { max_tokens: 2 });
    const normal = await timedStream(`${sim.url}/v1/chat/completions`, body);
    const res = await postStream(`${sim.url}/v1/chat/completions`, body, {
      headers: { "content-type": "application/json", "x-sim-failure": "slow-start" },
    });
    const start = performance.now();
    const text = await res.text();
    assert.match(text, /\[DONE\]/);
    assert.ok(performance.now() - start - normal.totalMs > 400, "at least ~600 ms later");
  } finally {
    await sim.close();
  }
});
