/**
 * The seam for request admission: token rate limits (upstream's `ModelRoute.spec.rateLimit`),
 * quotas, fairness queues. A policy sees each request once its ModelRoute is known, before
 * scheduling, and may reject it with an error (429, …), at once or after waiting (the seam is
 * asynchronous: a Redis limiter or a fairness queue fits it); it hears how the request ended,
 * with the usage the engine reported (to debit output tokens). A synchronous answer costs no
 * extra turn of the event loop.
 *
 * Authentication is not admission: it is Hono middleware, given to the app as
 * `AppDeps.middleware` and run before the body is read.
 *
 * @module
 */
import type { ModelRoute } from "@kthena/shared/api";
import type { JsonObject } from "../proxy/bodies.ts";
import type { Usage } from "../proxy/relay.ts";
import type { RouterError } from "./errors.ts";

/** What an admission policy sees. */
export interface AdmissionRequest {
  readonly requestId: string;
  /** The model the client named. */
  readonly model: string;
  /** The matched route. */
  readonly route: ModelRoute;
  readonly path: string;
  readonly headers: Headers;
  /** The parsed body (read-only). */
  readonly body: Readonly<JsonObject>;
  /** Fires when the client goes away (a policy that waits should stop waiting). */
  readonly signal: AbortSignal;
}

/**
 * An admission policy.
 *
 * @example
 * ```ts
 * import type { AdmissionPolicy } from "./admission.ts";
 * import { RouterError } from "./errors.ts";
 * let left = 100;
 * const budget: AdmissionPolicy = {
 *   admit: () =>
 *     left > 0 ? undefined : new RouterError(429, "token budget exhausted", { category: "scheduling" }),
 *   settle: (_req, usage) => void (left -= usage?.completionTokens ?? 0),
 * };
 * ```
 */
export interface AdmissionPolicy {
  /**
   * Returns an error to reject the request, or nothing to let it through; may take its time (a
   * Redis limiter's round trip, a fairness queue's wait), in which case `request.signal` tells
   * whether the client is still there.
   */
  admit(
    request: AdmissionRequest,
  ): RouterError | undefined | Promise<RouterError | undefined>;
  /** Called once when an admitted request has ended (however it ended). */
  settle?(request: AdmissionRequest, usage: Usage | undefined): void;
}
