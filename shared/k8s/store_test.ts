import assert from "node:assert/strict";
import { Store } from "./store.ts";

interface Obj {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
}

const GROUP = "modelserving.volcano.sh/group-name";
const ROLE = "modelserving.volcano.sh/role";

function pod(name: string, labels: Record<string, string>, rv = "1", ns = "dev"): Obj {
  return { metadata: { name, namespace: ns, resourceVersion: rv, labels } };
}

/** Upstream's GroupName index: `{ns}/{group-name}`. */
const byGroup = (o: Obj) => {
  const g = o.metadata.labels?.[GROUP];
  return g ? [`${o.metadata.namespace}/${g}`] : [];
};
const names = (objs: Obj[]) => objs.map((o) => o.metadata.name).sort();

Deno.test("Store keys objects by namespace/name, or name when cluster-scoped", () => {
  const store = new Store<Obj>();
  store.upsert(pod("a", {}));
  store.upsert({ metadata: { name: "node-1" } });
  assert.deepEqual(store.keys().sort(), ["dev/a", "node-1"]);
  assert.equal(store.get("dev/a")?.metadata.name, "a");
  assert.equal(store.size, 2);
});

Deno.test("Store.byIndex finds objects by a secondary index and follows updates", () => {
  const store = new Store<Obj>({ group: byGroup });
  store.upsert(pod("p0", { [GROUP]: "qwen-0" }));
  store.upsert(pod("p1", { [GROUP]: "qwen-0" }));
  store.upsert(pod("p2", { [GROUP]: "qwen-1" }));
  store.upsert(pod("other", {}));
  store.upsert(pod("p0", { [GROUP]: "qwen-0" }, "1", "prod"));
  assert.deepEqual(names(store.byIndex("group", "dev/qwen-0")), ["p0", "p1"]);
  assert.deepEqual(names(store.byIndex("group", "dev/qwen-1")), ["p2"]);
  assert.deepEqual(names(store.byIndex("group", "prod/qwen-0")), ["p0"]);
  assert.deepEqual(store.byIndex("group", "dev/none"), []);

  // An update that changes the indexed label moves the object between index values.
  store.upsert(pod("p1", { [GROUP]: "qwen-1" }, "2"));
  assert.deepEqual(names(store.byIndex("group", "dev/qwen-0")), ["p0"]);
  assert.deepEqual(names(store.byIndex("group", "dev/qwen-1")), ["p1", "p2"]);
  // The index returns the current object, not the old one.
  assert.equal(
    store.byIndex("group", "dev/qwen-1").find((o) => o.metadata.name === "p1")?.metadata
      .resourceVersion,
    "2",
  );

  // A delete removes it; an empty value disappears from indexValues.
  store.delete("dev/p2");
  store.delete("dev/p1");
  assert.deepEqual(store.byIndex("group", "dev/qwen-1"), []);
  assert.deepEqual(store.indexValues("group").sort(), ["dev/qwen-0", "prod/qwen-0"]);
});

Deno.test("Store supports multi-valued indexes and indexes added later", () => {
  const store = new Store<Obj>();
  store.upsert(pod("a", { [GROUP]: "g", [ROLE]: "prefill" }));
  store.upsert(pod("b", { [GROUP]: "g", [ROLE]: "decode" }));
  // Each object filed under every label value it has (duplicates once).
  store.addIndexer("labelValues", (o) => Object.values(o.metadata.labels ?? {}).concat("g"));
  assert.deepEqual(names(store.byIndex("labelValues", "g")), ["a", "b"]);
  assert.deepEqual(names(store.byIndex("labelValues", "prefill")), ["a"]);
  assert.deepEqual(store.indexKeys("labelValues", "decode"), ["dev/b"]);
  assert.throws(() => store.addIndexer("labelValues", () => []), /already exists/);
  assert.throws(() => store.byIndex("nope", "x"), /no index/);
});

Deno.test("Store.replace reports adds, changed objects and tombstones", () => {
  const store = new Store<Obj>({ group: byGroup });
  store.upsert(pod("kept", { [GROUP]: "g" }, "1"));
  store.upsert(pod("changed", { [GROUP]: "g" }, "1"));
  store.upsert(pod("gone", { [GROUP]: "g" }, "1"));
  const diff = store.replace([
    pod("kept", { [GROUP]: "g" }, "1"),
    pod("changed", { [GROUP]: "h" }, "5"),
    pod("new", { [GROUP]: "g" }, "6"),
  ]);
  assert.deepEqual(names(diff.added), ["new"]);
  assert.deepEqual(
    diff.updated.map(([o, n]) => [o.metadata.resourceVersion, n.metadata.resourceVersion]),
    [[
      "1",
      "5",
    ]],
  );
  assert.deepEqual(names(diff.deleted), ["gone"]);
  assert.equal(diff.deleted[0]?.metadata.resourceVersion, "1", "the last known state");
  assert.deepEqual(store.keys().sort(), ["dev/changed", "dev/kept", "dev/new"]);
  assert.deepEqual(names(store.byIndex("group", "dev/g")), ["kept", "new"]);
  assert.deepEqual(names(store.byIndex("group", "dev/h")), ["changed"]);
});
