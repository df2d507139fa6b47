import { deepEqual, throws } from "node:assert/strict";
import type { EngineMetrics } from "../types.ts";
import { context, endpoint } from "../../testing/scheduler.ts";
import { LeastRequest } from "./least_request.ts";

Deno.test("least-request score table", () => {
  const cases: {
    name: string;
    inFlight: Record<string, number>;
    metrics?: Record<string, EngineMetrics>;
    want: number[];
  }[] = [
    { name: "all idle: all 1", inFlight: {}, want: [1, 1, 1] },
    { name: "fewer in flight scores higher", inFlight: { a: 4, b: 2, c: 0 }, want: [0, 0.5, 1] },
    { name: "equal load: all 0", inFlight: { a: 3, b: 3, c: 3 }, want: [0, 0, 0] },
    {
      name: "queued beyond running weighs 100×",
      inFlight: { a: 2, b: 2, c: 1 },
      metrics: { a: { running: 2 }, b: { running: 1 }, c: { running: 1 } },
      // base: a = 2, b = 2 + 100 = 102, c = 1
      want: [100 / 102, 0, 101 / 102],
    },
  ];
  const eps = [endpoint("a"), endpoint("b"), endpoint("c")];
  const plugin = new LeastRequest("least-request", {});
  for (const c of cases) {
    deepEqual(plugin.score(context(c.inFlight, c.metrics), eps), c.want, c.name);
  }
});

Deno.test("least-request filter table: waiting below maxWaitingRequests, unknown kept", () => {
  const eps = [endpoint("a"), endpoint("b"), endpoint("c")];
  const cases: { args: unknown; metrics: Record<string, EngineMetrics>; want: string[] }[] = [
    { args: {}, metrics: {}, want: ["a", "b", "c"] },
    { args: {}, metrics: { a: { waiting: 10 }, b: { waiting: 9 } }, want: ["b", "c"] },
    {
      args: { maxWaitingRequests: 1 },
      metrics: { a: { waiting: 1 }, b: { waiting: 0 } },
      want: ["b", "c"],
    },
    {
      args: { maxWaitingRequests: 0 },
      metrics: { a: { waiting: 9 }, b: { waiting: 10 } },
      want: ["a", "c"],
    },
    {
      args: undefined,
      metrics: { a: { waiting: 11 }, b: { waiting: 11 }, c: { waiting: 11 } },
      want: [],
    },
  ];
  for (const c of cases) {
    const kept = new LeastRequest("least-request", c.args).filter(context({}, c.metrics), eps);
    deepEqual(kept.map((e) => e.name), c.want, JSON.stringify(c));
  }
});

Deno.test("least-request rejects invalid arguments", () => {
  throws(() => new LeastRequest("least-request", { maxWaitingRequests: -1 }));
  throws(() => new LeastRequest("least-request", { maxWaitingRequests: "ten" }));
});
