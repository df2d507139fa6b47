import { deepEqual, equal } from "node:assert/strict";
import { modelRoute, modelServer, pod } from "../testing/objects.ts";
import type { DatastoreChange } from "./datastore.ts";
import { Datastore } from "./datastore.ts";
import { isPodReady } from "./pod.ts";

const pdServer = modelServer("pd", {
  workloadSelector: {
    matchLabels: { app: "pd" },
    pdGroup: {
      groupKey: "group",
      prefillLabels: { role: "prefill" },
      decodeLabels: { role: "decode" },
    },
  },
});

function names(list: readonly { name: string }[] | undefined): string[] {
  return (list ?? []).map((e) => e.name).sort();
}

Deno.test("PD grouping: pods split by group label and role labels", () => {
  const store = new Datastore();
  store.apply([
    { type: "upsert", kind: "ModelServer", object: pdServer },
    ...[
      pod("p-a", { labels: { app: "pd", group: "a", role: "prefill" } }),
      pod("d-a", { labels: { app: "pd", group: "a", role: "decode" } }),
      pod("p-b", { labels: { app: "pd", group: "b", role: "prefill" } }),
      pod("d-b1", { labels: { app: "pd", group: "b", role: "decode" } }),
      pod("d-b2", { labels: { app: "pd", group: "b", role: "decode" } }),
      // both role labels: decode is checked first (upstream)
      pod("both", { labels: { app: "pd", group: "c", role: "decode" } }),
      // no group label: an endpoint without a role
      pod("nogroup", { labels: { app: "pd", role: "decode" } }),
      // no role label
      pod("norole", { labels: { app: "pd", group: "a" } }),
      // other app
      pod("other", { labels: { app: "x", group: "a", role: "decode" } }),
      // not ready
      pod("unready", { labels: { app: "pd", group: "a", role: "prefill" }, ready: false }),
      // no IP
      pod("noip", { labels: { app: "pd", group: "a", role: "prefill" }, ip: "" }),
      // another namespace
      pod("elsewhere", { labels: { app: "pd", group: "a", role: "prefill" }, namespace: "other" }),
    ].map((object) => ({ type: "upsert" as const, kind: "Pod" as const, object })),
  ]);
  const view = store.server("default/pd")!;
  deepEqual(names(view.endpoints), [
    "both",
    "d-a",
    "d-b1",
    "d-b2",
    "nogroup",
    "norole",
    "p-a",
    "p-b",
  ]);
  const table: [string, string[], string[]][] = [
    ["a", ["p-a"], ["d-a"]],
    ["b", ["p-b"], ["d-b1", "d-b2"]],
    ["c", [], ["both"]],
  ];
  for (const [group, prefill, decode] of table) {
    const g = view.pd!.groups.get(group);
    deepEqual(names(g?.prefill), prefill, `group ${group} prefill`);
    deepEqual(names(g?.decode), decode, `group ${group} decode`);
  }
  deepEqual(names(view.pd!.decode), ["both", "d-a", "d-b1", "d-b2"]);
  equal(view.pd!.groups.size, 3);
});

Deno.test("pods move between groups, lose readiness, and follow selector changes", () => {
  const store = new Datastore();
  const changes: DatastoreChange[] = [];
  store.onChange((c) => changes.push(c));
  store.apply([
    { type: "upsert", kind: "ModelServer", object: pdServer },
    {
      type: "upsert",
      kind: "Pod",
      object: pod("d", { labels: { app: "pd", group: "a", role: "decode" } }),
    },
  ]);
  equal(store.server("default/pd")!.pd!.groups.get("a")!.decode.length, 1);

  store.apply([{
    type: "upsert",
    kind: "Pod",
    object: pod("d", { labels: { app: "pd", group: "b", role: "decode" } }),
  }]);
  equal(store.server("default/pd")!.pd!.groups.has("a"), false, "no stale group entry");
  equal(store.server("default/pd")!.pd!.groups.get("b")!.decode.length, 1);

  store.apply([{
    type: "upsert",
    kind: "Pod",
    object: pod("d", { labels: { app: "pd", group: "b", role: "decode" }, ready: false }),
  }]);
  equal(store.server("default/pd")!.endpoints.length, 0);
  deepEqual([...changes.at(-1)!.podsGone], ["default/d"]);

  store.apply([{
    type: "upsert",
    kind: "Pod",
    object: pod("d", { labels: { app: "pd", group: "b", role: "decode" } }),
  }]);
  equal(store.server("default/pd")!.endpoints.length, 1);
  // A selector that matches nothing empties the server (upstream keeps the old pods).
  store.apply([{
    type: "upsert",
    kind: "ModelServer",
    object: modelServer("pd", { workloadSelector: { matchLabels: { app: "none" } } }),
  }]);
  equal(store.server("default/pd")!.endpoints.length, 0);
  equal(store.server("default/pd")!.pd, undefined);

  store.apply([{ type: "delete", kind: "ModelServer", key: "default/pd" }]);
  equal(store.server("default/pd"), undefined);
  store.apply([{ type: "delete", kind: "Pod", key: "default/d" }]);
  deepEqual([...changes.at(-1)!.pods], ["default/d"]);
});

