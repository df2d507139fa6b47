/**
 * The inference request flow: parse the body once, match a ModelRoute, resolve the ModelServer,
 * schedule (a pod, or prefill/decode pairs), try until an attempt commits, relay the answer, and
 * record the access log and metrics when the response has ended.
 *
 * Everything up to the first leg runs without I/O and without awaiting, so the in-flight count
 * of the chosen pod is raised before the next request is scheduled.
 *
 * @module
 */
import type { Datastore, ServerView } from "../datastore/datastore.ts";
import type { Endpoint } from "../datastore/endpoint.ts";
import { objectKey } from "../datastore/pod.ts";
import type { LegHooks } from "../connectors/connector.ts";
import { connectorFor } from "../connectors/select.ts";
import type { RouterMetrics } from "../metrics/router_metrics.ts";
import {
  type AttemptResult,
  DEFAULT_MAX_TRIES,
  legTimeouts,
  retryPolicy,
  runAttempts,
  type RunOutcome,
  type TimeoutDefaults,
} from "../proxy/attempts.ts";
import type { EngineClient, LegTimeouts } from "../proxy/engine_client.ts";
import { type JsonObject, prefillBody, withModel, withStreamUsage } from "../proxy/bodies.ts";
import { forwardHeaders, type HeaderPairs } from "../proxy/forward_headers.ts";
import { type Failure, LegError, sendLeg, statusFailure } from "../proxy/leg.ts";
import { type RelayEnd, relayResponse, type Usage } from "../proxy/relay.ts";
import { matchRoute, type RouteQuery } from "../routing/route_matcher.ts";
import type { InFlightCounter } from "../scheduler/in_flight.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { EndpointState, EngineMetrics, SchedulingRequest } from "../scheduler/types.ts";
import type { AccessLogEntry, AccessLogSink } from "./access_log.ts";
import type { AdmissionPolicy, AdmissionRequest } from "./admission.ts";
import { type ErrorCategory, Errors, RouterError } from "./errors.ts";
import { parseInferenceRequest, validateInferenceRequest } from "./inference_request.ts";

/**
 * Paths served with prefill/decode disaggregation when the ModelServer has `pdGroup`; other
 * paths (embeddings, responses, …) go to one pod of the server.
 *
 * @example
 * ```ts
 * import { PD_PATHS } from "./inference.ts";
 * PD_PATHS.has("/v1/embeddings"); // false
 * ```
 */
export const PD_PATHS: ReadonlySet<string> = new Set(["/v1/chat/completions", "/v1/completions"]);

/** The status recorded for a request whose client went away (nginx's convention). */
const CLIENT_CLOSED = 499;

/** What the handler needs. */
export interface InferenceDeps {
  readonly datastore: Datastore;
  /** The engine legs' HTTP client. */
  readonly engineClient: EngineClient;
  /** Leg timeouts where a ModelServer sets none. */
  readonly timeouts: TimeoutDefaults;
  readonly scheduler: Scheduler;
  readonly inFlight: InFlightCounter;
  readonly metrics: RouterMetrics;
  /** Engine metrics per pod key (scraping comes later). */
  readonly engineMetrics?: (key: string) => EngineMetrics | undefined;
  /** Access-log sink; none: no access log. */
  readonly accessLog?: AccessLogSink;
  /** Random source for weighted targets. */
  readonly random?: () => number;
  /** Admission policies (rate limits, quotas), in order. */
  readonly admission?: readonly AdmissionPolicy[];
}

/** One request being handled: what the access log and the metrics will say. */
class Exchange {
  readonly start = performance.now();
  readonly startedAt = Date.now();
  model?: string;
  labelModel = "unknown";
  route?: string;
  server?: string;
  upstreamModel?: string;
  connector?: string;
  pod?: string;
  prefillPod?: string;
  decodePod?: string;
  stream?: boolean;
  attempts?: number;
  upstreamStatus?: number;
  usage?: Usage;
  ttftMs?: number;
  /** Admission policies that let the request in, with what they saw. */
  admitted?: { policies: AdmissionPolicy[]; request: AdmissionRequest };
  /** Ends the per-model active-request gauge, once the model is known. */
  endDownstream?: () => void;
  #done = false;

