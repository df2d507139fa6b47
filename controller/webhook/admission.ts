/**
 * The admission webhook's HTTP surface: `AdmissionReview` (admission.k8s.io/v1) in and out.
 *
 * Paths are upstream's, so a webhook configuration written for upstream works:
 * `POST /validate-workload-ai-v1alpha1-modelserving`, and `GET /healthz`.
 *
 * @module
 */
import { Hono } from "hono";
import { validateModelServing } from "./validate_model_serving.ts";

/** A validator: the problems of an object, one `field: message` line each. */
export type Validator = (object: unknown) => string[];

/** Upstream's webhook paths and the validators behind them. */
export const VALIDATORS: Record<string, Validator> = {
  "/validate-workload-ai-v1alpha1-modelserving": validateModelServing,
};

interface AdmissionRequest {
  uid?: string;
  operation?: string;
  object?: unknown;
}

/**
 * The webhook as a Hono app (serve it over TLS; the API server only calls HTTPS webhooks).
 *
 * @example
 * ```ts
 * import { admissionApp } from "./admission.ts";
 * const res = await admissionApp().request("/healthz");
 * ```
 */
export function admissionApp(validators: Record<string, Validator> = VALIDATORS): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok"));
  for (const [path, validate] of Object.entries(validators)) {
    app.post(path, async (c) => {
      // Upstream rejects anything but JSON with 400; the API server always sends JSON.
      if (!(c.req.header("content-type") ?? "").startsWith("application/json")) {
        return c.text("expected Content-Type application/json", 400);
      }
      let review: { apiVersion?: string; request?: AdmissionRequest };
      try {
        review = await c.req.json();
      } catch {
        return c.text("the body is not an AdmissionReview", 400);
      }
      const request = review.request;
      if (!request?.uid) return c.text("the AdmissionReview has no request.uid", 400);
      const problems = request.operation === "DELETE" ? [] : validate(request.object);
      return c.json({
        apiVersion: review.apiVersion ?? "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: problems.length === 0 ? { uid: request.uid, allowed: true } : {
          uid: request.uid,
          allowed: false,
          status: {
            code: 422,
            reason: "Invalid",
            message: `validation failed:\n  - ${problems.join("\n  - ")}`,
          },
        },
      });
    });
  }
  return app;
}
