import assert from "node:assert/strict";
import { histogram, parseMetrics, sample } from "./_test_helpers.ts";
import { createMetrics, type EngineStateView } from "./metrics.ts";
import { resolveSimOptions } from "./options.ts";

const state: EngineStateView = {
  numRunning: () => 3,
  numWaiting: () => 2,
  kvUsage: () => 0.25,
  numUsedTokens: () => 64,
  runningLoras: () => ["a", "a"],
  waitingLoras: () => ["b"],
  loraEnabled: () => true,
  bootstrapQueue: () => 1,
  prefillInflight: () => 4,
  decodeTransferQueue: () => 5,
};

Deno.test("vLLM metrics carry vLLM names and labels and parse back", async () => {
  const m = createMetrics(resolveSimOptions({ model: "llama", maxLoras: 2 }), state);
  m.prefixCache(100, 64);
  m.ttft(0.05);
  m.interToken(0.02);
  m.interToken(0.03);
  m.requestTimes({ e2e: 1, queue: 0.1, prefill: 0.2, decode: 0.7, tpot: 0.02 });
  m.finished("stop", 100, 3);
  m.finished("abort", 10, 0);
  m.generated(3);
  m.kvTransfer("nixl", "invalid_params");
  const f = parseMetrics(await m.text());
  const labels = { model_name: "llama", engine: "0" };
  assert.equal(sample(f, "vllm:num_requests_running", labels), 3);
  assert.equal(sample(f, "vllm:num_requests_waiting", labels), 2);
  assert.equal(sample(f, "vllm:kv_cache_usage_perc", labels), 0.25);
  assert.equal(f.has("vllm:gpu_cache_usage_perc"), false);
  assert.equal(sample(f, "vllm:prefix_cache_queries_total", labels), 100);
  assert.equal(sample(f, "vllm:prefix_cache_hits_total", labels), 64);
  assert.equal(sample(f, "vllm:prompt_tokens_total", labels), 100);
  assert.equal(sample(f, "vllm:generation_tokens_total", labels), 3);
  assert.equal(sample(f, "vllm:num_preemptions_total", labels), 0);
  assert.equal(sample(f, "vllm:request_success_total", { finished_reason: "stop" }), 1);
  assert.equal(sample(f, "vllm:request_success_total", { finished_reason: "abort" }), 1);
  assert.deepEqual(histogram(f, "vllm:time_to_first_token_seconds"), { count: 1, sum: 0.05 });
  assert.equal(histogram(f, "vllm:inter_token_latency_seconds").count, 2);
  assert.equal(histogram(f, "vllm:time_per_output_token_seconds").count, 2);
  assert.equal(histogram(f, "vllm:e2e_request_latency_seconds").count, 1);
  assert.equal(f.get("vllm:time_to_first_token_seconds")!.type, "HISTOGRAM");
  const cache = f.get("vllm:cache_config_info")!.metrics[0]!;
  assert.equal(cache.labels!.block_size, "16");
  assert.equal(cache.labels!.num_gpu_blocks, "28000");
  const lora = f.get("vllm:lora_requests_info")!.metrics[0]!;
  assert.deepEqual(lora.labels, {
    max_lora: "2",
    running_lora_adapters: "a",
    waiting_lora_adapters: "b",
  });
  assert.ok(Math.abs(Number(lora.value) - Date.now() / 1000) < 60);
  assert.equal(
    sample(f, "kthena_sim_kv_transfers_total", { connector: "nixl", result: "invalid_params" }),
    1,
  );
});

Deno.test("the legacy gpu_cache_usage_perc gauge is behind a flag", async () => {
  const m = createMetrics(resolveSimOptions({ legacyGpuCacheMetric: true }), state);
  const f = parseMetrics(await m.text());
  assert.equal(sample(f, "vllm:gpu_cache_usage_perc"), 0.25);
});

Deno.test("SGLang metrics carry SGLang names", async () => {
  const m = createMetrics(
    resolveSimOptions({ engine: "sglang", model: "qwen", role: "prefill" }),
    state,
  );
  m.prefixCache(100, 25);
  m.ttft(0.5);
  m.interToken(0.01);
  m.finished("length", 100, 1);
  const f = parseMetrics(await m.text());
  const labels = { model_name: "qwen", engine_type: "prefill" };
  assert.equal(sample(f, "sglang:num_running_reqs", labels), 3);
  assert.equal(sample(f, "sglang:num_queue_reqs", labels), 2);
  assert.equal(sample(f, "sglang:token_usage", labels), 0.25);
  assert.equal(sample(f, "sglang:cache_hit_rate", labels), 0.25);
  assert.equal(sample(f, "sglang:num_used_tokens", labels), 64);
  assert.equal(sample(f, "sglang:num_prefill_prealloc_queue_reqs", labels), 1);
  assert.equal(sample(f, "sglang:num_prefill_inflight_queue_reqs", labels), 4);
  assert.equal(sample(f, "sglang:num_decode_transfer_queue_reqs", labels), 5);
  assert.equal(sample(f, "sglang:prompt_tokens_total", labels), 100);
  assert.equal(sample(f, "sglang:num_requests_total", labels), 1);
  assert.equal(histogram(f, "sglang:time_to_first_token_seconds").count, 1);
  assert.equal(histogram(f, "sglang:inter_token_latency_seconds").count, 1);
  assert.equal([...f.keys()].some((k) => k.startsWith("vllm:")), false);
});