  constructor(
    readonly requestId: string,
    readonly method: string,
    readonly path: string,
    private readonly deps: InferenceDeps,
    private readonly endActive: () => void,
  ) {}

  finish(status: number, errorType: string, error?: { type: string; message: string }): void {
    if (this.#done) return;
    this.#done = true;
    this.endActive();
    this.endDownstream?.();
    if (this.admitted) {
      for (const p of this.admitted.policies) p.settle?.(this.admitted.request, this.usage);
    }
    const ms = performance.now() - this.start;
    this.deps.metrics.observeRequest({
      model: this.labelModel,
      path: this.path,
      status,
      errorType,
      seconds: ms / 1000,
      ...(this.route ? { modelRoute: this.route } : {}),
      ...(this.server ? { backendName: this.server } : {}),
      ...(this.upstreamModel ? { upstreamModel: this.upstreamModel } : {}),
      ...(this.ttftMs !== undefined ? { ttftSeconds: this.ttftMs / 1000 } : {}),
      ...(this.usage?.promptTokens ? { inputTokens: this.usage.promptTokens } : {}),
      ...(this.usage?.completionTokens ? { outputTokens: this.usage.completionTokens } : {}),
    });
    const sink = this.deps.accessLog;
    if (!sink) return;
    const entry: AccessLogEntry = {
      timestamp: new Date(this.startedAt).toISOString(),
      request_id: this.requestId,
      method: this.method,
      path: this.path,
      status_code: status,
      duration_ms: Math.round(ms * 1000) / 1000,
    };
    if (this.model !== undefined) entry.model_name = this.model;
    if (this.route) entry.model_route = this.route;
    if (this.server) entry.model_server = this.server;
    if (this.upstreamModel) entry.upstream_model = this.upstreamModel;
    if (this.pod) entry.selected_pod = this.pod;
    if (this.prefillPod) entry.prefill_pod = this.prefillPod;
    if (this.decodePod) entry.decode_pod = this.decodePod;
    if (this.connector) entry.kv_connector = this.connector;
    if (this.stream !== undefined) entry.stream = this.stream;
    if (this.attempts !== undefined) entry.upstream_attempts = this.attempts;
    if (this.upstreamStatus !== undefined) entry.upstream_status_code = this.upstreamStatus;
    if (this.usage?.promptTokens !== undefined) entry.input_tokens = this.usage.promptTokens;
    if (this.usage?.completionTokens !== undefined) {
      entry.output_tokens = this.usage.completionTokens;
    }
    if (this.ttftMs !== undefined) entry.ttft_ms = Math.round(this.ttftMs * 1000) / 1000;
    if (error) entry.error = error;
    sink(entry);
  }
}

/** What {@linkcode InferenceHandler.handle} needs besides the request. */
export interface InferenceCall {
  /** The request id (generated or the client's). */
  readonly requestId: string;
  /** The body text. */
  readonly bodyText: string;
  /** Fires when the client goes away. */
  readonly signal: AbortSignal;
  /** The listener takes push bodies: answers need no web stream. */
  readonly pushBodies?: boolean;
}

/** Shared state of the attempts of one request. */
interface Plan {
  readonly ex: Exchange;
  readonly view: ServerView;
  readonly pathAndQuery: string;
  readonly headers: HeaderPairs;
  readonly signal: AbortSignal;
  readonly timeouts: LegTimeouts;
  readonly request: SchedulingRequest;
}

function errorCategoryOf(failure: Failure): ErrorCategory {
  switch (failure.kind) {
    case "status":
      return "upstream_response";
    case "timeout":
      return "upstream_timeout";
    case "aborted":
      return "client_closed";
    case "connect":
      return "proxy";
  }
}

/**
 * Handles `/v1/*` inference requests.
 *
 * @example
 * ```ts ignore
 * import { InferenceHandler } from "./inference.ts";
 * const handler = new InferenceHandler(deps);
 * const res = await handler.handle(request, { requestId: "r1", bodyText: await request.text(), signal: request.signal });
 * ```
 */
export class InferenceHandler {
  readonly #deps: InferenceDeps;
  readonly #state: EndpointState;
  readonly #isAvailable: (serverKey: string) => boolean;

