import { deepEqual, equal, ok } from "node:assert/strict";
import { deleteEvent, type DiscoveryEvent, upsertEvent } from "../discovery/source.ts";
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

/** What a table row expects after its batches (only the parts it names are compared). */
interface Expected {
  /** Route names per model or LoRA name (`routesForModel`, else `routesForLora`). */
  routes?: Record<string, string[]>;
  /** Endpoint names per ModelServer key; `null`: the server is unknown. */
  endpoints?: Record<string, string[] | null>;
  /** Pod keys present (`pod(key)`), and absent. */
  pods?: { present?: string[]; absent?: string[] };
  /** The last change handed to listeners, as sorted arrays. */
  change?: { routes?: string[]; servers?: string[]; pods?: string[]; podsGone?: string[] };
  /** Batches that changed something (listener calls = generation). */
  generation: number;
  synced?: string[];
}

Deno.test("event API: the datastore applies upserts, deletes and sync markers from sources", async (t) => {
  const chat = modelRoute("chat", {
    modelName: "chat",
    loraAdapters: ["chat-lora"],
    rules: [{ targetModels: [{ modelServerName: "engines" }] }],
  });
  const engines = modelServer("engines", { workloadSelector: { matchLabels: { app: "chat" } } });
  const ready = pod("e-0", { labels: { app: "chat" } });
  const unready = pod("e-0", { labels: { app: "chat" }, ready: false });
  const other = pod("e-1", { labels: { app: "other" } });

  const table: {
    name: string;
    batches: DiscoveryEvent[][];
    synced?: string[];
    expect: Expected;
  }[] = [
    {
      name: "an empty batch changes nothing and notifies nobody",
      batches: [[]],
      expect: { generation: 0, routes: { chat: [] } },
    },
    {
      name: "a route is indexed by model and LoRA name",
      batches: [[upsertEvent("ModelRoute", chat)]],
      expect: {
        generation: 1,
        routes: { chat: ["chat"], "chat-lora": ["chat"] },
        change: { routes: ["default/chat"], servers: [], pods: [], podsGone: [] },
      },
    },
    {
      name: "a route deleted in a later batch leaves both indexes",
      batches: [[upsertEvent("ModelRoute", chat)], [deleteEvent("ModelRoute", "default/chat")]],
      expect: { generation: 2, routes: { chat: [], "chat-lora": [] } },
    },
    {
      name: "upsert then delete in one batch nets out, and the change still names it",
      batches: [[upsertEvent("ModelRoute", chat), deleteEvent("ModelRoute", chat)]],
      expect: { generation: 1, routes: { chat: [] }, change: { routes: ["default/chat"] } },
    },
    {
      name: "a server selects ready matching pods, whatever the order in the batch",
      batches: [[
        upsertEvent("Pod", ready),
        upsertEvent("Pod", other),
        upsertEvent("ModelServer", engines),
      ]],
      expect: {
        generation: 1,
        endpoints: { "default/engines": ["e-0"] },
        pods: { present: ["default/e-0", "default/e-1"] },
        change: {
          servers: ["default/engines"],
          pods: ["default/e-0", "default/e-1"],
          podsGone: [],
        },
      },
    },
    {
      name: "a pod that stops being ready leaves the endpoints and is reported gone",
      batches: [
        [upsertEvent("ModelServer", engines), upsertEvent("Pod", ready)],
        [upsertEvent("Pod", unready)],
      ],
      expect: {
        generation: 2,
        endpoints: { "default/engines": [] },
        pods: { present: ["default/e-0"] },
        change: { servers: [], pods: ["default/e-0"], podsGone: ["default/e-0"] },
      },
    },
    {
      name: "a deleted pod is gone; deleting by object keys it like the upsert",
      batches: [
        [upsertEvent("ModelServer", engines), upsertEvent("Pod", ready)],
        [deleteEvent("Pod", { metadata: { name: "e-0" } })],
      ],
      expect: {
        generation: 2,
        endpoints: { "default/engines": [] },
        pods: { absent: ["default/e-0"] },
        change: { pods: ["default/e-0"], podsGone: ["default/e-0"] },
      },
    },
    {
      name: "a pod that was never ready is not reported gone",
      batches: [[upsertEvent("Pod", unready)], [deleteEvent("Pod", unready)]],
      expect: { generation: 2, change: { pods: ["default/e-0"], podsGone: [] } },
    },
    {
      name: "a deleted server is unknown, its pods stay",
      batches: [
        [upsertEvent("ModelServer", engines), upsertEvent("Pod", ready)],
        [deleteEvent("ModelServer", engines)],
      ],
      expect: {
        generation: 2,
        endpoints: { "default/engines": null },
        pods: { present: ["default/e-0"] },
        change: { servers: ["default/engines"], pods: [] },
      },
    },
    {
      name: "deleting what was never there is harmless (a source's tombstone after a restart)",
      batches: [[deleteEvent("Pod", "default/nobody"), deleteEvent("ModelRoute", "x/y")]],
      expect: { generation: 1, pods: { absent: ["default/nobody"] }, routes: { chat: [] } },
    },
    {
      name: "sync markers are per source",
      batches: [],
      synced: ["files"],
      expect: { generation: 0, synced: ["files"] },
    },
  ];

  const sorted = (set: ReadonlySet<string> | undefined) => [...(set ?? [])].sort();
  for (const row of table) {
    await t.step(row.name, () => {
      const store = new Datastore();
      let last: DatastoreChange | undefined;
      let calls = 0;
      store.onChange((c) => {
        last = c;
        calls++;
      });
      for (const batch of row.batches) store.apply(batch);
      for (const source of row.synced ?? []) store.markSynced(source);
      const e = row.expect;
      equal(store.generation, e.generation, "generation");
      equal(calls, e.generation, "listener calls");
      for (const [name, want] of Object.entries(e.routes ?? {})) {
        const found = store.routesForModel(name).length > 0
          ? store.routesForModel(name)
          : store.routesForLora(name);
        deepEqual(found.map((r) => r.metadata.name), want, `routes of ${name}`);
      }
      for (const [key, want] of Object.entries(e.endpoints ?? {})) {
        const view = store.server(key);
        deepEqual(view ? names(view.endpoints) : null, want, `endpoints of ${key}`);
      }
      for (const key of e.pods?.present ?? []) ok(store.pod(key), `pod ${key} present`);
      for (const key of e.pods?.absent ?? []) equal(store.pod(key), undefined, `pod ${key} absent`);
      for (const [part, want] of Object.entries(e.change ?? {})) {
        deepEqual(sorted(last?.[part as keyof DatastoreChange]), want, `change.${part}`);
      }
      for (const source of e.synced ?? []) ok(store.hasSynced(source), `${source} synced`);
      equal(store.hasSynced("kubernetes"), false);
    });
  }
});
