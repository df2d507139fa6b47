/**
 * Engine metrics in Prometheus text format, with vLLM's names (`--engine vllm`) or SGLang's
 * (`--engine sglang`), produced by `prom-client` on a registry private to each simulator.
 *
 * Gauges are computed at scrape time from the live engine state; counters and histograms are
 * updated as requests progress. Histogram buckets are the engines' own. Simulator-only series
 * carry the `kthena_sim_` prefix so they can't be mistaken for engine metrics.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SimOptions } from "./options.ts";

/** Live engine state read at scrape time. */
export interface EngineStateView {
  /** Requests holding a running slot. */
  numRunning(): number;
  /** Requests waiting for a slot. */
  numWaiting(): number;
  /** KV usage, 0–1. */
  kvUsage(): number;
  /** Tokens worth of KV blocks in use. */
  numUsedTokens(): number;
  /** Adapters of running requests. */
  runningLoras(): string[];
  /** Adapters of waiting requests. */
  waitingLoras(): string[];
  /** Whether LoRA serving is enabled (emit `vllm:lora_requests_info`). */
  loraEnabled(): boolean;
  /** Prefill requests waiting for their decode peer (SGLang bootstrap queue). */
  bootstrapQueue(): number;
  /** Prefill requests whose KV is held for / being sent to a decode engine. */
  prefillInflight(): number;
  /** Decode requests waiting for remote KV. */
  decodeTransferQueue(): number;
}

/** Why a request ended, as counted by the engines. */
export type FinishedReason = "stop" | "length" | "abort" | "error";

/** Outcome of a KV transfer or lookup, for `kthena_sim_kv_transfers_total`. */
export type TransferResult = "ok" | "invalid_params" | "failed" | "refused" | "miss";

/** The recording side of the metrics (the engine calls these). */
export interface EngineMetrics {
  /** The prom-client registry holding every series. */
  readonly registry: Registry;
  /** Prefix-cache lookup of `queries` prompt tokens of which `hits` were cached. */
  prefixCache(queries: number, hits: number): void;
  /** Time to first token, seconds. */
  ttft(seconds: number): void;
  /** One inter-token gap, seconds. */
  interToken(seconds: number): void;
  /** Request timings, seconds (queue = arrival→admission). */
  requestTimes(
    t: { e2e: number; queue: number; prefill: number; decode: number; tpot: number },
  ): void;
  /** A request ended. */
  finished(reason: FinishedReason, promptTokens: number, generationTokens: number): void;
  /** Tokens generated (counted as they are produced). */
  generated(count: number): void;
  /** A request was preempted. */
  preempted(): void;
  /** A KV transfer / lookup outcome. */
  kvTransfer(connector: string, result: TransferResult): void;
  /** An injected failure. */
  injectedFailure(kind: string): void;
  /** Prometheus text. */
  text(): Promise<string>;
  /** Content type of {@linkcode EngineMetrics.text}. */
  readonly contentType: string;
}

const VLLM_TTFT_BUCKETS = [
  0.001,
  0.005,
  0.01,
  0.02,
  0.04,
  0.06,
  0.08,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
  20,
  40,
  80,
  160,
  640,
  2560,
];
const VLLM_ITL_BUCKETS = [
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.15,
  0.2,
  0.3,
  0.4,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
  20,
  40,
  80,
];
const VLLM_REQUEST_BUCKETS = [
  0.3,
  0.5,
  0.8,
  1,
  1.5,
  2,
  2.5,
  5,
  10,
  15,
  20,
  30,
  40,
  50,
  60,
  120,
  240,
  480,
  960,
  1920,
  7680,
];
const TOKEN_COUNT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
const SGLANG_TTFT_BUCKETS = [
  0.1,
  0.2,
  0.4,
  0.6,
  0.8,
  1,
  2,
  4,
  6,
  8,
  10,
  20,
  40,
  60,
  80,
  100,
  200,
  400,
];
const SGLANG_ITL_BUCKETS = [
  0.002,
  0.004,
  0.006,
  0.008,
  0.01,
  0.015,
  0.02,
  0.025,
  0.03,
  0.035,
  0.04,
  0.06,
  0.08,
  0.1,
  0.2,
  0.4,
  0.6,
  0.8,
  1,
  2,
  4,
  6,
  8,
];
const SGLANG_E2E_BUCKETS = [
  0.1,
  0.2,
  0.4,
  0.6,
  0.8,
  1,
  2,
  4,
  6,
  8,
  10,
  20,
  40,
  60,
  80,
  100,
  200,
  400,
  800,
];

