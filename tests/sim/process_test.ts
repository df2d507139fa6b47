import assert from "node:assert/strict";
import { chat, postJson } from "./_test_helpers.ts";
import { spawnSimulator } from "./process.ts";

Deno.test("spawnSimulator runs main.ts as a child process on a free port and stops it", async () => {
  const sim = await spawnSimulator(["--model", "child", "--profile", "fast"]);
  try {
    assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(sim.port > 0);
    assert.equal(sim.sideChannelPort, undefined);
    const r = await postJson(
      `${sim.url}/v1/chat/completions`,
      chat("hi", { model: "child", max_tokens: 2 }),
    );
    assert.equal(r.status, 200);
  } finally {
    await sim.stop();
  }
  await assert.rejects(fetch(`${sim.url}/health`), "the process is gone");
});

Deno.test("spawnSimulator reports side-channel and bootstrap ports and waits for readiness", async () => {
  const started = performance.now();
  const p = await spawnSimulator([
    "--role",
    "prefill",
    "--kv-connector",
    "nixl",
    "--startup-delay-ms",
    "300",
  ]);
  const s = await spawnSimulator([
    "--role",
    "prefill",
    "--kv-connector",
    "sglang",
    "--engine",
    "sglang",
  ]);
  try {
    assert.ok(performance.now() - started >= 300);
    assert.ok(p.sideChannelPort! > 0);
    assert.ok(s.bootstrapPort! > 0);
    const info = await (await fetch(`http://127.0.0.1:${p.sideChannelPort}/nixl/info`)).json();
    assert.equal(info.engine_id, p.engineId);
  } finally {
    await Promise.all([p.stop(), s.stop()]);
  }
});

Deno.test("spawnSimulator fails with the simulator's stderr on bad flags", async () => {
  await assert.rejects(spawnSimulator(["--role", "middle"]), /invalid simulator options.*role/s);
});