Deno.test("workload port comes from the ModelServer, or the pod annotation", () => {
  const store = new Datastore();
  store.apply([
    {
      type: "upsert",
      kind: "ModelServer",
      object: modelServer("s", {
        workloadSelector: { matchLabels: { app: "s" } },
        workloadPort: { port: 9000 },
      }),
    },
    { type: "upsert", kind: "Pod", object: pod("a", { labels: { app: "s" }, ip: "10.0.0.1" }) },
    {
      type: "upsert",
      kind: "Pod",
      object: pod("b", {
        labels: { app: "s" },
        annotations: { "router.kthena.io/workload-port": "9100" },
      }),
    },
    { type: "upsert", kind: "Pod", object: pod("c", { labels: { app: "s" }, ip: "fd00::1" }) },
  ]);
  deepEqual(store.server("default/s")!.endpoints.map((e) => e.baseUrl), [
    "http://10.0.0.1:9000",
    "http://127.0.0.1:9100",
    "http://[fd00::1]:9000",
  ]);
});

Deno.test("routes are indexed by model and LoRA, oldest first, then resourceVersion, then name", () => {
  const store = new Datastore();
  const r = (
    name: string,
    meta: Record<string, unknown>,
    spec: { modelName?: string; loraAdapters?: string[] },
  ) => modelRoute(name, { ...spec, rules: [{ targetModels: [{ modelServerName: "s" }] }] }, meta);
  store.apply([
    {
      type: "upsert",
      kind: "ModelRoute",
      object: r("c", { creationTimestamp: "2026-01-02T00:00:00Z" }, { modelName: "m" }),
    },
    {
      type: "upsert",
      kind: "ModelRoute",
      object: r("b", { creationTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "9" }, {
        modelName: "m",
      }),
    },
    {
      type: "upsert",
      kind: "ModelRoute",
      object: r("a", { creationTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "9" }, {
        modelName: "m",
      }),
    },
    {
      type: "upsert",
      kind: "ModelRoute",
      object: r("z", { creationTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "10" }, {
        modelName: "m",
      }),
    },
    { type: "upsert", kind: "ModelRoute", object: r("l", {}, { loraAdapters: ["x", "m"] }) },
  ]);
  // resourceVersion compares as text ("10" < "9"), as upstream.
  deepEqual(store.routesForModel("m").map((x) => x.metadata.name), ["z", "a", "b", "c"]);
  deepEqual(store.routesForLora("x").map((x) => x.metadata.name), ["l"]);
  deepEqual(store.modelNames(), ["m", "x"]);
  store.apply([{ type: "delete", kind: "ModelRoute", key: "default/z" }]);
  deepEqual(store.routesForModel("m").map((x) => x.metadata.name), ["a", "b", "c"]);
});

Deno.test("isPodReady: Running, Ready=True, an IP, not deleting", () => {
  const cases: [string, Parameters<typeof isPodReady>[0], boolean][] = [
    ["ready", pod("p"), true],
    ["not ready", pod("p", { ready: false }), false],
    ["pending", pod("p", { phase: "Pending" }), false],
    ["no ip", pod("p", { ip: "" }), false],
    ["deleting", {
      ...pod("p"),
      metadata: { name: "p", deletionTimestamp: "2026-01-01T00:00:00Z" },
    }, false],
    ["no status", { metadata: { name: "p" } }, false],
  ];
  for (const [name, p, want] of cases) equal(isPodReady(p), want, name);
});
