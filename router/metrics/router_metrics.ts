/**
 * The router's Prometheus metrics (prom-client), with upstream's names and labels (§2.14) where
 * upstream has the metric, and `kthena_router_*` names of our own for the rest (TTFT, upstream
 * attempt failures).
 *
 * Label values are bounded: `model` is `unknown` unless a route serves it, and `path` is one of
 * the OpenAI paths or `other`.
 *
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const PLUGIN_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5];

const DEST_LABELS = ["model_route", "backend_type", "backend_name", "upstream_model"] as const;

/** Paths kept as label values; anything else is `other`. */
const KNOWN_PATHS = new Set([
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/messages",
  "/v1/models",
  "/v1/rerank",
  "/v1/score",
  "/v1/audio/transcriptions",
  "/v1/audio/translations",
]);

/**
 * A bounded `path` label value.
 *
 * @example
 * ```ts
 * import { pathLabel } from "./router_metrics.ts";
 * pathLabel("/v1/chat/completions"); // "/v1/chat/completions"
 * pathLabel("/v1/x/" + crypto.randomUUID()); // "other"
 * ```
 */
export function pathLabel(path: string): string {
  return KNOWN_PATHS.has(path) ? path : "other";
}

/** Where a request went, for labels (`none` / `unresolved` until known, as upstream). */
export interface Destination {
  /** `ns/name` of the ModelRoute. */
  modelRoute?: string;
  /** `ns/name` of the ModelServer. */
  backendName?: string;
  /** The model sent to the engine. */
  upstreamModel?: string;
}

/** One finished request. */
export interface RequestObservation extends Destination {
  model: string;
  path: string;
  status: number;
  /** Upstream's `error_type` value (`successful_request` for a success). */
  errorType: string;
  seconds: number;
  /** Time to first token of a streamed answer. */
  ttftSeconds?: number;
  inputTokens?: number;
  outputTokens?: number;
}

interface CounterChild {
  inc(value?: number): void;
}
interface HistogramChild {
  observe(value: number): void;
}
interface GaugeChild {
  inc(): void;
  dec(): void;
}
interface RequestChildren {
  requests: CounterChild;
  duration: HistogramChild;
  ttft: HistogramChild;
  input: CounterChild;
  output: CounterChild;
}

/** Bound of the label-children cache (far above any real label cardinality). */
const MAX_CACHED_CHILDREN = 10_000;

/** Options of {@linkcode RouterMetrics}. */
export interface RouterMetricsOptions {
  /** Also export prom-client's process and runtime metrics. @default false */
  processMetrics?: boolean;
}

/**
 * The router's metrics, in their own registry.
 *
 * @example
 * ```ts
 * import { RouterMetrics } from "./router_metrics.ts";
 * const m = new RouterMetrics();
 * m.observeRequest({ model: "m", path: "/v1/completions", status: 200, errorType: "successful_request", seconds: 0.1 });
 * (await m.text()).includes("kthena_router_requests_total"); // true
 * ```
 */
export class RouterMetrics {
  /** The registry `/metrics` renders. */
  readonly registry: Registry = new Registry();
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #ttft: Histogram;
  readonly #tokens: Counter;
  readonly #prefill: Histogram;
  readonly #decode: Histogram;
  readonly #plugin: Histogram;
  readonly #active: Gauge;
  readonly #activeDownstream: Gauge;
  readonly #activeUpstream: Gauge;
  readonly #failures: Counter;
  readonly #shed: Counter;
  readonly #connections: Gauge;
  readonly #requestChildren = new Map<string, RequestChildren>();
  readonly #downstreamChildren = new Map<string, GaugeChild>();
  readonly #upstreamChildren = new Map<string, GaugeChild>();
  readonly #pluginChildren = new Map<string, HistogramChild>();

