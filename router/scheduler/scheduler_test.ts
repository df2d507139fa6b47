import { deepEqual, equal } from "node:assert/strict";
import type { PdTopology } from "../datastore/datastore.ts";
import type { Endpoint } from "../datastore/endpoint.ts";
import { context, endpoint } from "../testing/scheduler.ts";
import { LeastRequest } from "./plugins/least_request.ts";
import { MaxScorePicker } from "./plugins/max_score_picker.ts";
import { RandomScorer } from "./plugins/random.ts";
import { Scheduler } from "./scheduler.ts";
import type { Filter, Scorer } from "./types.ts";

const picker = new MaxScorePicker("max-score", {}, () => 0);

function topology(...groups: [string, string[], string[]][]): PdTopology {
  const map = new Map<string, { group: string; prefill: Endpoint[]; decode: Endpoint[] }>();
  const decode: Endpoint[] = [];
  for (const [group, p, d] of groups) {
    const entry = {
      group,
      prefill: p.map((n) => endpoint(n, { role: "prefill", group })),
      decode: d.map((n) => endpoint(n, { role: "decode", group })),
    };
    map.set(group, entry);
    decode.push(...entry.decode);
  }
  return { groups: map, decode };
}

Deno.test("rank: filters in order, weighted scores, picker order", () => {
  const dropB: Filter = {
    type: "drop-b",
    name: "drop-b",
    filter: (_c, eps) => eps.filter((e) => e.name !== "b"),
  };
  const prefersA: Scorer = {
    type: "prefers-a",
    name: "prefers-a",
    score: (_c, eps) => eps.map((e) => (e.name === "a" ? 1 : 0)),
  };
  const cases: {
    name: string;
    filters: Filter[];
    scorers: { scorer: Scorer; weight: number }[];
    inFlight: Record<string, number>;
    want: string[];
  }[] = [
    {
      name: "least-request alone",
      filters: [],
      scorers: [{ scorer: new LeastRequest("least-request", {}), weight: 1 }],
      inFlight: { a: 3, b: 1, c: 2 },
      want: ["b", "c", "a"],
    },
    {
      name: "filter then score",
      filters: [dropB],
      scorers: [{ scorer: new LeastRequest("least-request", {}), weight: 1 }],
      inFlight: { a: 3, b: 1, c: 2 },
      want: ["c", "a"],
    },
    {
      name: "weights decide between scorers",
      filters: [],
      scorers: [
        { scorer: new LeastRequest("least-request", {}), weight: 1 },
        { scorer: prefersA, weight: 3 },
      ],
      inFlight: { a: 3, b: 1, c: 2 },
      want: ["a", "b", "c"],
    },
    {
      name: "weight 0 disables a scorer",
      filters: [],
      scorers: [{ scorer: prefersA, weight: 0 }, {
        scorer: new LeastRequest("least-request", {}),
        weight: 1,
      }],
      inFlight: { a: 3, b: 1, c: 2 },
      want: ["b", "c", "a"],
    },
    {
      name: "no scorer: every endpoint stays a candidate (score 0)",
      filters: [],
      scorers: [],
      inFlight: {},
      want: ["a", "b", "c"],
    },
  ];
  for (const c of cases) {
    const s = new Scheduler({ filters: c.filters, scorers: c.scorers, picker, postResponse: [] });
    const r = s.rank(context(c.inFlight), [endpoint("a"), endpoint("b"), endpoint("c")], 5);
    deepEqual(r.ok ? r.endpoints.map((e) => e.name) : r.reason, c.want, c.name);
  }
});

Deno.test("rank: a filter that removes everything names itself", () => {
  const none: Filter = { type: "none", name: "none", filter: () => [] };
  const s = new Scheduler({ filters: [none], scorers: [], picker, postResponse: [] });
  deepEqual(s.rank(context(), [endpoint("a")], 1), {
    ok: false,
    reason: 'pods have all been filtered out by "none"',
  });
  deepEqual(s.rank(context(), [], 1), { ok: false, reason: "no endpoints" });
});

Deno.test("pairs: best decode pods, each with the best prefill pod of its own group", () => {
  const s = new Scheduler({
    filters: [],
    scorers: [{ scorer: new LeastRequest("least-request", {}), weight: 1 }],
    picker,
    postResponse: [],
  });
  const cases: {
    name: string;
    topo: PdTopology;
    inFlight: Record<string, number>;
    limit: number;
    want: string[] | string;
  }[] = [
    {
      name: "two groups: pairs never cross groups",
      topo: topology(["g1", ["p1a", "p1b"], ["d1"]], ["g2", ["p2"], ["d2"]]),
      inFlight: { d1: 5, d2: 0, p1a: 2, p1b: 0, p2: 9 },
      limit: 5,
      want: ["d2+p2", "d1+p1b"],
    },
    {
      name: "limit keeps the best decode pods",
      topo: topology(["g1", ["p1"], ["d1"]], ["g2", ["p2"], ["d2"]]),
      inFlight: { d1: 0, d2: 1 },
      limit: 1,
      want: ["d1+p1"],
    },
    {
      name: "a group without prefill pods is skipped",
      topo: topology(["g1", [], ["d1"]], ["g2", ["p2"], ["d2"]]),
      inFlight: { d1: 0, d2: 1 },
      limit: 5,
      want: ["d2+p2"],
    },
    {
      name: "no decode pods",
      topo: topology(["g1", ["p1"], []]),
      inFlight: {},
      limit: 5,
      want: "no decode pod found",
    },
    {
      name: "no group has both roles",
      topo: topology(["g1", [], ["d1"]], ["g2", ["p2"], []]),
      inFlight: {},
      limit: 5,
      want:
        "no valid prefill-decode pod pairs found (no prefill pod in the decode pods' PD groups)",
    },
  ];
  for (const c of cases) {
    const ctx = context(c.inFlight);
    const r = s.pairs(ctx.request, ctx.state, c.topo, c.limit);
    const got = r.ok ? r.pairs.map((p) => `${p.decode.name}+${p.prefill.name}`) : r.reason;
    deepEqual(got, c.want, c.name);
    if (r.ok) { for (const p of r.pairs) equal(p.decode.pdGroup, p.prefill.pdGroup, c.name); }
  }
});

Deno.test("pairs: random scoring still never crosses groups", () => {
  const s = new Scheduler({
    filters: [],
    scorers: [{ scorer: new RandomScorer("random", {}), weight: 1 }],
    picker: new MaxScorePicker("max-score", {}),
    postResponse: [],
  });
  const topo = topology(["g1", ["p1a", "p1b"], ["d1a", "d1b"]], ["g2", ["p2a", "p2b"], ["d2a"]]);
  for (let i = 0; i < 200; i++) {
    const ctx = context();
    const r = s.pairs(ctx.request, ctx.state, topo, 5);
    equal(r.ok, true);
    if (r.ok) { for (const p of r.pairs) equal(p.decode.pdGroup, p.prefill.pdGroup); }
  }
});

Deno.test("plugin durations are observed per call", () => {
  const seen: string[] = [];
  const s = new Scheduler(
    {
      filters: [new LeastRequest("least-request", {})],
      scorers: [{ scorer: new LeastRequest("least-request", {}), weight: 1 }],
      picker,
      postResponse: [],
    },
    (_ctx, plugin, kind, seconds) => {
      equal(seconds >= 0, true);
      seen.push(`${plugin.name}/${kind}`);
    },
  );
  s.rank(context(), [endpoint("a")], 1);
  deepEqual(seen, ["least-request/filter", "least-request/score", "max-score/pick"]);
});
