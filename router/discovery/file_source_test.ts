import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { Datastore } from "../datastore/datastore.ts";
import { createLogger, type LogLevel } from "../log.ts";
import { FileSource } from "./file_source.ts";

const ROUTE = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  modelName: chat
  rules:
  - targetModels: [{ modelServerName: chat }]
`;
const SERVER = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: { name: chat }
spec:
  inferenceEngine: vLLM
  workloadSelector: { matchLabels: { app: chat } }
  workloadPort: { port: 8000 }
`;
const pods = (...names: string[]) =>
  `apiVersion: v1
kind: List
items:
${
    names.map((n) =>
      `- apiVersion: v1
  kind: Pod
  metadata: { name: ${n}, labels: { app: chat } }
  status:
    phase: Running
    podIP: 10.0.0.${n.length}
    conditions: [{ type: Ready, status: "True" }]
`
    ).join("")
  }`;

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function endpoints(store: Datastore): string[] {
  return (store.server("default/chat")?.endpoints ?? []).map((e) => e.name);
}

Deno.test("file source: initial load, live changes, invalid files keep the last good state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kthena-files-" });
  const logs: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
  const source = new FileSource({
    dir,
    debounceMs: 20,
    log: createLogger((level, msg, fields) => {
      logs.push({ level, msg, ...(fields ? { fields } : {}) });
    }),
  });
  const store = new Datastore();
  try {
    await Deno.writeTextFile(`${dir}/route.yaml`, ROUTE);
    await Deno.writeTextFile(`${dir}/server.yaml`, SERVER);
    await Deno.mkdir(`${dir}/pods`);
    await Deno.writeTextFile(`${dir}/pods/pods.yaml`, pods("a"));
    await Deno.writeTextFile(`${dir}/.hidden.yaml`, "not: [valid");
    await Deno.writeTextFile(`${dir}/notes.txt`, "ignored");
    await source.start(store);
    ok(store.hasSynced("files"));
    deepEqual(endpoints(store), ["a"]);
    equal(store.routesForModel("chat").length, 1);
    ok(store.routesForModel("chat")[0]!.metadata.creationTimestamp, "creationTimestamp stamped");

    // A pod is added.
    await Deno.writeTextFile(`${dir}/pods/pods.yaml`, pods("a", "bb"));
    await until("pod bb", () => endpoints(store).includes("bb"));

    // An invalid edit: reported with the field, last good objects kept.
    await Deno.writeTextFile(`${dir}/server.yaml`, SERVER.replace("port: 8000", "port: 0"));
    await until("a problem report", () => source.problems().size === 1);
    match(source.problems().get(`${dir}/server.yaml`)!, /spec\.workloadPort\.port/);
    ok(
      logs.some((l) =>
        l.level === "error" && JSON.stringify(l.fields).includes("spec.workloadPort.port")
      ),
    );
    deepEqual(endpoints(store), ["a", "bb"]);
    equal(store.server("default/chat")!.endpoints[0]!.port, 8000);

    // Broken YAML too.
    await Deno.writeTextFile(`${dir}/route.yaml`, "kind: ModelRoute\n  bad: [indent");
    await until("a YAML problem", () => source.problems().has(`${dir}/route.yaml`));
    equal(store.routesForModel("chat").length, 1);

    // Fixing both applies them; the port change reaches the endpoints.
    await Deno.writeTextFile(`${dir}/server.yaml`, SERVER.replace("port: 8000", "port: 9000"));
    await Deno.writeTextFile(
      `${dir}/route.yaml`,
      ROUTE.replace("modelName: chat", "modelName: chat2"),
    );
    await until(
      "the fix",
      () => source.problems().size === 0 && store.routesForModel("chat2").length === 1,
    );
    await until("the new port", () => store.server("default/chat")?.endpoints[0]?.port === 9000);
    equal(store.routesForModel("chat").length, 0);

    // A pod becomes unready, then its file disappears.
    await Deno.writeTextFile(
      `${dir}/pods/pods.yaml`,
      pods("a", "bb").replace(`status: "True"`, `status: "False"`),
    );
    await until("a unready", () => !endpoints(store).includes("a"));
    await Deno.remove(`${dir}/pods/pods.yaml`);
    await until("pods gone", () => endpoints(store).length === 0);
    equal(store.pod("default/bb"), undefined);
  } finally {
    await source.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file source: pods are plain k8s objects; field errors name the field; duplicates keep the first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kthena-files-" });
  const logs: string[] = [];
  const source = new FileSource({
    dir,
    watch: false,
    log: createLogger((_l, msg, fields) => {
      logs.push(`${msg} ${JSON.stringify(fields)}`);
    }),
  });
  const store = new Datastore();
  try {
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      `${SERVER}---\n${
        pods("a")
      }---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n`,
    );
    await Deno.writeTextFile(
      `${dir}/b.json`,
      JSON.stringify({
        ...JSON.parse(JSON.stringify({})),
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "bad", labels: { on: true } },
      }),
    );
    await Deno.writeTextFile(`${dir}/c.yaml`, SERVER.replace("port: 8000", "port: 7000"));
    await source.start(store);
    deepEqual(endpoints(store), ["a"]);
    equal(store.server("default/chat")!.endpoints[0]!.port, 8000, "a.yaml wins over c.yaml");
    match(source.problems().get(`${dir}/b.json`)!, /Pod "bad".*metadata\.labels\.on/);
    ok(logs.some((l) => l.includes("Deployment")));
    ok(logs.some((l) => l.includes("defined twice")));

    await Deno.writeTextFile(
      `${dir}/b.json`,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "b", labels: { app: "chat" } },
        status: {
          phase: "Running",
          podIP: "10.9.9.9",
          conditions: [{ type: "Ready", status: "True" }],
        },
      }),
    );
    await source.reload();
    deepEqual(endpoints(store), ["a", "b"]);
  } finally {
    await source.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file source: a missing directory fails start", async () => {
  const source = new FileSource({ dir: "/nonexistent/kthena", watch: false });
  await rejects(() => source.start(new Datastore()));
});
