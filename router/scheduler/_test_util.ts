/**
 * Helpers for the scheduler's tests: endpoints and a scheduling context over fixed state.
 *
 * @module
 */
import { type Endpoint, makeEndpoint, type PdRole } from "../datastore/endpoint.ts";
import { pod } from "../testing/objects.ts";
import type { EngineMetrics, SchedulingContext } from "./types.ts";

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