/** Series shared by both flavours (simulator-only names). */
function simSeries(registry: Registry) {
  return {
    transfers: new Counter({
      name: "kthena_sim_kv_transfers_total",
      help: "Simulator: KV transfers and lookups by connector and result.",
      labelNames: ["connector", "result"] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: "kthena_sim_injected_failures_total",
      help: "Simulator: injected failures by kind.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
  };
}

function vllmMetrics(options: SimOptions, state: EngineStateView): EngineMetrics {
  const registry = new Registry();
  const base = { model_name: options.model, engine: "0" };
  const labelNames = ["model_name", "engine"] as const;
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.set(base, read());
      },
    });
  gauge(
    "vllm:num_requests_running",
    "Number of requests in model execution batches.",
    state.numRunning,
  );
  gauge(
    "vllm:num_requests_waiting",
    "Number of requests waiting to be processed.",
    state.numWaiting,
  );
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", state.kvUsage);
  if (options.legacyGpuCacheMetric) {
    gauge(
      "vllm:gpu_cache_usage_perc",
      "GPU KV-cache usage. 1 means 100 percent usage.",
      state.kvUsage,
    );
  }
  const cacheLabels = {
    engine: "0",
    block_size: String(options.blockSize),
    cache_dtype: "auto",
    enable_prefix_caching: options.enablePrefixCaching ? "True" : "False",
    gpu_memory_utilization: "0.9",
    num_cpu_blocks: "0",
    num_gpu_blocks: String(options.numGpuBlocks),
    num_gpu_blocks_override: "None",
    sliding_window: "None",
  };
  new Gauge({
    name: "vllm:cache_config_info",
    help: "Information of the LLMEngine CacheConfig",
    labelNames: Object.keys(cacheLabels),
    registers: [registry],
  }).set(cacheLabels, 1);
  const loraInfo = new Gauge({
    name: "vllm:lora_requests_info",
    help: "Running stats on lora requests.",
    labelNames: ["max_lora", "running_lora_adapters", "waiting_lora_adapters"] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!state.loraEnabled()) return;
      this.set({
        max_lora: String(options.maxLoras),
        running_lora_adapters: [...new Set(state.runningLoras())].join(","),
        waiting_lora_adapters: [...new Set(state.waitingLoras())].join(","),
      }, Date.now() / 1000);
    },
  });
  void loraInfo;
  const counter = (name: string, help: string) => {
    const child = new Counter({ name, help, labelNames, registers: [registry] }).labels(base);
    child.inc(0); // expose 0 from the start, as the engines do
    return child;
  };
  const queries = counter(
    "vllm:prefix_cache_queries_total",
    "Prefix cache queries, in terms of number of queried tokens.",
  );
  const hits = counter(
    "vllm:prefix_cache_hits_total",
    "Prefix cache hits, in terms of number of cached tokens.",
  );
  const preemptions = counter(
    "vllm:num_preemptions_total",
    "Cumulative number of preemption from the engine.",
  );
  const promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.");
  const generationTokens = counter(
    "vllm:generation_tokens_total",
    "Number of generation tokens processed.",
  );
  const success = new Counter({
    name: "vllm:request_success_total",
    help: "Count of successfully processed requests.",
    labelNames: ["model_name", "engine", "finished_reason"] as const,
    registers: [registry],
  });
  const histogram = (name: string, help: string, buckets: number[]) => {
    const h = new Histogram({ name, help, labelNames, buckets, registers: [registry] });
    h.zero(base);
    return h.labels(base);
  };
  const ttft = histogram(
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    VLLM_TTFT_BUCKETS,
  );
  const itl = histogram(
    "vllm:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    VLLM_ITL_BUCKETS,
  );
  const tpotLegacy = histogram(
    "vllm:time_per_output_token_seconds",
    "Histogram of time per output token in seconds. DEPRECATED: use vllm:inter_token_latency_seconds.",
    VLLM_ITL_BUCKETS,
  );
  const requestTpot = histogram(
    "vllm:request_time_per_output_token_seconds",
    "Histogram of time_per_output_token_seconds per request.",
    VLLM_ITL_BUCKETS,
  );
  const e2e = histogram(
    "vllm:e2e_request_latency_seconds",
    "Histogram of e2e request latency in seconds.",
    VLLM_REQUEST_BUCKETS,
  );
  const queue = histogram(
    "vllm:request_queue_time_seconds",
    "Histogram of time spent in WAITING phase for request.",
    VLLM_REQUEST_BUCKETS,
  );
  const prefill = histogram(
    "vllm:request_prefill_time_seconds",
    "Histogram of time spent in PREFILL phase for request.",
    VLLM_REQUEST_BUCKETS,
  );
  const decode = histogram(
    "vllm:request_decode_time_seconds",
    "Histogram of time spent in DECODE phase for request.",
    VLLM_REQUEST_BUCKETS,
  );
  const inference = histogram(
    "vllm:request_inference_time_seconds",
    "Histogram of time spent in RUNNING phase for request.",
    VLLM_REQUEST_BUCKETS,
  );
  const promptHist = histogram(
    "vllm:request_prompt_tokens",
    "Number of prefill tokens processed.",
    TOKEN_COUNT_BUCKETS,
  );
  const genHist = histogram(
    "vllm:request_generation_tokens",
    "Number of generation tokens processed.",
    TOKEN_COUNT_BUCKETS,
  );
  const sim = simSeries(registry);
  return {
    registry,
    contentType: registry.contentType,
    prefixCache(q, h) {
      queries.inc(q);
      hits.inc(h);
      promptTokens.inc(q);
    },
    ttft: (s) => ttft.observe(s),
    interToken(s) {
      itl.observe(s);
      tpotLegacy.observe(s);
    },
    requestTimes(t) {
      e2e.observe(t.e2e);
      queue.observe(t.queue);
      prefill.observe(t.prefill);
      decode.observe(t.decode);
      inference.observe(t.prefill + t.decode);
      requestTpot.observe(t.tpot);
    },
    finished(reason, p, g) {
      success.inc({ ...base, finished_reason: reason === "error" ? "abort" : reason });
      promptHist.observe(p);
      genHist.observe(g);
    },
    generated: (n) => generationTokens.inc(n),
    preempted: () => preemptions.inc(),
    kvTransfer: (connector, result) => sim.transfers.inc({ connector, result }),
    injectedFailure: (kind) => sim.failures.inc({ kind }),
    text: () => registry.metrics(),
  };
}