  /** @param deps Datastore, scheduler, counters, metrics, access log. */
  constructor(deps: InferenceDeps) {
    this.#deps = deps;
    const engineMetrics = deps.engineMetrics ?? (() => undefined);
    this.#state = { inFlight: (key) => deps.inFlight.get(key), engineMetrics };
    this.#isAvailable = (key) => (deps.datastore.server(key)?.endpoints.length ?? 0) > 0;
  }

  /** Handles one request; never throws for expected failures (they become error responses). */
  async handle(req: Request, call: InferenceCall): Promise<Response> {
    const url = new URL(req.url);
    const ex = new Exchange(
      call.requestId,
      req.method,
      url.pathname,
      this.#deps,
      this.#deps.metrics.requestStarted(),
    );
    try {
      return await this.#route(req, url, call, ex);
    } catch (e) {
      if (!(e instanceof RouterError)) {
        ex.finish(500, "internal", { type: "internal", message: String(e) });
        throw e;
      }
      ex.finish(e.status, e.category, { type: e.category, message: e.message });
      return e.toResponse({ "x-request-id": call.requestId });
    }
  }

  async #route(req: Request, url: URL, call: InferenceCall, ex: Exchange): Promise<Response> {
    const deps = this.#deps;
    const parsed = parseInferenceRequest(call.bodyText);
    validateInferenceRequest(url.pathname, parsed.body);
    ex.model = parsed.model;
    ex.stream = parsed.stream;
    const query: RouteQuery = {
      model: parsed.model,
      path: url.pathname,
      header: (name) => req.headers.get(name),
    };
    const match = matchRoute(deps.datastore, query, {
      isAvailable: this.#isAvailable,
      ...(deps.random ? { random: deps.random } : {}),
    });
    if (match.kind === "not_found") throw Errors.modelNotFound(parsed.model);
    ex.labelModel = parsed.model;
    ex.endDownstream = deps.metrics.downstreamStarted(parsed.model);
    ex.route = objectKey(match.route);
    if (deps.admission && deps.admission.length > 0) {
      const request: AdmissionRequest = {
        requestId: call.requestId,
        model: parsed.model,
        route: match.route,
        path: url.pathname,
        headers: req.headers,
        body: parsed.body,
        signal: call.signal,
      };
      const policies: AdmissionPolicy[] = [];
      ex.admitted = { policies, request };
      for (const policy of deps.admission) {
        const verdict = policy.admit(request);
        // Only an asynchronous policy costs an await (the scheduling below stays synchronous).
        const rejected = verdict instanceof Promise ? await verdict : verdict;
        if (call.signal.aborted) throw Errors.clientClosed();
        if (rejected) throw rejected;
        policies.push(policy);
      }
    }
    if (match.kind === "unavailable") throw Errors.noReadyEndpoint(match.reason);
    // Read after admission: a policy that waited may have seen the server go.
    const view = deps.datastore.server(match.serverKey);
    if (!view) throw Errors.noReadyEndpoint(`ModelServer ${match.serverKey} is gone`);
    ex.server = view.key;
    const upstreamModel = match.isLora ? parsed.model : (view.server.spec.model ?? parsed.model);
    ex.upstreamModel = upstreamModel;

