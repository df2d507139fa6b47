/**
 * Simulator options: every flag, its default, and the named latency profiles.
 *
 * Flags are kebab-case on the command line (`--max-num-seqs 8`) and camelCase in
 * {@linkcode SimOptions}. A profile (`--profile a100-8b`) sets the latency, capacity and KV
 * parameters first; explicit flags then override single values, so
 * `--profile a100-8b --inter-token-latency-ms 5` keeps the rest of the profile.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { z } from "zod";

/** Which engine's metric names, error shape and PD semantics to imitate. */
export type EngineKind = "vllm" | "sglang";
/** Prefill/decode role of this engine (`both` = aggregated serving). */
export type PdRole = "prefill" | "decode" | "both";
/** KV connector the engine was started with. `none` and `http` do not move KV. */
export type KvConnectorKind = "none" | "http" | "nixl" | "mooncake" | "lmcache" | "sglang";
/** Failure kinds understood by `--failure-kinds`. */
export type FailureKind = "5xx" | "429" | "drop-mid-stream" | "stall" | "slow-start";
/** How output text is produced: seeded random words or an echo of the prompt. */
export type OutputMode = "random" | "echo";
/** What a decode engine does when a remote KV read fails (vLLM `kv_load_failure_policy`). */
export type KvLoadFailurePolicy = "fail" | "recompute";
/** Names of the built-in profiles. */
export type ProfileName = "fast" | "a100-8b" | "h100-8b" | "h100-70b";

/** All simulator settings. Times are milliseconds of simulated time (see `timeScale`). */
export interface SimOptions {
  /** Address to bind (also the default advertised side-channel host). @default "127.0.0.1" */
  host: string;
  /** HTTP port; 0 picks a free one. @default 8000 */
  port: number;
  /** Served model name (the base model). @default "sim-model" */
  model: string;
  /** Engine flavour to imitate. @default "vllm" */
  engine: EngineKind;
  /** Profile that supplied the defaults. @default "a100-8b" */
  profile: ProfileName;
  /** Running-slot count; requests beyond it wait. */
  maxNumSeqs: number;
  /** Context length: prompt + max_tokens must fit. */
  maxModelLen: number;
  /** Tokens per KV block. */
  blockSize: number;
  /** KV capacity in blocks. */
  numGpuBlocks: number;
  /** Reuse cached prefix blocks. @default true */
  enablePrefixCaching: boolean;
  /** Also emit the legacy `vllm:gpu_cache_usage_perc` gauge. @default false */
  legacyGpuCacheMetric: boolean;
  /** Fixed cost of a prefill step. */
  prefillOverheadMs: number;
  /** Prefill cost per uncached prompt token. */
  prefillTimePerTokenMs: number;
  /** Time between two output tokens. */
  interTokenLatencyMs: number;
  /** KV transfer cost per transferred token (decode side of PD, LMCache hits). */
  kvTransferTimePerTokenMs: number;
  /** Constant KV transfer cost added to every transfer. */
  kvTransferLatencyMs: number;
  /** GPU-bound terms are multiplied by up to this factor when `maxNumSeqs` requests run. */
  timeFactorUnderLoad: number;
  /** Relative std-dev of the Gaussian jitter on every term (0 = none, capped at 0.3). */
  jitter: number;
  /** Multiplies every simulated delay; 0 answers at once. @default 1 */
  timeScale: number;
  /** Seed for output text (when the request has none) and for jitter/failures. */
  seed: number | undefined;
  /** Output text mode. @default "random" */
  mode: OutputMode;
  /** Natural (EOS) output length is drawn uniformly from [min, max]. @default 16 */
  outputLenMin: number;
  /** @default 128 */
  outputLenMax: number;
  /** PD role. @default "both" */
  role: PdRole;
  /** KV connector. @default "none" */
  kvConnector: KvConnectorKind;
  /** Engine id advertised as `remote_engine_id` (random UUID when empty). */
  engineId: string;
  /** Tensor-parallel size advertised as `tp_size`. @default 1 */
  tpSize: number;
  /** Host advertised as `remote_host` (defaults to `host`). */
  sideChannelHost: string;
  /** Side-channel (NIXL / Mooncake / LMCache) port; 0 picks a free one. @default 0 */
  sideChannelPort: number;
  /** SGLang bootstrap server port on a prefill engine; 0 picks a free one. @default 0 */
  bootstrapPort: number;
  /** Port a decode engine dials when a request has no `bootstrap_port` (SGLang default). @default 8998 */
  bootstrapDefaultPort: number;
  /** How long an SGLang prefill waits for its decode (and vice versa). @default 30000 */
  bootstrapTimeoutMs: number;
  /** How long a prefill holds KV blocks for a decode to read them (vLLM: 480 s). @default 480000 */
  kvHoldTimeoutMs: number;
  /** Wall-clock timeout of one side-channel read. @default 30000 */
  kvTransferTimeoutMs: number;
  /** Failed remote KV read: fail the request (visible) or prefill locally. @default "fail" */
  kvLoadFailurePolicy: KvLoadFailurePolicy;
  /** PD-group identity of this engine ("" = none). */
  pdGroup: string;
  /** Refuse KV transfers with an engine of another PD group. @default false */
  refuseCrossGroup: boolean;
  /** LMCache peers (side-channel base URLs) a decode engine looks prefixes up in. */
  lmcacheRemote: string[];
  /** Blocks the LMCache store of this engine keeps (LRU). @default 65536 */
  lmcacheCapacityBlocks: number;
  /** LoRA adapters served at start. */
  loras: string[];
  /** Maximum distinct adapters in the running batch. @default 1 */
  maxLoras: number;
  /** Probability (0–1) that a request gets an injected failure. @default 0 */
  failureRate: number;
  /** Failure kinds to pick from. @default ["5xx"] */
  failureKinds: FailureKind[];
  /** Extra TTFT added by the `slow-start` failure. @default 2000 */
  slowStartMs: number;
  /** `/health` answers 503 for this long after start. @default 0 */
  startupDelayMs: number;
}

