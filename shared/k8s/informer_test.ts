import assert from "node:assert/strict";
import { FakeApiServer, type Thing, THINGS } from "./_fake_api_server.ts";
import { waitUntil } from "./_wait.ts";
import { ResourceValidationError } from "../api/mod.ts";
import { createLogger, type LogFields, type LogLevel } from "../log.ts";
import { type DeleteInfo, Informer, type InformerOptions } from "./informer.ts";
import { KubeTransport } from "./transport.ts";

type Ev =
  | ["add", string, number | undefined]
  | ["update", string, number | undefined]
  | ["delete", string, boolean];

function setup(opts: InformerOptions<Thing> = {}) {
  const server = new FakeApiServer();
  const transport = new KubeTransport(server.kubeConfig());
  const informer = new Informer(transport, THINGS, { namespace: "dev", ...opts });
  const events: Ev[] = [];
  informer.addHandler({
    onAdd: (o) => events.push(["add", o.metadata.name, o.spec?.value]),
    onUpdate: (_o, n) => events.push(["update", n.metadata.name, n.spec?.value]),
    onDelete: (o, info: DeleteInfo) =>
      events.push(["delete", o.metadata.name, info.finalStateUnknown]),
  });
  const cleanup = async () => {
    await informer.stop();
    transport.close();
    await server.close();
  };
  return { server, informer, events, cleanup, [Symbol.asyncDispose]: cleanup };
}

Deno.test("Informer lists in pages, syncs, then applies watch events in order", async () => {
  await using t = setup({ pageSize: 2 });
  for (let i = 0; i < 5; i++) t.server.put(`t${i}`, i);
  t.informer.start();
  await t.informer.waitForSync(10_000);
  assert.equal(t.informer.hasSynced(), true);
  assert.equal(t.informer.store.size, 5);
  const lists = t.server.requests.filter((r) => !r.watch);
  assert.deepEqual(lists.map((r) => r.continue), ["", "2", "4"], "three pages of two");
  assert.deepEqual(t.events.map((e) => e[1]), ["t0", "t1", "t2", "t3", "t4"]);

  await waitUntil(() => t.server.watchers === 1, "the watch");
  t.events.length = 0;
  t.server.put("t5", 5);
  t.server.put("t0", 10);
  t.server.remove("t1");
  await waitUntil(() => t.events.length === 3, "three events");
  assert.deepEqual(t.events, [["add", "t5", 5], ["update", "t0", 10], ["delete", "t1", false]]);
  assert.equal(t.informer.store.get("dev/t0")?.spec?.value, 10);
  assert.equal(t.informer.store.has("dev/t1"), false);
  // 5 creates (101–105), then 106, 107, 108: the watch resumes after the last event.
  assert.equal(t.informer.lastResourceVersion(), "108");
});

Deno.test("Informer re-watches from the last resourceVersion when the server closes the watch", async () => {
  await using t = setup();
  t.server.put("a", 1);
  t.informer.start();
  await t.informer.waitForSync();
  await waitUntil(() => t.server.watchers === 1, "the watch");
  const b = t.server.put("b", 2);
  await waitUntil(() => t.informer.store.has("dev/b"), "b");
  t.server.closeWatches();
  await waitUntil(() => t.informer.stats.watches === 2 && t.server.watchers === 1, "a new watch");
  const watches = t.server.requests.filter((r) => r.watch);
  assert.equal(watches[1]?.resourceVersion, b.metadata.resourceVersion, "resumes after b");
  assert.equal(t.informer.stats.lists, 1, "no relist");
  t.server.put("c", 3);
  await waitUntil(() => t.informer.store.has("dev/c"), "c after the re-watch");
  assert.deepEqual(t.events.map((e) => e[1]), ["a", "b", "c"], "nothing replayed twice");
});

