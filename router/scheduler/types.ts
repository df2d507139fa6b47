/**
 * The scheduler's plugin contract, modelled on the Gateway API inference extension's endpoint
 * picker: tiny extension points (filter, score, pick, post-response), each a plugin with a type
 * and an instance name, composed into a profile by configuration.
 *
 * Scores are in [0, 1] (as in the endpoint picker; upstream Kthena uses 0–100) and are weighted
 * and summed; every endpoint that passed the filters starts at 0, so one that no scorer rated
 * stays a candidate (upstream drops it, §7.9).
 *
 * @module
 */
import type { Endpoint, PdRole } from "../datastore/endpoint.ts";

/** Engine-reported state of a pod (filled by metric scraping, which comes later). */
export interface EngineMetrics {
  /** Requests waiting in the engine's queue. */
  readonly waiting?: number;
  /** Requests running in the engine. */
  readonly running?: number;
  /** KV-cache usage, 0–1. */
  readonly kvCacheUsage?: number;
  /** Recent mean time to first token, seconds. */
  readonly ttftSeconds?: number;
  /** Recent mean time per output token, seconds. */
  readonly tpotSeconds?: number;
  /** Models (and adapters) the engine serves (`/v1/models`). */
  readonly models?: readonly string[];
}

/** Per-pod state plugins read; keyed by {@linkcode Endpoint.key}. */
export interface EndpointState {
  /** Requests this router has in flight to the pod. */
  inFlight(key: string): number;
  /** Last scraped engine metrics, if any. */
  engineMetrics(key: string): EngineMetrics | undefined;
}

/** What plugins see of the request. */
export interface SchedulingRequest {
  /** The `x-request-id`. */
  readonly requestId: string;
  /** The model the client named (route model name or LoRA adapter). */
  readonly model: string;
  /** The model sent to the engine (after the ModelServer's `spec.model`). */
  readonly targetModel: string;
  /** Whether `model` is a LoRA adapter. */
  readonly isLora: boolean;
  /** Request path. */
  readonly path: string;
  /** Request headers. */
  readonly headers: Headers;
  /** Parsed request body (read-only). */
  readonly body: Readonly<Record<string, unknown>>;
  /** `namespace/name` of the ModelServer. */
  readonly serverKey: string;
}

/**
 * Everything a plugin gets in one scheduling cycle.
 *
 * @example
 * ```ts
 * import type { SchedulingContext } from "./types.ts";
 * const loadOf = (ctx: SchedulingContext, key: string) =>
 *   ctx.state.inFlight(key) + (ctx.state.engineMetrics(key)?.waiting ?? 0);
 * ```
 */
export interface SchedulingContext {
  readonly request: SchedulingRequest;
  readonly state: EndpointState;
  /** The role being scheduled in PD mode; absent for aggregated serving. */
  readonly role?: PdRole;
  /** Scratch space shared by the plugins of one cycle (e.g. a prompt hash computed once). */
  readonly cycle: Map<string, unknown>;
}

/** Common to all plugins. */
export interface Plugin {
  /** Registered type, e.g. `least-request`. */
  readonly type: string;
  /** Instance name (the type, unless configured otherwise). */
  readonly name: string;
}

/**
 * Removes endpoints that must not get the request.
 *
 * @example
 * ```ts
 * import type { Filter } from "./types.ts";
 * const decodeOnly: Filter = {
 *   type: "decode-only",
 *   name: "decode-only",
 *   filter: (_ctx, endpoints) => endpoints.filter((e) => e.role === "decode"),
 * };
 * ```
 */
export interface Filter extends Plugin {
  filter(ctx: SchedulingContext, endpoints: readonly Endpoint[]): readonly Endpoint[];
}

/**
 * Rates endpoints; returns one score in [0, 1] per endpoint, aligned with the input.
 *
 * @example
 * ```ts
 * import type { Scorer } from "./types.ts";
 * const idleKv: Scorer = {
 *   type: "gpu-usage",
 *   name: "gpu-usage",
 *   score: (ctx, endpoints) => endpoints.map((e) => 1 - (ctx.state.engineMetrics(e.key)?.kvCacheUsage ?? 0)),
 * };
 * ```
 */
export interface Scorer extends Plugin {
  score(ctx: SchedulingContext, endpoints: readonly Endpoint[]): readonly number[];
}

/** An endpoint with its weighted total score. */
export interface ScoredEndpoint {
  readonly endpoint: Endpoint;
  readonly score: number;
}

/**
 * Orders the scored endpoints and keeps at most `limit` (the first is the pick, the rest
 * fallbacks).
 *
 * @example
 * ```ts
 * import type { Picker } from "./types.ts";
 * const first: Picker = { type: "first", name: "first", pick: (_ctx, scored, limit) => scored.slice(0, limit).map((s) => s.endpoint) };
 * ```
 */
export interface Picker extends Plugin {
  pick(ctx: SchedulingContext, scored: readonly ScoredEndpoint[], limit: number): Endpoint[];
}

/** What was sent where, and how it went; given to post-response plugins. */
export interface ResponseOutcome {
  /** Endpoints that served the request (aggregated: one; PD: decode then prefill). */
  readonly endpoints: readonly Endpoint[];
  /** Whether the request succeeded. */
  readonly ok: boolean;
}

/**
 * Learns from completed requests (the seam for prefix-cache and latency plugins).
 *
 * @example
 * ```ts
 * import type { PostResponse } from "./types.ts";
 * const served = new Map<string, number>();
 * const counter: PostResponse = {
 *   type: "served-counter",
 *   name: "served-counter",
 *   postResponse: (_req, outcome) => {
 *     for (const e of outcome.endpoints) served.set(e.key, (served.get(e.key) ?? 0) + 1);
 *   },
 * };
 * ```
 */
export interface PostResponse extends Plugin {
  postResponse(request: SchedulingRequest, outcome: ResponseOutcome): void;
}

/**
 * Type guards for the extension points a plugin implements.
 *
 * @example
 * ```ts
 * import { PluginKinds } from "./types.ts";
 * PluginKinds.isScorer({ type: "x", name: "x", score: () => [] }); // true
 * ```
 */
export const PluginKinds = {
  isFilter: (p: Plugin): p is Filter => typeof (p as Partial<Filter>).filter === "function",
  isScorer: (p: Plugin): p is Scorer => typeof (p as Partial<Scorer>).score === "function",
  isPicker: (p: Plugin): p is Picker => typeof (p as Partial<Picker>).pick === "function",
  isPostResponse: (p: Plugin): p is PostResponse =>
    typeof (p as Partial<PostResponse>).postResponse === "function",
} as const;