/** Latency, capacity and KV values a profile sets. */
export type ProfileValues = Pick<
  SimOptions,
  | "maxNumSeqs"
  | "maxModelLen"
  | "blockSize"
  | "numGpuBlocks"
  | "prefillOverheadMs"
  | "prefillTimePerTokenMs"
  | "interTokenLatencyMs"
  | "kvTransferTimePerTokenMs"
  | "kvTransferLatencyMs"
  | "timeFactorUnderLoad"
  | "jitter"
>;

/**
 * Built-in profiles. `h100-8b` is the llm-d-inference-sim example profile (8B on H100);
 * `a100-8b` and `h100-70b` are rough public figures (vLLM, bf16, TP1 / TP4); `fast` is for
 * tests (about 1 ms everywhere).
 *
 * @example
 * ```ts
 * import { PROFILES } from "./options.ts";
 * console.log(PROFILES["a100-8b"].interTokenLatencyMs); // 18
 * ```
 */
export const PROFILES: Readonly<Record<ProfileName, Readonly<ProfileValues>>> = {
  "fast": {
    maxNumSeqs: 256,
    maxModelLen: 8192,
    blockSize: 16,
    numGpuBlocks: 8192,
    prefillOverheadMs: 1,
    prefillTimePerTokenMs: 0.01,
    interTokenLatencyMs: 1,
    kvTransferTimePerTokenMs: 0.001,
    kvTransferLatencyMs: 0,
    timeFactorUnderLoad: 1.5,
    jitter: 0,
  },
  "a100-8b": {
    maxNumSeqs: 256,
    maxModelLen: 8192,
    blockSize: 16,
    numGpuBlocks: 28000,
    prefillOverheadMs: 40,
    prefillTimePerTokenMs: 0.1,
    interTokenLatencyMs: 18,
    kvTransferTimePerTokenMs: 0.004,
    kvTransferLatencyMs: 0,
    timeFactorUnderLoad: 2,
    jitter: 0,
  },
  "h100-8b": {
    maxNumSeqs: 16,
    maxModelLen: 8192,
    blockSize: 16,
    numGpuBlocks: 32000,
    prefillOverheadMs: 30,
    prefillTimePerTokenMs: 0.25,
    interTokenLatencyMs: 12,
    kvTransferTimePerTokenMs: 0.003,
    kvTransferLatencyMs: 0,
    timeFactorUnderLoad: 2,
    jitter: 0,
  },
  "h100-70b": {
    maxNumSeqs: 256,
    maxModelLen: 32768,
    blockSize: 16,
    numGpuBlocks: 40000,
    prefillOverheadMs: 50,
    prefillTimePerTokenMs: 0.2,
    interTokenLatencyMs: 28,
    kvTransferTimePerTokenMs: 0.012,
    kvTransferLatencyMs: 0,
    timeFactorUnderLoad: 2.5,
    jitter: 0,
  },
};