Deno.test("Informer relists on 410 and reports missed changes, deletes as tombstones", async () => {
  await using t = setup();
  t.server.put("kept", 1);
  t.server.put("changed", 1);
  t.server.put("gone", 1);
  t.informer.start();
  await t.informer.waitForSync();
  await waitUntil(() => t.server.watchers === 1, "the watch");
  t.events.length = 0;
  // Changes the watch never delivers, then the history is compacted and the watch expires.
  t.server.put("changed", 2, { silent: true });
  t.server.remove("gone", { silent: true });
  t.server.put("new", 3, { silent: true });
  t.server.compact();
  t.server.expireWatches();
  await waitUntil(() => t.informer.stats.lists === 2, "the relist");
  assert.equal(t.informer.stats.expired, 1);
  assert.deepEqual(
    t.events.sort((a, b) => a[1].localeCompare(b[1])),
    [["update", "changed", 2], ["delete", "gone", true], ["add", "new", 3]],
  );
  assert.deepEqual(t.informer.store.keys().sort(), ["dev/changed", "dev/kept", "dev/new"]);
  // And it watches again from the new list.
  await waitUntil(() => t.server.watchers === 1, "a new watch");
  t.server.put("after", 4);
  await waitUntil(() => t.informer.store.has("dev/after"), "events after the relist");
});

Deno.test("Informer relists when a re-watch from a compacted resourceVersion gets 410", async () => {
  await using t = setup();
  t.server.put("a", 1);
  t.informer.start();
  await t.informer.waitForSync();
  await waitUntil(() => t.server.watchers === 1, "the watch");
  t.server.compact();
  t.informer.restartWatch("1");
  await waitUntil(() => t.informer.stats.lists === 2, "the relist");
  assert.equal(t.informer.stats.expired, 1);
  assert.equal(t.server.requests.filter((r) => r.watch).at(1)?.resourceVersion, "1");
});

Deno.test("Informer reconnects a silent watch after its idle timeout", async () => {
  await using t = setup({ idleTimeoutMs: 300 });
  t.server.put("a", 1);
  t.informer.start();
  await t.informer.waitForSync();
  await waitUntil(
    () => t.informer.stats.idleTimeouts >= 2 && t.informer.stats.watches >= 3,
    "two idle timeouts and a third watch",
    15_000,
  );
  assert.equal(t.informer.stats.lists, 1, "an idle watch resumes, it does not relist");
  await waitUntil(() => t.server.watchers === 1, "a live watch");
  t.server.put("b", 2);
  await waitUntil(() => t.informer.store.has("dev/b"), "an event after the reconnects");
});

Deno.test("Informer bookmarks keep an idle watch alive and advance the resourceVersion", async () => {
  await using t = setup({ idleTimeoutMs: 2_000 });
  t.informer.start();
  await t.informer.waitForSync();
  await waitUntil(() => t.server.watchers === 1, "the watch");
  t.server.put("x", 1, { ns: "elsewhere" }); // advances the server's resourceVersion only
  // 3 s of bookmarks every 300 ms: longer than the idle timeout, never silent for it.
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    t.server.bookmark();
  }
  assert.equal(t.informer.stats.idleTimeouts, 0);
  assert.equal(t.informer.stats.watches, 1);
  assert.ok(t.informer.stats.bookmarks >= 9);
  assert.equal(t.informer.lastResourceVersion(), "101");
  assert.ok(t.informer.lastEventAgeMs() < 2_000);
});

Deno.test("Informer backs off after errors and recovers", async () => {
  await using t = setup({ backoff: { initialMs: 50, maxMs: 200 } });
  t.server.put("a", 1);
  t.server.failNext(500, 503, 500);
  t.informer.start();
  await t.informer.waitForSync(10_000);
  assert.equal(t.informer.stats.errors, 3);
  assert.equal(t.informer.store.size, 1);
});

Deno.test("Informer.addHandler replays the cache to a late subscriber; stop() closes the watch", async () => {
  await using t = setup();
  t.server.put("a", 1);
  t.server.put("b", 2);
  t.informer.start();
  await t.informer.waitForSync();
  const late: string[] = [];
  const off = t.informer.addHandler({ onAdd: (o) => late.push(o.metadata.name) });
  assert.deepEqual(late.sort(), ["a", "b"]);
  off();
  await waitUntil(() => t.server.watchers === 1, "the watch");
  await t.informer.stop();
  await waitUntil(() => t.server.watchers === 0, "the watch to close");
  t.server.put("c", 3);
  assert.equal(late.length, 2, "an unsubscribed handler hears nothing");
});