    const base = withModel(parsed.body, upstreamModel);
    const usage = withStreamUsage(base, view.server.spec.inferenceEngine);
    const request: SchedulingRequest = {
      requestId: call.requestId,
      model: parsed.model,
      targetModel: upstreamModel,
      isLora: match.isLora,
      path: url.pathname,
      headers: req.headers,
      body: parsed.body,
      serverKey: view.key,
    };
    const plan: Plan = {
      ex,
      view,
      pathAndQuery: url.pathname + url.search,
      headers: forwardHeaders(req.headers, call.requestId),
      signal: call.signal,
      timeouts: this.#timeoutsOf(view.server),
      request,
    };
    let servedBy: () => Endpoint[];
    let outcome: RunOutcome;
    if (view.pd && PD_PATHS.has(url.pathname)) {
      const pd = this.#runPd(plan, base, usage.body);
      servedBy = pd.servedBy;
      outcome = await pd.outcome;
    } else {
      const bodyText = usage.body === parsed.body ? parsed.raw : JSON.stringify(usage.body);
      const agg = this.#runAggregated(plan, bodyText);
      servedBy = agg.servedBy;
      outcome = await agg.outcome;
    }

    if (!outcome.ok) return this.#failed(plan, outcome.failure, outcome.attempts, servedBy);
    const committed = outcome.committed;
    ex.attempts = committed.attempts;
    ex.upstreamStatus = committed.response.status;
    if (committed.stream) ex.ttftMs = committed.firstByteAt - ex.start;
    const status = committed.response.status;
    return relayResponse(committed, {
      requestId: call.requestId,
      stripUsage: usage.injected,
      clientSignal: call.signal,
      pushOnly: call.pushBodies === true,
      breakReason: () => committed.prefillFailure?.()?.message,
      onEnd: (end: RelayEnd) => {
        committed.endDecode(status);
        if (end.usage) ex.usage = end.usage;
        deps.scheduler.postResponse(request, {
          endpoints: servedBy(),
          ok: end.outcome === "ok",
        });
        if (end.outcome === "ok") ex.finish(status, "successful_request");
        else if (end.outcome === "client_closed") {
          // The client saw (part of) a 2xx answer, but what is recorded is that it left: nginx's
          // 499, as for a client gone before the answer.
          ex.finish(CLIENT_CLOSED, "client_closed", {
            type: "client_closed",
            message: "client closed the stream",
          });
        } else {
          ex.finish(status, "upstream_stream", {
            type: "upstream_stream",
            message: end.error ?? "engine stream failed",
          });
        }
      },
    });
  }