/** Defaults that no profile sets. */
const BASE_DEFAULTS: Omit<SimOptions, keyof ProfileValues | "profile"> = {
  host: "127.0.0.1",
  port: 8000,
  model: "sim-model",
  engine: "vllm",
  enablePrefixCaching: true,
  legacyGpuCacheMetric: false,
  timeScale: 1,
  seed: undefined,
  mode: "random",
  outputLenMin: 16,
  outputLenMax: 128,
  role: "both",
  kvConnector: "none",
  engineId: "",
  tpSize: 1,
  sideChannelHost: "",
  sideChannelPort: 0,
  bootstrapPort: 0,
  bootstrapDefaultPort: 8998,
  bootstrapTimeoutMs: 30_000,
  kvHoldTimeoutMs: 480_000,
  kvTransferTimeoutMs: 30_000,
  kvLoadFailurePolicy: "fail",
  pdGroup: "",
  refuseCrossGroup: false,
  lmcacheRemote: [],
  lmcacheCapacityBlocks: 65536,
  loras: [],
  maxLoras: 1,
  failureRate: 0,
  failureKinds: ["5xx"],
  slowStartMs: 2000,
  startupDelayMs: 0,
};

/** The profile used when none is named. */
export const DEFAULT_PROFILE: ProfileName = "a100-8b";

const nonNegative = z.number().finite().nonnegative();
const positiveInt = z.number().int().positive();
const port = z.number().int().min(0).max(65535);

/** Validation of a complete option set (ranges and cross-field rules). */
const optionsSchema = z.object({
  host: z.string().min(1),
  port,
  model: z.string().min(1),
  engine: z.enum(["vllm", "sglang"]),
  profile: z.enum(["fast", "a100-8b", "h100-8b", "h100-70b"]),
  maxNumSeqs: positiveInt,
  maxModelLen: positiveInt,
  blockSize: positiveInt,
  numGpuBlocks: positiveInt,
  enablePrefixCaching: z.boolean(),
  legacyGpuCacheMetric: z.boolean(),
  prefillOverheadMs: nonNegative,
  prefillTimePerTokenMs: nonNegative,
  interTokenLatencyMs: nonNegative,
  kvTransferTimePerTokenMs: nonNegative,
  kvTransferLatencyMs: nonNegative,
  timeFactorUnderLoad: z.number().finite().min(1),
  jitter: z.number().min(0).max(0.3),
  timeScale: nonNegative,
  seed: z.number().int().optional(),
  mode: z.enum(["random", "echo"]),
  outputLenMin: positiveInt,
  outputLenMax: positiveInt,
  role: z.enum(["prefill", "decode", "both"]),
  kvConnector: z.enum(["none", "http", "nixl", "mooncake", "lmcache", "sglang"]),
  engineId: z.string(),
  tpSize: positiveInt,
  sideChannelHost: z.string(),
  sideChannelPort: port,
  bootstrapPort: port,
  bootstrapDefaultPort: port,
  bootstrapTimeoutMs: nonNegative,
  kvHoldTimeoutMs: nonNegative,
  kvTransferTimeoutMs: nonNegative,
  kvLoadFailurePolicy: z.enum(["fail", "recompute"]),
  pdGroup: z.string(),
  refuseCrossGroup: z.boolean(),
  lmcacheRemote: z.array(z.url()),
  lmcacheCapacityBlocks: positiveInt,
  loras: z.array(z.string().min(1)),
  maxLoras: positiveInt,
  failureRate: z.number().min(0).max(1),
  failureKinds: z.array(z.enum(["5xx", "429", "drop-mid-stream", "stall", "slow-start"])).min(1),
  slowStartMs: nonNegative,
  startupDelayMs: nonNegative,
}).refine((o) => o.outputLenMin <= o.outputLenMax, {
  message: "--output-len-min must not exceed --output-len-max",
}).refine((o) => o.numGpuBlocks * o.blockSize >= o.maxModelLen, {
  // vLLM refuses to start in this case too ("max seq len is larger than the maximum number of
  // tokens that can be stored in KV cache"); it also guarantees a lone request always fits.
  message: "KV capacity (--num-gpu-blocks × --block-size) must hold --max-model-len tokens",
});

