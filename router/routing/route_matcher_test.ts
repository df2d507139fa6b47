import { deepEqual, equal } from "node:assert/strict";
import type { ModelRoute } from "@kthena/shared/api";
import { modelRoute } from "../testing/objects.ts";
import { matchRoute, type RouteQuery } from "./route_matcher.ts";

function index(routes: ModelRoute[]) {
  const sorted = [...routes].sort((a, b) =>
    String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp))
  );
  return {
    routesForModel: (m: string) => sorted.filter((r) => r.spec.modelName === m),
    routesForLora: (m: string) => sorted.filter((r) => r.spec.loraAdapters?.includes(m)),
  };
}

function query(
  model: string,
  headers: Record<string, string> = {},
  path = "/v1/chat/completions",
): RouteQuery {
  return { model, path, header: (n) => headers[n.toLowerCase()] ?? null };
}

const t = (n: number) => ({ creationTimestamp: `2026-01-0${n}T00:00:00Z` });

const premium = modelRoute("multi", {
  modelName: "deepseek",
  rules: [
    {
      name: "premium",
      modelMatch: { headers: { "user-type": { exact: "premium" } } },
      targetModels: [{ modelServerName: "big" }],
    },
    { name: "default", targetModels: [{ modelServerName: "small" }] },
  ],
}, t(1));

const byUri = modelRoute("uri", {
  modelName: "uri-model",
  rules: [
    {
      modelMatch: { uri: { prefix: "/v1/completions" } },
      targetModels: [{ modelServerName: "comp" }],
    },
    { modelMatch: { uri: { regex: "chat" } }, targetModels: [{ modelServerName: "chat" }] },
  ],
}, t(1));

const byBody = modelRoute("body", {
  modelName: "body-model",
  rules: [
    { modelMatch: { body: { model: "other" } }, targetModels: [{ modelServerName: "never" }] },
    { modelMatch: { body: { model: "body-model" } }, targetModels: [{ modelServerName: "yes" }] },
  ],
}, t(1));

const older = modelRoute("dup-old", {
  modelName: "dup",
  rules: [{ targetModels: [{ modelServerName: "old" }] }],
}, t(1));
const newer = modelRoute("dup-new", {
  modelName: "dup",
  rules: [{ targetModels: [{ modelServerName: "new" }] }],
}, t(2));
const oldNoMatch = modelRoute("ft-old", {
  modelName: "ft",
  rules: [{
    modelMatch: { headers: { x: { exact: "1" } } },
    targetModels: [{ modelServerName: "old" }],
  }],
}, t(1));
const newCatchAll = modelRoute("ft-new", {
  modelName: "ft",
  rules: [{ targetModels: [{ modelServerName: "new" }] }],
}, t(2));
const zeroWeight = modelRoute("zero", {
  modelName: "zw",
  rules: [{ targetModels: [{ modelServerName: "z", weight: 0 }] }],
}, t(1));
const zeroFallback = modelRoute("zero-next", {
  modelName: "zw",
  rules: [{ targetModels: [{ modelServerName: "ok" }] }],
}, t(2));
const lora = modelRoute("lora", {
  loraAdapters: ["lora-A", "lora-B"],
  rules: [{ targetModels: [{ modelServerName: "big" }] }],
}, t(1));
const nameAndLora = modelRoute("named", {
  modelName: "lora-A",
  rules: [{ targetModels: [{ modelServerName: "named" }] }],
}, t(3));
const gatewayBound = modelRoute("gw", {
  modelName: "gw-model",
  parentRefs: [{ name: "default", group: "gateway.networking.k8s.io", kind: "Gateway" }],
  rules: [{ targetModels: [{ modelServerName: "gw" }] }],
}, t(1));
const otherNs = modelRoute("ns", {
  modelName: "ns-model",
  rules: [{ targetModels: [{ modelServerName: "s" }] }],
}, {
  ...t(1),
  namespace: "team-a",
});

const all = [
  premium,
  byUri,
  byBody,
  older,
  newer,
  oldNoMatch,
  newCatchAll,
  zeroWeight,
  zeroFallback,
  lora,
  gatewayBound,
  otherNs,
];