  #runAggregated(plan: Plan, bodyText: string): {
    outcome: Promise<RunOutcome>;
    servedBy: () => Endpoint[];
  } {
    const { view, ex } = plan;
    const deps = this.#deps;
    const implicit = retryPolicy(view.server, view.endpoints.length);
    const limit = implicit.explicit ? implicit.tries : DEFAULT_MAX_TRIES;
    const ranked = deps.scheduler.rank(
      { request: plan.request, state: this.#state, cycle: new Map() },
      view.endpoints,
      limit,
    );
    if (!ranked.ok) throw Errors.unschedulable(ranked.reason);
    const endpoints = ranked.endpoints;
    const policy = retryPolicy(view.server, endpoints.length);
    let current = endpoints[0]!;
    const tryEndpoint = async (index: number): Promise<AttemptResult> => {
      const endpoint = current = endpoints[index % endpoints.length]!;
      ex.pod = endpoint.name;
      const release = deps.inFlight.acquire(endpoint.key);
      const upstreamDone = deps.metrics.upstreamStarted(view.key, "engine");
      const end = () => {
        release();
        upstreamDone();
      };
      try {
        const res = await sendLeg({
          leg: "engine",
          client: deps.engineClient,
          endpoint,
          path: plan.pathAndQuery,
          headers: plan.headers,
          body: bodyText,
          signal: plan.signal,
          timeouts: plan.timeouts,
        });
        if (!res.ok) {
          const failure = await statusFailure(res, "engine", endpoint);
          end();
          return { ok: false, failure };
        }
        return {
          ok: true,
          response: res,
          leg: "engine",
          endpoint,
          endDecode: end,
          abort: () => {},
        };
      } catch (e) {
        end();
        if (e instanceof LegError) return { ok: false, failure: e.failure };
        throw e;
      }
    };
    return {
      outcome: runAttempts({
        policy,
        signal: plan.signal,
        run: tryEndpoint,
        onFailure: (f) => deps.metrics.countFailure(view.key, f.leg, f.kind),
      }),
      servedBy: () => [current],
    };
  }

  #runPd(plan: Plan, base: JsonObject, decodeBody: JsonObject): {
    outcome: Promise<RunOutcome>;
    servedBy: () => Endpoint[];
  } {
    const { view, ex } = plan;
    const deps = this.#deps;
    const connector = connectorFor(view.server);
    ex.connector = connector.type;
    const implicit = retryPolicy(view.server, DEFAULT_MAX_TRIES);
    const paired = deps.scheduler.pairs(
      plan.request,
      this.#state,
      view.pd!,
      implicit.explicit ? implicit.tries : DEFAULT_MAX_TRIES,
    );
    if (!paired.ok) throw Errors.unschedulable(paired.reason);
    const pairs = paired.pairs;
    const policy = retryPolicy(view.server, pairs.length);
    const legs: LegHooks = {
      start: (role, endpoint) => {
        const release = deps.inFlight.acquire(endpoint.key);
        const upstreamDone = deps.metrics.upstreamStarted(view.key, role);
        const t0 = performance.now();
        return (status) => {
          release();
          upstreamDone();
          deps.metrics.observeLeg(
            role,
            ex.labelModel,
            ex.path,
            status,
            (performance.now() - t0) / 1000,
          );
        };
      },
    };
    const prefill = prefillBody(base);
    let current = pairs[0]!;
    return {
      outcome: runAttempts({
        policy,
        signal: plan.signal,
        run: (index) => {
          const pair = current = pairs[index % pairs.length]!;
          ex.prefillPod = pair.prefill.name;
          ex.decodePod = pair.decode.name;
          return connector.run({
            pair,
            path: plan.pathAndQuery,
            headers: plan.headers,
            prefillBody: prefill,
            decodeBody,
            signal: plan.signal,
            client: deps.engineClient,
            timeouts: plan.timeouts,
            legs,
            // A decode that refuses or cannot be reached is replaced by another of the group
            // (the prefill's KV is waiting for one of them).
            decodeAlternates: pairs
              .filter((p) => p !== pair && p.decode.pdGroup === pair.decode.pdGroup)
              .map((p) => p.decode),
          });
        },
        onFailure: (f) => deps.metrics.countFailure(view.key, f.leg, f.kind),
      }),
      servedBy: () => [current.decode, current.prefill],
    };
  }

  #timeoutsOf(server: ServerView["server"]): LegTimeouts {
    try {
      return legTimeouts(server, this.#deps.timeouts);
    } catch (e) {
      // A ModelServer annotation that is not a duration: the operator's mistake, named.
      throw new RouterError(500, (e as Error).message, { category: "internal" });
    }
  }

  /** The answer when every attempt failed. */
  #failed(plan: Plan, failure: Failure, attempts: number, servedBy: () => Endpoint[]): Response {
    const { ex } = plan;
    ex.attempts = attempts;
    this.#deps.scheduler.postResponse(plan.request, { endpoints: servedBy(), ok: false });
    const category = errorCategoryOf(failure);
    const error = { type: category, message: failure.message };
    if (failure.kind === "status") {
      ex.upstreamStatus = failure.status!;
      ex.finish(failure.status!, category, error);
      return new Response(failure.body ?? "", {
        status: failure.status!,
        headers: {
          "content-type": failure.contentType ?? "application/json",
          "x-request-id": ex.requestId,
        },
      });
    }
    const detail = `${failure.leg} ${failure.message} (after ${attempts} attempt${
      attempts === 1 ? "" : "s"
    })`;
    const routerError = failure.kind === "timeout"
      ? Errors.upstreamTimeout(detail)
      : failure.kind === "aborted"
      ? new RouterError(CLIENT_CLOSED, "client closed the request", { category: "client_closed" })
      : Errors.upstreamUnavailable(detail);
    ex.finish(routerError.status, category, error);
    return routerError.toResponse({ "x-request-id": ex.requestId });
  }
}