  /** @param options Options. */
  constructor(options: RouterMetricsOptions = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "kthena_router_requests_total",
      help: "Requests handled by the router.",
      labelNames: ["model", "path", "status_code", "error_type", ...DEST_LABELS],
      registers,
    });
    this.#duration = new Histogram({
      name: "kthena_router_request_duration_seconds",
      help: "Time from request arrival to the end of the response.",
      labelNames: ["model", "path", "status_code", ...DEST_LABELS],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#ttft = new Histogram({
      name: "kthena_router_time_to_first_token_seconds",
      help: "Time from request arrival to the first byte of a streamed answer.",
      labelNames: ["model", "path", ...DEST_LABELS],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.#tokens = new Counter({
      name: "kthena_router_tokens_total",
      help: "Tokens processed, as the engines reported them.",
      labelNames: ["model", "path", "token_type", ...DEST_LABELS],
      registers,
    });
    this.#prefill = new Histogram({
      name: "kthena_router_request_prefill_duration_seconds",
      help: "Duration of prefill legs.",
      labelNames: ["model", "path", "status_code"],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#decode = new Histogram({
      name: "kthena_router_request_decode_duration_seconds",
      help: "Duration of decode legs, to the end of their response.",
      labelNames: ["model", "path", "status_code"],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#plugin = new Histogram({
      name: "kthena_router_scheduler_plugin_duration_seconds",
      help: "Duration of scheduler plugin calls.",
      labelNames: ["model", "plugin", "type"],
      buckets: PLUGIN_BUCKETS,
      registers,
    });
    this.#active = new Gauge({
      name: "kthena_router_active_requests",
      help: "Requests being handled.",
      registers,
    });
    this.#activeDownstream = new Gauge({
      name: "kthena_router_active_downstream_requests",
      help: "Requests being handled, by model.",
      labelNames: ["model"],
      registers,
    });
    this.#activeUpstream = new Gauge({
      name: "kthena_router_active_upstream_requests",
      help: "Legs in flight to engines.",
      labelNames: ["model_server", "leg"],
      registers,
    });
    this.#failures = new Counter({
      name: "kthena_router_upstream_failures_total",
      help: "Failed attempts towards engines (each retry counts).",
      labelNames: ["model_server", "leg", "reason"],
      registers,
    });
    this.#shed = new Counter({
      name: "kthena_router_connections_rejected_total",
      help: "Client connections refused with 503 because the connection cap was reached.",
      registers,
    });
    this.#connections = new Gauge({
      name: "kthena_router_open_connections",
      help: "Client connections open.",
      registers,
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A request started; returns the function to call when it ends. */
  requestStarted(): () => void {
    this.#active.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#active.dec();
    };
  }

  /** A request for `model` is in flight; returns the function to call when it ends. */
  downstreamStarted(model: string): () => void {
    let child = this.#downstreamChildren.get(model);
    if (!child) {
      child = this.#activeDownstream.labels({ model });
      this.#downstreamChildren.set(model, child);
    }
    const c = child;
    c.inc();
    return () => c.dec();
  }

  /** A leg to an engine started; returns the function to call when it ends. */
  upstreamStarted(modelServer: string, leg: string): () => void {
    const key = `${modelServer}\0${leg}`;
    let child = this.#upstreamChildren.get(key);
    if (!child) {
      child = this.#activeUpstream.labels({ model_server: modelServer, leg });
      this.#upstreamChildren.set(key, child);
    }
    const c = child;
    c.inc();
    return () => c.dec();
  }

  /** Records a finished request. */
  observeRequest(o: RequestObservation): void {
    // prom-client hashes a label object on every call (about 10 µs per request over these
    // five series); the children are looked up once per label combination instead. The
    // combinations are bounded (model, route and server come from the routes; path and status
    // are bounded sets), and the cache is dropped if it ever grows past a bound.
    const path = pathLabel(o.path);
    const key = `${o.model}\0${path}\0${o.status}\0${o.errorType}\0${o.modelRoute ?? ""}\0${
      o.backendName ?? ""
    }\0${o.upstreamModel ?? ""}`;
    let c = this.#requestChildren.get(key);
    if (!c) {
      const dest = {
        model_route: o.modelRoute ?? "none",
        backend_type: o.backendName ? "model_server" : "unresolved",
        backend_name: o.backendName ?? "none",
        upstream_model: o.upstreamModel ?? "none",
      };
      const status = String(o.status);
      c = {
        requests: this.#requests.labels({
          model: o.model,
          path,
          status_code: status,
          error_type: o.errorType,
          ...dest,
        }),
        duration: this.#duration.labels({ model: o.model, path, status_code: status, ...dest }),
        ttft: this.#ttft.labels({ model: o.model, path, ...dest }),
        input: this.#tokens.labels({ model: o.model, path, token_type: "input", ...dest }),
        output: this.#tokens.labels({ model: o.model, path, token_type: "output", ...dest }),
      };
      if (this.#requestChildren.size >= MAX_CACHED_CHILDREN) this.#requestChildren.clear();
      this.#requestChildren.set(key, c);
    }
    c.requests.inc();
    c.duration.observe(o.seconds);
    if (o.ttftSeconds !== undefined) c.ttft.observe(o.ttftSeconds);
    if (o.inputTokens) c.input.inc(o.inputTokens);
    if (o.outputTokens) c.output.inc(o.outputTokens);
  }

  /** A connection was refused because the listener's cap was reached. */
  connectionShed(): void {
    this.#shed.inc();
  }

  /** The listener's open connections. */
  setOpenConnections(open: number): void {
    this.#connections.set(open);
  }

  /** Records a prefill or decode leg. */
  observeLeg(
    role: "prefill" | "decode",
    model: string,
    path: string,
    status: number | undefined,
    seconds: number,
  ): void {
    const h = role === "prefill" ? this.#prefill : this.#decode;
    h.observe({ model, path: pathLabel(path), status_code: String(status ?? 0) }, seconds);
  }

  /** Records a scheduler plugin call. */
  observePlugin(model: string, plugin: string, type: string, seconds: number): void {
    const key = `${model}\0${plugin}\0${type}`;
    let child = this.#pluginChildren.get(key);
    if (!child) {
      child = this.#plugin.labels({ model, plugin, type });
      if (this.#pluginChildren.size >= MAX_CACHED_CHILDREN) this.#pluginChildren.clear();
      this.#pluginChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** Counts a failed attempt. */
  countFailure(modelServer: string, leg: string, reason: string): void {
    this.#failures.inc({ model_server: modelServer, leg, reason });
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
