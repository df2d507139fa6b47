/**
 * The seam for request admission: token rate limits (upstream's `ModelRoute.spec.rateLimit`),
 * quotas, fairness queues. A policy sees each request once its ModelRoute is known, before
 * scheduling, and may reject it with an error (429, …); it hears how the request ended, with
 * the usage the engine reported (to debit output tokens).
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
  /** Returns an error to reject the request, or nothing to let it through. */
  admit(request: AdmissionRequest): RouterError | undefined;
  /** Called once when an admitted request has ended (however it ended). */
  settle?(request: AdmissionRequest, usage: Usage | undefined): void;
}