function sglangMetrics(options: SimOptions, state: EngineStateView): EngineMetrics {
  const registry = new Registry();
  const engineType = options.role === "both" ? "unified" : options.role;
  const base = { model_name: options.model, engine_type: engineType, tp_rank: "0", pp_rank: "0" };
  const labelNames = ["model_name", "engine_type", "tp_rank", "pp_rank"] as const;
  let queried = 0;
  let hit = 0;
  let generatedSince = 0;
  let lastCollect = performance.now();
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.set(base, read());
      },
    });
  gauge("sglang:num_running_reqs", "The number of running requests.", state.numRunning);
  gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.", state.numWaiting);
  gauge("sglang:num_used_tokens", "The number of used tokens.", state.numUsedTokens);
  gauge("sglang:token_usage", "The token usage.", state.kvUsage);
  gauge(
    "sglang:cache_hit_rate",
    "The prefix cache hit rate.",
    () => (queried === 0 ? 0 : hit / queried),
  );
  gauge("sglang:gen_throughput", "The generation throughput (token/s).", () => {
    const now = performance.now();
    const rate = generatedSince / Math.max(0.001, (now - lastCollect) / 1000);
    generatedSince = 0;
    lastCollect = now;
    return rate;
  });
  gauge(
    "sglang:max_total_num_tokens",
    "Maximum total number of tokens in the KV pool.",
    () => options.numGpuBlocks * options.blockSize,
  );
  gauge(
    "sglang:num_prefill_prealloc_queue_reqs",
    "Prefill requests in the bootstrap queue.",
    state.bootstrapQueue,
  );
  gauge(
    "sglang:num_prefill_inflight_queue_reqs",
    "Prefill requests whose KV is being transferred.",
    state.prefillInflight,
  );
  gauge(
    "sglang:num_decode_transfer_queue_reqs",
    "Decode requests waiting for KV transfer.",
    state.decodeTransferQueue,
  );
  new Gauge({
    name: "sglang:cache_config_info",
    help: "Information about the cache configuration.",
    labelNames: ["model_name", "page_size", "num_pages"] as const,
    registers: [registry],
  }).set({
    model_name: options.model,
    page_size: String(options.blockSize),
    num_pages: String(options.numGpuBlocks),
  }, 1);
  const counter = (name: string, help: string) => {
    const child = new Counter({ name, help, labelNames, registers: [registry] }).labels(base);
    child.inc(0); // expose 0 from the start, as the engines do
    return child;
  };
  const promptTokens = counter("sglang:prompt_tokens_total", "Number of prefill tokens processed.");
  const generationTokens = counter(
    "sglang:generation_tokens_total",
    "Number of generation tokens processed.",
  );
  const cachedTokens = counter("sglang:cached_tokens_total", "Number of cached prompt tokens.");
  const requests = counter("sglang:num_requests_total", "Number of requests processed.");
  const aborted = counter("sglang:num_aborted_requests_total", "Number of requests aborted.");
  const histogram = (name: string, help: string, buckets: number[]) => {
    const h = new Histogram({ name, help, labelNames, buckets, registers: [registry] });
    h.zero(base);
    return h.labels(base);
  };
  const ttft = histogram(
    "sglang:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    SGLANG_TTFT_BUCKETS,
  );
  const itl = histogram(
    "sglang:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    SGLANG_ITL_BUCKETS,
  );
  const tpot = histogram(
    "sglang:time_per_output_token_seconds",
    "Histogram of time per output token in seconds.",
    SGLANG_ITL_BUCKETS,
  );
  const e2e = histogram(
    "sglang:e2e_request_latency_seconds",
    "Histogram of End-to-end request latency in seconds",
    SGLANG_E2E_BUCKETS,
  );
  const queue = histogram(
    "sglang:queue_time_seconds",
    "Histogram of queueing time in seconds.",
    SGLANG_E2E_BUCKETS,
  );
  const sim = simSeries(registry);
  return {
    registry,
    contentType: registry.contentType,
    prefixCache(q, h) {
      queried += q;
      hit += h;
      promptTokens.inc(q);
      cachedTokens.inc(h);
    },
    ttft: (s) => ttft.observe(s),
    interToken: (s) => itl.observe(s),
    requestTimes(t) {
      e2e.observe(t.e2e);
      queue.observe(t.queue);
      tpot.observe(t.tpot);
    },
    finished(reason) {
      requests.inc();
      if (reason === "abort" || reason === "error") aborted.inc();
    },
    generated(n) {
      generationTokens.inc(n);
      generatedSince += n;
    },
    preempted: () => {},
    kvTransfer: (connector, result) => sim.transfers.inc({ connector, result }),
    injectedFailure: (kind) => sim.failures.inc({ kind }),
    text: () => registry.metrics(),
  };
}

/**
 * Creates the metric set of the configured engine flavour.
 *
 * @param options Simulator options (model name, engine, cache config).
 * @param state Live state read at scrape time.
 * @returns The recording interface.
 *
 * @example
 * ```ts
 * import { createMetrics, type EngineStateView } from "./metrics.ts";
 * import { resolveSimOptions } from "./options.ts";
 * const idle: EngineStateView = {
 *   numRunning: () => 0, numWaiting: () => 0, kvUsage: () => 0, numUsedTokens: () => 0,
 *   runningLoras: () => [], waitingLoras: () => [], loraEnabled: () => false,
 *   bootstrapQueue: () => 0, prefillInflight: () => 0, decodeTransferQueue: () => 0,
 * };
 * const m = createMetrics(resolveSimOptions({ model: "m" }), idle);
 * console.log((await m.text()).includes('vllm:num_requests_running{model_name="m",engine="0"} 0'));
 * ```
 */
export function createMetrics(options: SimOptions, state: EngineStateView): EngineMetrics {
  return options.engine === "sglang" ? sglangMetrics(options, state) : vllmMetrics(options, state);
}