/**
 * Builds a complete, validated option set from a profile and overrides.
 *
 * @param overrides Values that win over the profile and the defaults.
 * @returns The resolved options (engine id and side-channel host filled in).
 * @throws {Error} When a value is out of range.
 *
 * @example
 * ```ts
 * import { resolveSimOptions } from "./options.ts";
 * const o = resolveSimOptions({ profile: "fast", port: 0, maxNumSeqs: 2 });
 * console.log(o.maxNumSeqs, o.interTokenLatencyMs); // 2 1
 * ```
 */
export function resolveSimOptions(overrides: Partial<SimOptions> = {}): SimOptions {
  const profile = overrides.profile ?? DEFAULT_PROFILE;
  if (!Object.hasOwn(PROFILES, profile)) {
    throw new Error(
      `invalid simulator options: unknown profile "${profile}" (${
        Object.keys(PROFILES).join(", ")
      })`,
    );
  }
  const defined = Object.fromEntries(
    Object.entries(overrides).filter(([, v]) => v !== undefined),
  ) as Partial<SimOptions>;
  const merged: SimOptions = {
    ...BASE_DEFAULTS,
    ...PROFILES[profile],
    ...defined,
    profile,
    seed: overrides.seed,
  };
  const checked = optionsSchema.safeParse(merged);
  if (!checked.success) {
    const detail = checked.error.issues
      .map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`)
      .join("; ");
    throw new Error(`invalid simulator options: ${detail}`);
  }
  return {
    ...merged,
    engineId: merged.engineId || crypto.randomUUID(),
    sideChannelHost: merged.sideChannelHost || merged.host,
  };
}

type FlagKind = "string" | "int" | "number" | "bool" | "list";

/** Flag table: CLI name → option key and value kind. */
const FLAGS: ReadonlyArray<readonly [flag: string, key: keyof SimOptions, kind: FlagKind]> = [
  ["host", "host", "string"],
  ["port", "port", "int"],
  ["model", "model", "string"],
  ["engine", "engine", "string"],
  ["profile", "profile", "string"],
  ["max-num-seqs", "maxNumSeqs", "int"],
  ["max-model-len", "maxModelLen", "int"],
  ["block-size", "blockSize", "int"],
  ["num-gpu-blocks", "numGpuBlocks", "int"],
  ["prefill-overhead-ms", "prefillOverheadMs", "number"],
  ["prefill-time-per-token-ms", "prefillTimePerTokenMs", "number"],
  ["inter-token-latency-ms", "interTokenLatencyMs", "number"],
  ["kv-transfer-time-per-token-ms", "kvTransferTimePerTokenMs", "number"],
  ["kv-transfer-latency-ms", "kvTransferLatencyMs", "number"],
  ["time-factor-under-load", "timeFactorUnderLoad", "number"],
  ["jitter", "jitter", "number"],
  ["time-scale", "timeScale", "number"],
  ["seed", "seed", "int"],
  ["mode", "mode", "string"],
  ["output-len-min", "outputLenMin", "int"],
  ["output-len-max", "outputLenMax", "int"],
  ["role", "role", "string"],
  ["kv-connector", "kvConnector", "string"],
  ["engine-id", "engineId", "string"],
  ["tp-size", "tpSize", "int"],
  ["side-channel-host", "sideChannelHost", "string"],
  ["side-channel-port", "sideChannelPort", "int"],
  ["bootstrap-port", "bootstrapPort", "int"],
  ["bootstrap-default-port", "bootstrapDefaultPort", "int"],
  ["bootstrap-timeout-ms", "bootstrapTimeoutMs", "number"],
  ["kv-hold-timeout-ms", "kvHoldTimeoutMs", "number"],
  ["kv-transfer-timeout-ms", "kvTransferTimeoutMs", "number"],
  ["kv-load-failure-policy", "kvLoadFailurePolicy", "string"],
  ["pd-group", "pdGroup", "string"],
  ["refuse-cross-group", "refuseCrossGroup", "bool"],
  ["lmcache-remote", "lmcacheRemote", "list"],
  ["lmcache-capacity-blocks", "lmcacheCapacityBlocks", "int"],
  ["lora", "loras", "list"],
  ["max-loras", "maxLoras", "int"],
  ["failure-rate", "failureRate", "number"],
  ["failure-kinds", "failureKinds", "list"],
  ["slow-start-ms", "slowStartMs", "number"],
  ["startup-delay-ms", "startupDelayMs", "number"],
  ["legacy-gpu-cache-metric", "legacyGpuCacheMetric", "bool"],
];

/** Every accepted flag name (without `--`), for help output. */
export const FLAG_NAMES: readonly string[] = [
  ...FLAGS.map(([flag]) => flag),
  "no-prefix-caching",
];

function convert(flag: string, kind: FlagKind, raw: string | boolean): unknown {
  if (kind === "bool") return raw === true || raw === "true";
  const text = String(raw);
  if (kind === "string") return text;
  if (kind === "list") return text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || (kind === "int" && !Number.isInteger(n))) {
    throw new Error(
      `--${flag} expects ${kind === "int" ? "an integer" : "a number"}, got "${text}"`,
    );
  }
  return n;
}

/**
 * Parses command-line flags into options (profile first, then explicit flags).
 *
 * @param args Arguments after the script name, e.g. `Deno.args`.
 * @returns The resolved options.
 * @throws {Error} On unknown flags, malformed numbers or out-of-range values.
 *
 * @example
 * ```ts
 * import { parseSimArgs } from "./options.ts";
 * const o = parseSimArgs(["--port", "0", "--profile", "fast", "--lora", "a,b"]);
 * console.log(o.loras); // ["a", "b"]
 * ```
 */
export function parseSimArgs(args: readonly string[]): SimOptions {
  const spec: Record<string, { type: "string" | "boolean" }> = {
    "no-prefix-caching": { type: "boolean" },
  };
  for (const [flag, , kind] of FLAGS) spec[flag] = { type: kind === "bool" ? "boolean" : "string" };
  const { values } = parseArgs({
    args: [...args],
    options: spec,
    strict: true,
    allowPositionals: false,
  });
  const overrides: Record<string, unknown> = {};
  for (const [flag, key, kind] of FLAGS) {
    const raw = values[flag];
    if (raw !== undefined) overrides[key] = convert(flag, kind, raw);
  }
  if (values["no-prefix-caching"] === true) overrides.enablePrefixCaching = false;
  return resolveSimOptions(overrides as Partial<SimOptions>);
}