Deno.test("Informer skips objects that do not decode and keeps watching", async () => {
  const server = new FakeApiServer();
  const transport = new KubeTransport(server.kubeConfig());
  const informer = new Informer(transport, {
    ...THINGS,
    decode: (raw) => {
      const t = THINGS.decode(raw);
      if ((t.spec?.value ?? 0) < 0) throw new Error("negative");
      return t;
    },
  }, { namespace: "dev" });
  try {
    server.put("bad", -1);
    server.put("good", 1);
    informer.start();
    await informer.waitForSync();
    assert.deepEqual(informer.store.keys(), ["dev/good"]);
    assert.equal(informer.stats.decodeErrors, 1);
    await waitUntil(() => server.watchers === 1, "the watch");
    server.put("good2", 2);
    await waitUntil(() => informer.store.has("dev/good2"), "later events");
  } finally {
    await informer.stop();
    transport.close();
    await server.close();
  }
});

Deno.test("Informer logs what an operator needs: synced, watch started, failures with backoff, 410 relists, invalid fields", async () => {
  const lines: { level: LogLevel; msg: string; fields: LogFields }[] = [];
  const logger = createLogger((level, msg, fields = {}) => lines.push({ level, msg, fields }));
  const messages = (level: LogLevel) => lines.filter((l) => l.level === level).map((l) => l.msg);
  await using t = setup({
    logger,
    backoff: { initialMs: 20, maxMs: 50 },
    name: "things",
  });
  const transport = new KubeTransport(t.server.kubeConfig());
  const informer = new Informer(transport, {
    ...THINGS,
    decode: (raw) => {
      const thing = THINGS.decode(raw);
      if ((thing.spec?.value ?? 0) < 0) {
        throw new ResourceValidationError(`Thing "${thing.metadata.name}"`, [
          "spec.value: must not be negative",
        ]);
      }
      return thing;
    },
  }, { namespace: "dev", logger, name: "validated" });
  try {
    t.server.put("a", 1);
    t.server.failNext(500);
    t.informer.start();
    await t.informer.waitForSync();
    await waitUntil(() => t.server.watchers === 1, "the watch");
    const failed = lines.find((l) => l.msg === "list/watch failed, backing off")!;
    assert.equal(failed.level, "warn");
    assert.equal(typeof failed.fields.delayMs, "number");
    const synced = lines.find((l) => l.msg === "informer synced")!;
    assert.deepEqual([synced.level, synced.fields.informer, synced.fields.objects], [
      "info",
      "things",
      1,
    ]);
    await waitUntil(() => messages("info").includes("watch started"), "the watch log");

    // A routine reconnect (server timeout) is not worth an info line. (The watch must have
    // delivered an event: one closed at once without any counts as a failure.)
    t.server.put("c", 3);
    await waitUntil(() => t.informer.store.has("dev/c"), "an event");
    const infoBefore = messages("info").length;
    t.server.closeWatches();
    await waitUntil(() => messages("debug").includes("watch started"), "the reconnect");
    assert.equal(messages("info").length, infoBefore);

    t.server.put("b", 2, { silent: true });
    t.server.compact();
    t.server.expireWatches();
    await waitUntil(() => messages("info").includes("informer relisted"), "the relist");
    assert.ok(messages("info").includes("watch expired (410), relisting"));
    const relisted = lines.find((l) => l.msg === "informer relisted")!;
    assert.deepEqual([relisted.fields.added, relisted.fields.deleted], [1, 0]);

    t.server.put("bad", -1);
    informer.start();
    await informer.waitForSync();
    const rejected = lines.find((l) => l.msg === "object does not decode, skipped")!;
    assert.equal(rejected.level, "warn");
    assert.deepEqual([rejected.fields.object, rejected.fields.problems], [
      "dev/bad",
      ["spec.value: must not be negative"],
    ]);
  } finally {
    await informer.stop();
    transport.close();
  }
});