Deno.test("matchRoute table: model names, rules, precedence, LoRA", () => {
  const cases: {
    name: string;
    routes?: ModelRoute[];
    q: RouteQuery;
    server?: string;
    lora?: boolean;
    rule?: number;
  }[] = [
    {
      name: "header exact match picks the premium rule",
      q: query("deepseek", { "user-type": "premium" }),
      server: "default/big",
      rule: 0,
    },
    {
      name: "other header value falls to the default rule",
      q: query("deepseek", { "user-type": "basic" }),
      server: "default/small",
      rule: 1,
    },
    {
      name: "absent header is the empty string",
      q: query("deepseek"),
      server: "default/small",
      rule: 1,
    },
    { name: "uri prefix", q: query("uri-model", {}, "/v1/completions"), server: "default/comp" },
    {
      name: "uri regex",
      q: query("uri-model", {}, "/v1/chat/completions"),
      server: "default/chat",
    },
    {
      name: "uri matches the path only",
      q: query("uri-model", {}, "/v1/embeddings"),
      server: undefined,
    },
    {
      name: "body.model compares with the request model",
      q: query("body-model"),
      server: "default/yes",
    },
    { name: "duplicate modelName: the oldest route wins", q: query("dup"), server: "default/old" },
    {
      name: "no matching rule falls through to the next route",
      q: query("ft"),
      server: "default/new",
    },
    {
      name: "matching rule in the oldest route",
      q: query("ft", { x: "1" }),
      server: "default/old",
    },
    { name: "total weight 0 skips the route", q: query("zw"), server: "default/ok" },
    {
      name: "LoRA adapter when no modelName matches",
      q: query("lora-B"),
      server: "default/big",
      lora: true,
    },
    {
      name: "modelName beats LoRA",
      routes: [...all, nameAndLora],
      q: query("lora-A"),
      server: "default/named",
      lora: false,
    },
    {
      name: "routes with parentRefs never match outside Gateway mode",
      q: query("gw-model"),
      server: undefined,
    },
    { name: "targets resolve in the route's namespace", q: query("ns-model"), server: "team-a/s" },
    { name: "unknown model", q: query("nope"), server: undefined },
  ];
  for (const c of cases) {
    const r = matchRoute(index(c.routes ?? all), c.q, { random: () => 0 });
    if (c.server === undefined) {
      equal(r.kind, "not_found", c.name);
      continue;
    }
    equal(r.kind, "matched", c.name);
    if (r.kind !== "matched") continue;
    equal(r.serverKey, c.server, c.name);
    if (c.lora !== undefined) equal(r.isLora, c.lora, c.name);
    if (c.rule !== undefined) equal(r.ruleIndex, c.rule, c.name);
  }
});

Deno.test("matchRoute: weights pick among targets; unavailable targets get no share", () => {
  const canary = modelRoute("canary", {
    modelName: "c",
    rules: [{
      targetModels: [{ modelServerName: "v1", weight: 70 }, { modelServerName: "v2", weight: 30 }],
    }],
  });
  const idx = index([canary]);
  const cases: [number, string[], string | undefined][] = [
    [0.1, ["default/v1", "default/v2"], "default/v1"],
    [0.75, ["default/v1", "default/v2"], "default/v2"],
    [0.75, ["default/v1"], "default/v1"],
    [0.1, ["default/v2"], "default/v2"],
    [0.1, [], undefined],
  ];
  for (const [draw, available, want] of cases) {
    const r = matchRoute(idx, query("c"), {
      random: () => draw,
      isAvailable: (k) => available.includes(k),
    });
    if (want === undefined) {
      equal(r.kind, "unavailable");
      continue;
    }
    deepEqual(r.kind === "matched" ? r.serverKey : r.kind, want, `${draw} ${available}`);
  }
});

Deno.test("matchRoute: 70/30 weights over 1000 requests", () => {
  const canary = modelRoute("canary", {
    modelName: "c",
    rules: [{
      targetModels: [{ modelServerName: "v1", weight: 70 }, { modelServerName: "v2", weight: 30 }],
    }],
  });
  let v1 = 0;
  for (let i = 0; i < 1000; i++) {
    const r = matchRoute(index([canary]), query("c"));
    if (r.kind === "matched" && r.serverKey === "default/v1") v1++;
  }
  equal(v1 > 620 && v1 < 780, true, `v1 got ${v1}/1000`);
});
