import assert from "node:assert/strict";
import { chat, postJson, sample, scrape, timedStream, waitFor } from "./_test_helpers.ts";
import { type SimulatorProcess, spawnSimulator } from "./process.ts";
import { parseNixlParams } from "./pd_nixl.ts";
import { startSimulator } from "./server.ts";

const PROMPT = Array.from({ length: 300 }, (_, i) => `tok${i}`).join(" "); // ~600 tokens

/** Prefill body as kthena's nixl connector builds it. */
function prefillBody(body: Record<string, unknown>): Record<string, unknown> {
  const p: Record<string, unknown> = { ...body, max_tokens: 1 };
  delete p.stream;
  delete p.stream_options;
  p.kv_transfer_params = {
    do_remote_decode: true,
    do_remote_prefill: false,
    remote_engine_id: null,
    remote_block_ids: null,
    remote_host: null,
    remote_port: null,
  };
  return p;
}

async function kvUsage(url: string): Promise<number> {
  return sample(await scrape(url), "vllm:kv_cache_usage_perc");
}

async function runPdSuite(t: Deno.TestContext, connector: "nixl" | "mooncake") {
  // Decode prefill is slow (2 ms/token ⇒ ~1.2 s for the prompt) and transfer cheap, so a real
  // transfer shows up as a much lower TTFT than a local prefill.
  const common = ["--model", "m", "--profile", "fast", "--kv-connector", connector];
  const slowPrefill = [
    "--prefill-time-per-token-ms",
    "2",
    "--kv-transfer-time-per-token-ms",
    "0.01",
  ];
  const procs: SimulatorProcess[] = [];
  try {
    const [p, d, d2] = await Promise.all([
      spawnSimulator([
        ...common,
        "--role",
        "prefill",
        "--kv-hold-timeout-ms",
        "1500",
        "--pd-group",
        "g1",
        "--refuse-cross-group",
      ]),
      spawnSimulator([
        ...common,
        ...slowPrefill,
        "--role",
        "decode",
        "--pd-group",
        "g1",
        "--max-num-seqs",
        "1",
      ]),
      spawnSimulator([...common, "--role", "decode", "--pd-group", "g2"]),
    ]);
    procs.push(p!, d!, d2!);
    const client = chat(PROMPT, {
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    let params: Record<string, unknown> = {};

    await t.step("prefill returns kv_transfer_params and holds its blocks", async () => {
      const r = await postJson(`${p!.url}/v1/chat/completions`, prefillBody(client), {
        "x-request-id": "pd-1",
      });
      assert.equal(r.status, 200);
      assert.equal((r.body.choices as [{ finish_reason: string }])[0].finish_reason, "length");
      params = r.body.kv_transfer_params as Record<string, unknown>;
      assert.equal(params.do_remote_prefill, true);
      assert.equal(params.do_remote_decode, false);
      assert.equal(params.remote_engine_id, p!.engineId);
      assert.match(String(params.remote_request_id), /^chatcmpl-pd-1-/);
      assert.equal(params.remote_host, "127.0.0.1");
      assert.equal(params.remote_port, p!.sideChannelPort);
      assert.equal(params.tp_size, 1);
      const prompt = (r.body.usage as { prompt_tokens: number }).prompt_tokens;
      const ids = params.remote_block_ids as number[][];
      assert.equal(ids.length, 1);
      assert.equal(ids[0]!.length, Math.ceil((prompt + 1) / 16));
      assert.ok(await kvUsage(p!.url) > 0, "blocks held for the decode");
    });

    let transferTtft = 0;
    await t.step(
      "decode reads the blocks over the side channel, streams, and the prefill frees them",
      async () => {
        const s = await timedStream(`${d!.url}/v1/chat/completions`, {
          ...client,
          kv_transfer_params: params,
        });
        transferTtft = s.ttftMs;
        assert.ok(s.text.length > 0);
        const usage = (s.chunks.at(-1)!.usage as { completion_tokens: number }).completion_tokens;
        assert.equal(usage, 6);
        assert.equal(await kvUsage(p!.url), 0, "prefill freed its blocks after the read");
        assert.equal(
          sample(await scrape(d!.url), "kthena_sim_kv_transfers_total", {
            connector,
            result: "ok",
          }),
          1,
        );
      },
    );

    await t.step(
      "invalid or partial params make the decode prefill locally (slower) and are counted",
      async () => {
        const partial = { ...params };
        delete partial.remote_host;
        const s = await timedStream(`${d!.url}/v1/chat/completions`, {
          ...chat(PROMPT.replaceAll("tok", "other"), { max_tokens: 2, stream: true }),
          kv_transfer_params: partial,
        });
        assert.ok(s.text.length > 0);
        assert.ok(
          s.ttftMs - transferTtft > 500,
          `local ${s.ttftMs} ms vs transfer ${transferTtft} ms`,
        );
        const f = await scrape(d!.url);
        assert.equal(
          sample(f, "kthena_sim_kv_transfers_total", { connector, result: "invalid_params" }),
          1,
        );
      },
    );

    await t.step("replaying consumed params (stale pairing) fails visibly", async () => {
      const r = await postJson(`${d!.url}/v1/chat/completions`, {
        ...chat(PROMPT, { max_tokens: 6 }),
        kv_transfer_params: params,
      });
      assert.equal(r.status, 500);
      assert.match(
        (r.body.error as { message: string }).message,
        /unknown or expired remote_request_id/,
      );
      const s = await fetch(`${d!.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ ...client, kv_transfer_params: params }),
      });
      assert.equal(s.status, 500, "streaming decode fails before the headers");
      await s.body?.cancel();
    });

    await t.step("params naming another engine fail visibly", async () => {
      const fresh = await postJson(`${p!.url}/v1/chat/completions`, prefillBody(client));
      const kv = fresh.body.kv_transfer_params as Record<string, unknown>;
      const r = await postJson(`${d!.url}/v1/chat/completions`, {
        ...chat(PROMPT, { max_tokens: 6 }),
        kv_transfer_params: { ...kv, remote_engine_id: "someone-else" },
      });
      assert.equal(r.status, 500);
      assert.match((r.body.error as { message: string }).message, /stale pairing/);
      // And a mismatching prompt (router sent another body to the decode) is caught too.
      const wrong = await postJson(`${d!.url}/v1/chat/completions`, {
        ...chat("a different prompt", { max_tokens: 2 }),
        kv_transfer_params: kv,
      });
      assert.equal(wrong.status, 500);
      assert.match((wrong.body.error as { message: string }).message, /mismatch/);
    });

    await t.step("a decode of another PD group is refused", async () => {
      const fresh = await postJson(`${p!.url}/v1/chat/completions`, prefillBody(client));
      const r = await postJson(`${d2!.url}/v1/chat/completions`, {
        ...chat(PROMPT, { max_tokens: 6 }),
        kv_transfer_params: fresh.body.kv_transfer_params,
      });
      assert.equal(r.status, 403);
      assert.match((r.body.error as { message: string }).message, /cross-group/);
    });

    await t.step("unread blocks are freed after the hold timeout", async () => {
      await waitFor(async () => (await kvUsage(p!.url)) === 0, "hold timeout (1.5 s)", 10_000);
    });
  } finally {
    await Promise.all(procs.map((x) => x.stop()));
  }
}

Deno.test("NIXL PD between two simulator processes", (t) => runPdSuite(t, "nixl"));

Deno.test("Mooncake (vllm-ascend, NIXL-shaped) PD between two simulator processes", (t) =>
  runPdSuite(t, "mooncake"));

Deno.test("a NIXL decode cancelled before it was scheduled tells the prefill to free its blocks", async () => {
  // In-process (the generation is cancelled directly): over HTTP, Deno reports a disconnect from
  // a still-pending handler only for small request bodies, and a PD decode's headers wait for
  // the handoff; see README "Fragile".
  const p = await startSimulator({
    port: 0,
    profile: "fast",
    model: "m",
    role: "prefill",
    kvConnector: "nixl",
  });
  const d = await startSimulator({
    port: 0,
    profile: "fast",
    model: "m",
    role: "decode",
    kvConnector: "nixl",
    maxNumSeqs: 1,
  });
  try {
    const plan = (n: number) => ({
      tokens: Array.from({ length: n }, () => ({ id: 9, text: "a" })),
      finishReason: "length" as const,
      stopReason: null,
    });
    const hog = d.engine.submit({
      id: "hog",
      lora: undefined,
      promptIds: [1, 2, 3],
      extraTtftMs: 0,
      pd: { kind: "none" },
      plan: plan(1000),
    });
    const hogEvents = hog.events();
    await hogEvents.next();
    await hogEvents.next();
    const r = await postJson(
      `${p.url}/v1/chat/completions`,
      prefillBody(chat(PROMPT, { max_tokens: 4 })),
    );
    const parsed = parseNixlParams(r.body.kv_transfer_params);
    assert.equal(parsed.kind, "decode");
    assert.equal(p.engine.nixl!.numHeld, 1);
    const dec = d.engine.submit({
      id: "dec",
      lora: undefined,
      promptIds: [1, 2, 3],
      extraTtftMs: 0,
      pd: parsed.kind === "decode"
        ? { kind: "nixl-decode", params: parsed.params }
        : { kind: "none" },
      plan: plan(1),
    });
    const pending = dec.events().next();
    await waitFor(() => d.engine.scheduler.numWaiting === 1, "decode queued");
    dec.cancel();
    await assert.rejects(pending);
    await waitFor(() => p.engine.nixl!.numHeld === 0, "release notification");
    assert.equal(p.engine.kv.numUsedBlocks, 0);
    hog.cancel();
  } finally {
    await d.close();
    await p.close();
  }
});
