import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "@kthena/shared/k8s";
import { Datastore } from "../datastore/datastore.ts";
import { createLogger, type LogFields, type LogLevel } from "../log.ts";
import { modelRoute, modelServer, pod } from "../testing/objects.ts";
import { KubernetesSource } from "./kubernetes_source.ts";

/**
 * Just enough of an API server for the source's three informers in one namespace: lists, and
 * watches that stay open until the test pushes an event or closes them. (shared/k8s has a
 * fuller fake for the informer's failure paths; here only the wiring is under test.)
 */
class FakeCluster {
  readonly #objects = new Map<string, Record<string, unknown>[]>();
  readonly #watches = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();
  readonly #failing = new Set<string>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
  }

  /** The objects a collection (`modelroutes`, `modelservers`, `pods`) lists. */
  set(plural: string, objects: unknown[]): void {
    this.#objects.set(plural, objects.map((o) => JSON.parse(JSON.stringify(o))));
  }

  /** Answers 403 to every request of a collection (missing RBAC). */
  forbid(plural: string): void {
    this.#failing.add(plural);
  }

  /** Sends a watch event to the collection's open watches. */
  send(plural: string, type: string, object: unknown): void {
    const line = new TextEncoder().encode(JSON.stringify({ type, object }) + "\n");
    for (const c of this.#watches.get(plural) ?? []) c.enqueue(line);
  }

  watching(plural: string): number {
    return this.#watches.get(plural)?.size ?? 0;
  }

  client(): KubeClient {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{
        name: "fake",
        server: `http://127.0.0.1:${this.#server.addr.port}`,
        // client-node refuses plain HTTP otherwise.
        skipTLSVerify: true,
      }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "fake", user: "u", namespace: "dev" }],
      currentContext: "c",
    });
    return new KubeClient(kc);
  }

  async close(): Promise<void> {
    for (const set of this.#watches.values()) {
      for (const c of set) c.close();
    }
    await this.#server.shutdown();
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    const plural = url.pathname.split("/").at(-1)!;
    if (this.#failing.has(plural)) {
      return Response.json({ kind: "Status", code: 403, message: "forbidden" }, { status: 403 });
    }
    if (url.searchParams.get("watch") !== "true") {
      return Response.json({
        metadata: { resourceVersion: "10" },
        items: this.#objects.get(plural) ?? [],
      });
    }
    let controller: ReadableStreamDefaultController<Uint8Array>;
    const set = this.#watches.get(plural) ?? new Set();
    this.#watches.set(plural, set);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        set.add(c);
      },
      cancel: () => {
        set.delete(controller);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function capture() {
  const lines: { level: LogLevel; msg: string; fields: LogFields }[] = [];
  const log = createLogger((level, msg, fields = {}) => lines.push({ level, msg, fields }));
  const find = (msg: string) => lines.filter((l) => l.msg === msg);
  return { lines, log, find };
}

const ns = { namespace: "dev", resourceVersion: "1" };

Deno.test("kubernetes source: first state in one batch, invalid objects logged with their field, live deletes", async () => {
  const cluster = new FakeCluster();
  const route = modelRoute("chat", {
    modelName: "chat",
    rules: [{ targetModels: [{ modelServerName: "engines" }] }],
  }, ns);
  // Accepted by the API server (its schema is looser) but not by the router's: no rules.
  const broken = {
    ...modelRoute("broken", { modelName: "x", rules: route.spec.rules }, ns),
    spec: { modelName: "x", rules: [] },
  };
  cluster.set("modelroutes", [route, broken]);
  cluster.set("modelservers", [
    modelServer("engines", { workloadSelector: { matchLabels: { app: "chat" } } }, ns),
  ]);
  const engine = pod("e-0", { namespace: "dev", labels: { app: "chat" } });
  cluster.set("pods", [{ ...engine, metadata: { ...engine.metadata, resourceVersion: "1" } }]);
  const client = cluster.client();
  const { log, find } = capture();
  const source = new KubernetesSource({ client, namespace: "dev", syncTimeoutMs: 5_000, log });
  const store = new Datastore();
  let batches = 0;
  store.onChange(() => batches++);
  try {
    await source.start(store);
    ok(store.hasSynced("kubernetes"));
    equal(batches, 1, "the first state is one batch");
    equal(store.routesForModel("chat").length, 1);
    deepEqual(store.server("dev/engines")?.endpoints.map((e) => e.name), ["e-0"]);

    deepEqual(find("kubernetes discovery starting")[0]?.fields, {
      namespace: "dev",
      informers: ["dev/modelroutes", "dev/modelservers", "dev/pods"],
    });
    equal(find("informer synced").length, 3);
    deepEqual(find("kubernetes discovery synced")[0]?.fields, {
      modelRoutes: 1,
      modelServers: 1,
      pods: 1,
    });
    const rejected = find("object does not decode, skipped");
    equal(rejected.length, 1);
    equal(rejected[0]!.level, "warn");
    equal(rejected[0]!.fields.object, "dev/broken");
    const problems = rejected[0]!.fields.problems as string[];
    ok(problems.some((p) => p.startsWith("spec.rules")), `names the field: ${problems}`);

    await waitFor(() => cluster.watching("pods") === 1, "the pod watch");
    cluster.send("pods", "DELETED", {
      ...engine,
      metadata: { ...engine.metadata, resourceVersion: "11" },
    });
    await waitFor(() => store.server("dev/engines")?.endpoints.length === 0, "the delete");
    equal(store.pod("dev/e-0"), undefined);
  } finally {
    await source.stop();
    client.close();
    await cluster.close();
  }
});

Deno.test("kubernetes source: a sync that times out names the informers still waiting", async () => {
  const cluster = new FakeCluster();
  cluster.forbid("pods");
  const client = cluster.client();
  const { log, find } = capture();
  const source = new KubernetesSource({ client, namespace: "dev", syncTimeoutMs: 300, log });
  try {
    await rejects(source.start(new Datastore()), /not synced/);
    const failed = find("list/watch failed, backing off");
    ok(failed.length >= 1 && failed[0]!.fields.informer === "dev/pods", "the cause is logged");
    deepEqual(find("kubernetes discovery did not sync")[0]?.fields, {
      timeoutMs: 300,
      waiting: ["dev/pods"],
    });
    equal(find("kubernetes discovery synced").length, 0);
  } finally {
    await source.stop();
    client.close();
    await cluster.close();
  }
});
