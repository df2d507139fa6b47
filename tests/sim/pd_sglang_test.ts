import assert from "node:assert/strict";
import { chat, delay, postJson, sample, scrape } from "./_test_helpers.ts";
import { type SimulatorProcess, spawnSimulator } from "./process.ts";

const PROMPT = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");

/** A random 63-bit room id as decimal text (kept exact by sending it unquoted in raw JSON). */
function room(): string {
  const hi = BigInt(Math.floor(Math.random() * 2 ** 31));
  const lo = BigInt(Math.floor(Math.random() * 2 ** 32));
  return ((hi << 32n) | lo).toString();
}

/** Serialises `body` with a raw integer `bootstrap_room`. */
function withRoom(body: Record<string, unknown>, r: string): string {
  return JSON.stringify({ ...body, bootstrap_room: 0 }).replace(
    '"bootstrap_room":0',
    `"bootstrap_room":${r}`,
  );
}

function legs(p: SimulatorProcess, r: string, client: Record<string, unknown>) {
  const boot = { bootstrap_host: "127.0.0.1", bootstrap_port: p.bootstrapPort };
  const prefill = { ...client, ...boot, max_tokens: 1 };
  delete (prefill as Record<string, unknown>).stream;
  return { prefill: withRoom(prefill, r), decode: withRoom({ ...client, ...boot }, r) };
}

function post(url: string, raw: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw,
  });
}

Deno.test("SGLang bootstrap PD between two simulator processes", async (t) => {
  const common = [
    "--engine",
    "sglang",
    "--model",
    "m",
    "--profile",
    "fast",
    "--kv-connector",
    "sglang",
  ];
  const procs: SimulatorProcess[] = [];
  try {
    const p = await spawnSimulator([
      ...common,
      "--role",
      "prefill",
      "--bootstrap-timeout-ms",
      "1500",
      "--pd-group",
      "g1",
      "--refuse-cross-group",
    ]);
    procs.push(p);
    const [d, d2, dk] = await Promise.all([
      spawnSimulator([
        ...common,
        "--role",
        "decode",
        "--pd-group",
        "g1",
        "--bootstrap-timeout-ms",
        "1500",
      ]),
      spawnSimulator([
        ...common,
        "--role",
        "decode",
        "--pd-group",
        "g2",
        "--bootstrap-timeout-ms",
        "1500",
      ]),
      spawnSimulator([
        ...common,
        "--role",
        "decode",
        "--bootstrap-default-port",
        String(p.bootstrapPort),
      ]),
    ]);
    procs.push(d!, d2!, dk!);
    const client = chat(PROMPT, {
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });

    await t.step("both legs in flight at once complete; the decode streams", async () => {
      const r = room();
      const { prefill, decode } = legs(p, r, client);
      const [pr, dr] = await Promise.all([post(p.url, prefill), post(d!.url, decode)]);
      assert.equal(pr.status, 200);
      const pb = await pr.json();
      assert.equal(pb.choices[0].finish_reason, "length");
      assert.equal(pb.usage.completion_tokens, 1);
      assert.equal(dr.status, 200);
      const text = await dr.text();
      assert.match(text, /"completion_tokens":5/);
      assert.match(text, /data: \[DONE\]/);
      const f = await scrape(d!.url);
      assert.equal(
        sample(f, "kthena_sim_kv_transfers_total", { connector: "sglang", result: "ok" }),
        1,
      );
      assert.equal(sample(f, "sglang:num_decode_transfer_queue_reqs"), 0);
    });

    await t.step("the decode may arrive first; the prefill then completes the pair", async () => {
      const r = room();
      const { prefill, decode } = legs(p, r, client);
      const dr = post(d!.url, decode);
      await delay(300);
      const pr = await post(p.url, prefill);
      assert.equal(pr.status, 200);
      await pr.body?.cancel();
      const res = await dr;
      assert.equal(res.status, 200);
      assert.match(await res.text(), /\[DONE\]/);
    });

    await t.step(
      "a router that serialises the legs deadlocks: the prefill times out with KVTransferError",
      async () => {
        const r = room();
        const { prefill } = legs(p, r, client);
        const start = performance.now();
        const during = post(p.url, prefill);
        await delay(300);
        const f = await scrape(p.url);
        assert.equal(
          sample(f, "sglang:num_prefill_prealloc_queue_reqs"),
          1,
          "prefill waits in the bootstrap queue",
        );
        const pr = await during;
        assert.ok(performance.now() - start >= 1400, "waited for the bootstrap timeout");
        assert.equal(pr.status, 500);
        const body = await pr.json();
        assert.equal(body.object, "error");
        assert.match(body.message, /KVTransferError\(bootstrap_room=\d+\).*timed out/);
      },
    );

    await t.step("a decode without its prefill times out too", async () => {
      const { decode } = legs(p, room(), client);
      const res = await post(d!.url, decode);
      assert.equal(res.status, 500);
      assert.match((await res.json()).message, /KV transfer failed/);
    });

    await t.step("a request without bootstrap_room gets SGLang's 400 on both roles", async () => {
      for (const url of [p.url, d!.url]) {
        const r = await postJson(
          `${url}/v1/chat/completions`,
          chat("x", { bootstrap_host: "127.0.0.1" }),
        );
        assert.equal(r.status, 400);
        assert.equal(r.body.message, "Disaggregated request received without bootstrap room id");
      }
    });

    await t.step(
      "kthena-style decode body (host and room, no port) dials --bootstrap-default-port",
      async () => {
        const r = room();
        const prefill = withRoom({ ...client, stream: false, max_tokens: 1 }, r);
        const decode = withRoom({ ...client, bootstrap_host: "127.0.0.1" }, r);
        const [pr, dr] = await Promise.all([post(p.url, prefill), post(dk!.url, decode)]);
        assert.equal(pr.status, 200);
        await pr.body?.cancel();
        assert.equal(dr.status, 200);
        assert.match(await dr.text(), /\[DONE\]/);
      },
    );

    await t.step("a decode of another PD group is refused and both legs fail", async () => {
      const r = room();
      const { prefill, decode } = legs(p, r, client);
      const [pr, dr] = await Promise.all([post(p.url, prefill), post(d2!.url, decode)]);
      assert.equal(pr.status, 500);
      assert.match((await pr.json()).message, /cross-group/);
      assert.equal(dr.status, 403);
      assert.match((await dr.json()).message, /cross-group/);
    });
  } finally {
    await Promise.all(procs.map((x) => x.stop()));
  }
});
