import assert from "node:assert/strict";
import { chat, postJson, sample, scrape, timedStream } from "./_test_helpers.ts";
import { LmcacheStore } from "./pd_lmcache.ts";
import { type SimulatorProcess, spawnSimulator } from "./process.ts";

/** ~600 tokens; decode prefill at 2 ms/token makes a local prefill cost ~1.2 s. */
function prompt(salt: string): string {
  return Array.from({ length: 300 }, (_, i) => `${salt}${i}`).join(" ");
}

/** Kthena's http/lmcache prefill body: stream removed, max_tokens 1. */
function prefillBody(body: Record<string, unknown>): Record<string, unknown> {
  const p: Record<string, unknown> = { ...body, max_tokens: 1 };
  delete p.stream;
  delete p.stream_options;
  return p;
}

Deno.test("LmcacheStore is an LRU of block hashes with prefix lookups", () => {
  const s = new LmcacheStore(3);
  s.store([1, 2, 3]);
  assert.equal(s.lookupPrefix([1, 2, 3, 4]), 3);
  s.store([9]);
  assert.equal(s.size, 3);
  assert.equal(s.lookupPrefix([1, 2, 3]), 0, "1 was evicted");
});

Deno.test("LMCache and plain HTTP two-hop PD between simulator processes", async (t) => {
  const base = [
    "--model",
    "m",
    "--profile",
    "fast",
    "--prefill-time-per-token-ms",
    "2",
    "--kv-transfer-time-per-token-ms",
    "0.01",
  ];
  const procs: SimulatorProcess[] = [];
  try {
    const p = await spawnSimulator([
      ...base,
      "--role",
      "prefill",
      "--kv-connector",
      "lmcache",
      "--pd-group",
      "g1",
      "--refuse-cross-group",
    ]);
    procs.push(p);
    const remote = ["--lmcache-remote", `http://127.0.0.1:${p.sideChannelPort}`];
    const [d, d2, plain, plainP] = await Promise.all([
      spawnSimulator([
        ...base,
        "--role",
        "decode",
        "--kv-connector",
        "lmcache",
        "--pd-group",
        "g1",
        ...remote,
      ]),
      spawnSimulator([
        ...base,
        "--role",
        "decode",
        "--kv-connector",
        "lmcache",
        "--pd-group",
        "g2",
        ...remote,
      ]),
      spawnSimulator([...base, "--role", "decode", "--kv-connector", "http"]),
      spawnSimulator([...base, "--role", "prefill", "--kv-connector", "http"]),
    ]);
    procs.push(d!, d2!, plain!, plainP!);

    await t.step(
      "lmcache: the decode finds the prompt in the prefill's store and skips most of its prefill",
      async () => {
        const client = chat(prompt("a"), { max_tokens: 4, stream: true });
        const pr = await postJson(`${p.url}/v1/chat/completions`, prefillBody(client));
        assert.equal(pr.status, 200);
        assert.equal((pr.body.choices as [{ finish_reason: string }])[0].finish_reason, "length");
        const hit = await timedStream(`${d!.url}/v1/chat/completions`, client);
        const miss = await timedStream(
          `${d!.url}/v1/chat/completions`,
          chat(prompt("b"), { max_tokens: 4 }),
        );
        assert.ok(miss.ttftMs - hit.ttftMs > 600, `hit ${hit.ttftMs} ms, miss ${miss.ttftMs} ms`);
        const f = await scrape(d!.url);
        assert.equal(
          sample(f, "kthena_sim_kv_transfers_total", { connector: "lmcache", result: "ok" }),
          1,
        );
        assert.equal(
          sample(f, "kthena_sim_kv_transfers_total", { connector: "lmcache", result: "miss" }),
          1,
        );
      },
    );

    await t.step(
      "lmcache: a decode of another PD group is refused by the store and prefills locally",
      async () => {
        const client = chat(prompt("c"), { max_tokens: 4, stream: true });
        await postJson(`${p.url}/v1/chat/completions`, prefillBody(client));
        const s = await timedStream(`${d2!.url}/v1/chat/completions`, client);
        assert.ok(s.ttftMs > 900, `local prefill expected, TTFT ${s.ttftMs} ms`);
        const f = await scrape(d2!.url);
        assert.equal(
          sample(f, "kthena_sim_kv_transfers_total", { connector: "lmcache", result: "refused" }),
          1,
        );
      },
    );

    await t.step(
      "plain HTTP two-hop: prefill with max_tokens 1, then the decode prefills again",
      async () => {
        const client = chat(prompt("d"), {
          max_tokens: 4,
          stream: true,
          stream_options: { include_usage: true },
        });
        const pr = await postJson(`${plainP!.url}/v1/chat/completions`, prefillBody(client), {
          "x-request-id": "two-hop",
        });
        assert.equal(pr.status, 200);
        assert.equal((pr.body.usage as { completion_tokens: number }).completion_tokens, 1);
        assert.equal(pr.body.kv_transfer_params, null);
        const s = await timedStream(`${plain!.url}/v1/chat/completions`, client);
        assert.ok(s.ttftMs > 900, `the decode prefills the whole prompt: ${s.ttftMs} ms`);
        assert.equal(
          (s.chunks.at(-1)!.usage as { completion_tokens: number }).completion_tokens,
          4,
        );
      },
    );
  } finally {
    await Promise.all(procs.map((x) => x.stop()));
  }
});
