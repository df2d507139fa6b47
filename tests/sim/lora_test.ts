import assert from "node:assert/strict";
import { postJson, scrape, waitFor } from "./_test_helpers.ts";
import { LoraRegistry } from "./lora.ts";
import { startSimulator } from "./server.ts";

Deno.test("resolves the base model, adapters and unknown names", () => {
  const r = new LoraRegistry("base", ["sql", "chat"]);
  assert.deepEqual(r.resolve("base"), { lora: undefined });
  assert.deepEqual(r.resolve(undefined), { lora: undefined });
  assert.deepEqual(r.resolve("sql"), { lora: "sql" });
  assert.equal(r.resolve("nope"), undefined);
  assert.deepEqual(r.adapters.map((a) => a.name), ["sql", "chat"]);
  assert.equal(r.enabled, true);
});

Deno.test("adapters load and unload at run time", () => {
  const r = new LoraRegistry("base", []);
  assert.equal(r.enabled, false);
  assert.equal(r.load("x", "/p/x"), true);
  assert.equal(r.load("x", "/p/x"), false);
  assert.equal(r.load("base", "/p"), false);
  assert.equal(r.enabled, true);
  assert.equal(r.adapters[0]!.path, "/p/x");
  assert.equal(r.unload("x"), true);
  assert.equal(r.unload("x"), false);
  assert.equal(r.resolve("x"), undefined);
});

Deno.test("HTTP: adapters are served, limited by --max-loras, and load/unload at run time", async () => {
  const sim = await startSimulator({
    port: 0,
    profile: "fast",
    model: "base",
    loras: ["a", "b"],
    maxLoras: 1,
    interTokenLatencyMs: 10,
  });
  try {
    const url = sim.url;
    const ids = async () =>
      ((await (await fetch(`${url}/v1/models`)).json()).data as { id: string }[]).map((d) => d.id);
    assert.deepEqual(await ids(), ["base", "a", "b"]);
    const slow = { max_tokens: 40, ignore_eos: true };
    const ra = postJson(`${url}/v1/chat/completions`, {
      model: "a",
      messages: [{ role: "user", content: "x" }],
      ...slow,
    });
    await waitFor(() => sim.engine.scheduler.numRunning === 1, "a running");
    const rb = postJson(`${url}/v1/chat/completions`, {
      model: "b",
      messages: [{ role: "user", content: "x" }],
      ...slow,
    });
    const rbase = postJson(`${url}/v1/chat/completions`, {
      model: "base",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 2,
    });
    await waitFor(() => sim.engine.scheduler.numWaiting === 1, "b waiting for a LoRA slot");
    const f = await scrape(url);
    const info = f.get("vllm:lora_requests_info")!.metrics[0]!.labels!;
    assert.deepEqual(info, {
      max_lora: "1",
      running_lora_adapters: "a",
      waiting_lora_adapters: "b",
    });
    assert.equal((await rbase).status, 200, "the base model is not blocked by the LoRA limit");
    const [a, b] = await Promise.all([ra, rb]);
    assert.equal(a.body.model, "a");
    assert.equal(b.body.model, "b");
    const load = await fetch(`${url}/v1/load_lora_adapter`, {
      method: "POST",
      body: JSON.stringify({ lora_name: "c", lora_path: "/x/c" }),
    });
    assert.equal(load.status, 200);
    assert.match(await load.text(), /added successfully/);
    assert.deepEqual(await ids(), ["base", "a", "b", "c"]);
    const again = await postJson(`${url}/v1/load_lora_adapter`, { lora_name: "c" });
    assert.equal(again.status, 400);
    const unload = await fetch(`${url}/v1/unload_lora_adapter`, {
      method: "POST",
      body: JSON.stringify({ lora_name: "a" }),
    });
    assert.equal(unload.status, 200);
    await unload.body?.cancel();
    assert.equal(
      (await postJson(`${url}/v1/chat/completions`, {
        model: "a",
        messages: [{ role: "user", content: "x" }],
      })).status,
      404,
    );
    assert.equal(
      (await postJson(`${url}/v1/unload_lora_adapter`, { lora_name: "zz" })).status,
      404,
    );
  } finally {
    await sim.close();
  }
});
