import assert from "node:assert/strict";
import { DEFAULT_PROFILE, parseSimArgs, PROFILES, resolveSimOptions } from "./options.ts";

Deno.test("defaults come from the default profile", () => {
  const o = parseSimArgs([]);
  assert.equal(o.profile, DEFAULT_PROFILE);
  assert.equal(o.interTokenLatencyMs, PROFILES[DEFAULT_PROFILE].interTokenLatencyMs);
  assert.equal(o.model, "sim-model");
  assert.equal(o.host, "127.0.0.1");
  assert.equal(o.sideChannelHost, "127.0.0.1");
  assert.match(o.engineId, /^[0-9a-f-]{36}$/);
});

Deno.test("a profile sets values and explicit flags override single ones", () => {
  const o = parseSimArgs([
    "--profile",
    "h100-70b",
    "--inter-token-latency-ms",
    "5",
    "--max-num-seqs",
    "3",
  ]);
  assert.equal(o.interTokenLatencyMs, 5);
  assert.equal(o.maxNumSeqs, 3);
  assert.equal(o.prefillOverheadMs, PROFILES["h100-70b"].prefillOverheadMs);
  assert.equal(o.maxModelLen, 32768);
});

Deno.test("every kind of flag parses", () => {
  const o = parseSimArgs([
    "--port=0",
    "--model",
    "llama",
    "--engine",
    "sglang",
    "--role",
    "prefill",
    "--kv-connector",
    "nixl",
    "--lora",
    "a, b",
    "--failure-kinds",
    "429,slow-start",
    "--failure-rate",
    "0.25",
    "--refuse-cross-group",
    "--no-prefix-caching",
    "--legacy-gpu-cache-metric",
    "--time-scale",
    "0",
    "--seed",
    "7",
    "--lmcache-remote",
    "http://127.0.0.1:1",
  ]);
  assert.equal(o.port, 0);
  assert.equal(o.engine, "sglang");
  assert.deepEqual(o.loras, ["a", "b"]);
  assert.deepEqual(o.failureKinds, ["429", "slow-start"]);
  assert.equal(o.failureRate, 0.25);
  assert.equal(o.refuseCrossGroup, true);
  assert.equal(o.enablePrefixCaching, false);
  assert.equal(o.legacyGpuCacheMetric, true);
  assert.equal(o.timeScale, 0);
  assert.equal(o.seed, 7);
  assert.deepEqual(o.lmcacheRemote, ["http://127.0.0.1:1"]);
});

Deno.test("bad flags and values are rejected with a message", () => {
  assert.throws(() => parseSimArgs(["--nope"]), /nope/);
  assert.throws(() => parseSimArgs(["--max-num-seqs", "1.5"]), /integer/);
  assert.throws(() => parseSimArgs(["--role", "middle"]), /role/);
  assert.throws(() => parseSimArgs(["--profile", "nope"]), /unknown profile "nope"/);
  assert.throws(() => parseSimArgs(["--failure-rate", "2"]), /failureRate/);
  assert.throws(() => parseSimArgs(["--failure-kinds", "404"]), /failureKinds/);
  assert.throws(
    () => parseSimArgs(["--num-gpu-blocks", "10", "--max-model-len", "4096"]),
    /KV capacity/,
  );
});

Deno.test("resolveSimOptions keeps an explicit engine id", () => {
  assert.equal(resolveSimOptions({ engineId: "e1" }).engineId, "e1");
});
