/**
 * Helpers for the scheduler's and the proxy's tests: endpoints and a scheduling context over
 * fixed state. (In testing/ with the other test helpers, where tests/layering_test.ts keeps product
 * modules from importing it.)
 *
 * @module
 */
import { type Endpoint, makeEndpoint, type PdRole } from "../datastore/endpoint.ts";
import { pod } from "./objects.ts";
import type { EngineMetrics, SchedulingContext } from "../scheduler/types.ts";

/** An endpoint named `name` (optionally with a PD role and group). */
export function endpoint(name: string, pd?: { role: PdRole; group: string }): Endpoint {
  return makeEndpoint(pod(name), 8000, pd);
}

/** A context whose in-flight counts and engine metrics come from the given tables. */
export function context(
  inFlight: Record<string, number> = {},
  metrics: Record<string, EngineMetrics> = {},
): SchedulingContext {
  return {
    request: {
      requestId: "r",
      model: "m",
      targetModel: "m",
      isLora: false,
      path: "/v1/completions",
      headers: new Headers(),
      body: {},
      serverKey: "default/s",
    },
    state: {
      inFlight: (key) => inFlight[key.slice(key.indexOf("/") + 1)] ?? 0,
      engineMetrics: (key) => metrics[key.slice(key.indexOf("/") + 1)],
    },
    cycle: new Map(),
  };
}
