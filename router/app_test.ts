import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import type { DiscoveryEvent, DiscoverySource } from "./discovery/source.ts";
import type { AccessLogEntry } from "./http/access_log.ts";
import { createRouter, type Router, serveRouter } from "./router.ts";
import { parseRouterConfig } from "./config/router_config.ts";
import { RouterError } from "./http/errors.ts";
import { type FakeEngine, sseResponse, startFakeEngine } from "./testing/fake_engine.ts";
import { modelRoute, modelServer, pod } from "./testing/objects.ts";
import type { Pod } from "./datastore/pod.ts";

interface Harness {
  router: Router;
  log: AccessLogEntry[];
  apply(...objects: (ModelRoute | ModelServer | Pod)[]): void;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

function harness(options: { maxBodyBytes?: number; sources?: DiscoverySource[] } = {}): Harness {
  const log: AccessLogEntry[] = [];
  const router = createRouter({ accessLog: (e) => log.push(e), ...options });
  return {
    router,
    log,
    apply: (...objects) =>
      router.datastore.apply(
        objects.map((object) => ({ type: "upsert", kind: object.kind, object }) as DiscoveryEvent),
      ),
    post: (path, body, headers = {}) =>
      Promise.resolve(router.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      })),
  };
}

/** A route `name` → ModelServer `name` selecting `app: name`. */
function simpleModel(name: string, server: Partial<Parameters<typeof modelServer>[1]> = {}) {
  return [
    modelRoute(name, { modelName: name, rules: [{ targetModels: [{ modelServerName: name }] }] }),
    modelServer(name, { workloadSelector: { matchLabels: { app: name } }, ...server }),
  ] as const;
}

function enginePod(
  name: string,
  app: string,
  engine: { port: number },
  extra: Record<string, string> = {},
): Pod {
  return pod(name, {
    labels: { app, ...extra },
    annotations: { "router.kthena.io/workload-port": String(engine.port) },
  });
}

const completion = (
  model: string,
  usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
) =>
  Response.json({
    id: "cmpl-1",
    object: "text_completion",
    model,
    choices: [{ index: 0, text: "hi" }],
    usage,
  });

async function openAIError(
  res: Response,
): Promise<{ message: string; type: string; param: string | null; code: string | null }> {
  const body = await res.json();
  deepEqual(Object.keys(body), ["error"]);
  deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  return body.error;
}

Deno.test("health, readiness, models and metrics", async () => {
  const never: DiscoverySource = {
    name: "never",
    start: () => new Promise(() => {}),
    stop: () => Promise.resolve(),
  };
  const h = harness({ sources: [never] });
  equal((await h.router.app.request("/healthz")).status, 200);
  deepEqual(await (await h.router.app.request("/healthz")).json(), { message: "ok" });
  const notReady = await h.router.app.request("/readyz");
  equal(notReady.status, 503);
  deepEqual(await notReady.json(), { message: "router is not ready" });
  h.router.datastore.markSynced("never");
  equal((await h.router.app.request("/readyz")).status, 200);

  h.apply(
    modelRoute("a", { modelName: "zeta", rules: [{ targetModels: [{ modelServerName: "s" }] }] }),
    modelRoute("b", {
      modelName: "alpha",
      loraAdapters: ["zeta", "lora-1"],
      rules: [{ targetModels: [{ modelServerName: "s" }] }],
    }),
  );
  const models = await (await h.router.app.request("/v1/models")).json();
  deepEqual(models, {
    object: "list",
    data: ["alpha", "lora-1", "zeta"].map((id) => ({
      id,
      object: "model",
      created: 0,
      owned_by: "kthena",
    })),
  });

  await h.post("/v1/completions", { model: "nope", prompt: "x" });
  const metrics = await (await h.router.app.request("/metrics")).text();
  match(
    metrics,
    /kthena_router_requests_total\{model="unknown",path="\/v1\/completions",status_code="404",error_type="route_not_found"/,
  );
});

Deno.test("router errors are OpenAI error objects with the right status", async () => {
  const h = harness({ maxBodyBytes: 200 });
  h.apply(...simpleModel("empty"));
  h.apply(
    ...simpleModel("down"),
    pod("down-0", {
      labels: { app: "down" },
      annotations: { "router.kthena.io/workload-port": "1" },
    }),
  );
  const cases: {
    name: string;
    body: unknown;
    path?: string;
    status: number;
    code: string | null;
    param?: string;
  }[] = [
    { name: "bad JSON", body: "{not json", status: 400, code: "invalid_json" },
    { name: "not an object", body: "[1,2]", status: 400, code: "invalid_request" },
    {
      name: "missing model",
      body: { prompt: "x" },
      status: 400,
      code: "missing_model",
      param: "model",
    },
    {
      name: "blank model",
      body: { model: "  ", prompt: "x" },
      status: 400,
      code: "missing_model",
      param: "model",
    },
    {
      name: "model not a string",
      body: { model: 3, prompt: "x" },
      status: 400,
      code: "missing_model",
    },
    {
      name: "unknown model",
      body: { model: "nope", prompt: "x" },
      status: 404,
      code: "model_not_found",
      param: "model",
    },
    {
      name: "no ready endpoint",
      body: { model: "empty", prompt: "x" },
      status: 503,
      code: "no_ready_endpoint",
    },
    {
      name: "upstream refuses connections",
      body: { model: "down", prompt: "x" },
      status: 502,
      code: "upstream_unavailable",
    },
    {
      name: "body too large",
      body: { model: "down", prompt: "x".repeat(300) },
      status: 413,
      code: "request_too_large",
    },
  ];
  for (const c of cases) {
    const res = await h.post(c.path ?? "/v1/completions", c.body);
    equal(res.status, c.status, c.name);
    ok(res.headers.get("x-request-id"), c.name);
    const err = await openAIError(res);
    equal(err.code, c.code, c.name);
    if (c.param) equal(err.param, c.param, c.name);
  }
  const unknownPath = await h.router.app.request("/v1/nothing-here");
  equal(unknownPath.status, 404);
  equal((await openAIError(unknownPath)).code, "not_found");
  const log = h.log.find((e) => e.model_name === "down" && e.status_code === 502)!;
  equal(log.model_route, "default/down");
  equal(log.model_server, "default/down");
  equal(log.error?.type, "proxy");
});

Deno.test("the body limit holds for declared lengths, chunked bodies and a real server", async () => {
  const h = harness({ maxBodyBytes: 200 });
  h.apply(...simpleModel("nobody"));
  const big = JSON.stringify({ model: "nobody", prompt: "x".repeat(300) });
  const small = JSON.stringify({ model: "nobody", prompt: "x" });
  const cases: { name: string; body: string | ReadableStream<Uint8Array>; length?: number }[] = [
    { name: "declared, over", body: big, length: big.length },
    { name: "declared, under", body: small, length: small.length },
    { name: "chunked, over", body: ReadableStream.from([new TextEncoder().encode(big)]) },
    { name: "chunked, under", body: ReadableStream.from([new TextEncoder().encode(small)]) },
  ];
  for (const c of cases) {
    const res = await h.router.app.request("/v1/completions", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(c.length !== undefined ? { "content-length": String(c.length) } : {}),
      },
      body: c.body,
    });
    const err = await openAIError(res);
    // Under the limit the request is routed: no pod, so 503.
    equal(res.status, c.name.endsWith("over") ? 413 : 503, c.name);
    equal(err.code, c.name.endsWith("over") ? "request_too_large" : "no_ready_endpoint", c.name);
  }
  // Through Deno.serve, as clients send it: fetch declares the length of a string body.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, h.router.app.fetch);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/v1/completions`;
    for (const [body, status] of [[big, 413], [small, 503]] as const) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await res.body?.cancel();
      equal(res.status, status);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("timeout until response headers gives 504; engine 4xx passes through unretried", async () => {
  const slow = startFakeEngine(async ({ signal }) => {
    await new Promise((r) => {
      const t = setTimeout(r, 5000);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        r(undefined);
      });
    });
    return completion("m");
  });
  const picky = startFakeEngine(() =>
    Response.json({
      object: "error",
      message: "max_tokens too large",
      type: "BadRequestError",
      code: 400,
    }, { status: 400 })
  );
  try {
    const h = harness();
    h.apply(
      ...simpleModel("slow", {
        trafficPolicy: { timeout: "200ms", retry: { attempts: 1, retryInterval: "10ms" } },
      }),
      enginePod("slow-0", "slow", slow),
    );
    h.apply(
      ...simpleModel("picky"),
      enginePod("picky-0", "picky", picky),
      enginePod("picky-1", "picky", picky),
    );
    const res = await h.post("/v1/completions", { model: "slow", prompt: "x" });
    equal(res.status, 504);
    equal((await openAIError(res)).code, "upstream_timeout");
    equal(slow.requests.length, 2, "one retry");
    equal(h.log.at(-1)!.upstream_attempts, 2);

    const bad = await h.post("/v1/completions", { model: "picky", prompt: "x" });
    equal(bad.status, 400);
    deepEqual(await bad.json(), {
      object: "error",
      message: "max_tokens too large",
      type: "BadRequestError",
      code: 400,
    });
    equal(picky.requests.length, 1, "client errors are not retried");
  } finally {
    await slow.close();
    await picky.close();
  }
});

Deno.test("aggregated: model override, LoRA, headers, usage, retry on 5xx", async () => {
  let failFirst = true;
  const flaky = startFakeEngine(() => {
    if (failFirst) {
      failFirst = false;
      return Response.json({ error: "overloaded" }, { status: 503 });
    }
    return completion("served");
  });
  const steady = startFakeEngine(({ body }) => completion(String(body.model)));
  try {
    const h = harness();
    h.apply(
      modelRoute("r", {
        modelName: "alias",
        loraAdapters: ["my-lora"],
        rules: [{ targetModels: [{ modelServerName: "s" }] }],
      }),
      modelServer("s", { model: "Qwen/Qwen3-8B", workloadSelector: { matchLabels: { app: "s" } } }),
      enginePod("s-0", "s", steady),
    );
    const res = await h.post("/v1/completions", { model: "alias", prompt: "x" }, {
      "x-request-id": "req-42",
      authorization: "Bearer t",
    });
    equal(res.status, 200);
    equal(res.headers.get("x-request-id"), "req-42");
    equal((await res.json()).model, "Qwen/Qwen3-8B");
    const seen = steady.requests.at(-1)!;
    equal(seen.body.model, "Qwen/Qwen3-8B");
    equal(seen.body.include_usage, undefined, "no non-standard include_usage");
    equal(seen.headers.get("x-request-id"), "req-42");
    equal(seen.headers.get("authorization"), "Bearer t");
    const entry = h.log.at(-1)!;
    deepEqual(
      [
        entry.status_code,
        entry.model_name,
        entry.upstream_model,
        entry.selected_pod,
        entry.input_tokens,
        entry.output_tokens,
        entry.request_id,
      ],
      [200, "alias", "Qwen/Qwen3-8B", "s-0", 3, 2, "req-42"],
    );

    await h.post("/v1/completions", { model: "my-lora", prompt: "x" });
    equal(steady.requests.at(-1)!.body.model, "my-lora", "LoRA names are not overridden");

    // Another /v1 path that names a model goes through as it is.
    const emb = await h.post("/v1/embeddings", { model: "alias", input: "x" });
    equal(emb.status, 200);
    equal(steady.requests.at(-1)!.path, "/v1/embeddings");

    // Retry on a 503 moves to the other pod.
    h.apply(
      ...simpleModel("flaky"),
      enginePod("f-0", "flaky", flaky),
      enginePod("f-1", "flaky", steady),
    );
    for (let i = 0; i < 50 && flaky.requests.length === 0; i++) {
      const r = await h.post("/v1/completions", { model: "flaky", prompt: "x" });
      equal(r.status, 200);
      await r.body?.cancel();
    }
    equal(flaky.requests.length, 1);
    const retried = h.log.find((e) => e.model_name === "flaky" && e.upstream_attempts === 2)!;
    deepEqual([retried.status_code, retried.selected_pod], [200, "f-1"]);
    // A rewritten body keeps integers a double cannot hold (an int64 seed) digit for digit.
    await (await h.router.app.request("/v1/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"alias","prompt":"x","seed":9223372036854775807,"stream":true}',
    })).text();
    const exact = steady.requests.at(-1)!.text;
    ok(exact.includes('"seed":9223372036854775807'), exact);
    ok(exact.includes('"model":"Qwen/Qwen3-8B"'), exact);
    ok(exact.includes('"include_usage":true'), exact);
  } finally {
    await flaky.close();
    await steady.close();
  }
});

const chunk = (text: string) =>
  JSON.stringify({
    id: "c",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { content: text } }],
  });
const usageChunk = JSON.stringify({
  id: "c",
  object: "chat.completion.chunk",
  choices: [],
  usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
});

Deno.test("streaming: usage injected for counting and stripped unless the client asked", async () => {
  const engine = startFakeEngine(({ body }) => {
    const events = [chunk("a"), chunk("b")];
    const opts = body.stream_options as { include_usage?: boolean } | undefined;
    if (opts?.include_usage) events.push(usageChunk);
    events.push("[DONE]");
    return sseResponse(events);
  });
  try {
    const h = harness();
    h.apply(...simpleModel("m"), enginePod("m-0", "m", engine));
    const res = await h.post("/v1/chat/completions", {
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    equal(res.headers.get("content-type"), "text/event-stream");
    const text = await res.text();
    equal(text, `data: ${chunk("a")}\n\ndata: ${chunk("b")}\n\ndata: [DONE]\n\n`);
    deepEqual(engine.requests.at(-1)!.body.stream_options, { include_usage: true });
    const entry = h.log.at(-1)!;
    deepEqual([entry.output_tokens, entry.input_tokens, entry.stream], [2, 4, true]);
    ok(entry.ttft_ms !== undefined);

    const asked = await h.post("/v1/chat/completions", {
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    ok((await asked.text()).includes('"usage":{"prompt_tokens":4'));
  } finally {
    await engine.close();
  }
});

/** A PD fleet of fake engines: group g1 (p1, d1) and g2 (p2, d2). */
function pdFleet(handler: Parameters<typeof startFakeEngine>[0]) {
  const engines = {
    p1: startFakeEngine(handler),
    d1: startFakeEngine(handler),
    p2: startFakeEngine(handler),
    d2: startFakeEngine(handler),
  };
  const roleOf = (name: string) => (name.startsWith("p") ? "prefill" : "decode");
  const pods = Object.entries(engines).map(([name, e]) =>
    enginePod(name, "pd", e, { group: `g${name[1]}`, role: roleOf(name) })
  );
  const server = (spec: Partial<Parameters<typeof modelServer>[1]>) =>
    modelServer("pd", {
      workloadSelector: {
        matchLabels: { app: "pd" },
        pdGroup: {
          groupKey: "group",
          prefillLabels: { role: "prefill" },
          decodeLabels: { role: "decode" },
        },
      },
      ...spec,
    });
  const route = modelRoute("pd", {
    modelName: "pd",
    rules: [{ targetModels: [{ modelServerName: "pd" }] }],
  });
  const nameOf = (e: FakeEngine) => Object.entries(engines).find(([, x]) => x === e)![0];
  return {
    engines,
    pods,
    server,
    route,
    nameOf,
    close: () => Promise.all(Object.values(engines).map((e) => e.close())),
  };
}

Deno.test("PD sequential connectors: http, lmcache, nixl, mooncake bodies", async () => {
  const fleet = pdFleet(({ body }) => {
    if (body.max_tokens === 1 && body.stream === undefined) {
      return Response.json({
        choices: [{ index: 0, text: "x" }],
        kv_transfer_params: body.kv_transfer_params
          ? {
            do_remote_prefill: true,
            remote_engine_id: "E",
            remote_block_ids: [[1]],
            remote_host: "localhost",
            remote_port: 5600,
          }
          : undefined,
      });
    }
    return body.stream ? sseResponse([chunk("d"), usageChunk, "[DONE]"]) : completion("pd");
  });
  try {
    for (const type of ["http", "lmcache", "nixl", "mooncake"] as const) {
      const h = harness();
      h.apply(fleet.route, fleet.server({ kvConnector: { type } }), ...fleet.pods);
      for (const stream of [false, true]) {
        for (const e of Object.values(fleet.engines)) e.requests.length = 0;
        const res = await h.post("/v1/completions", {
          model: "pd",
          prompt: "hello",
          max_tokens: 8,
          stream,
        });
        equal(res.status, 200, `${type} stream=${stream}`);
        const text = await res.text();
        ok(!text.includes('"usage":{"prompt_tokens":4') || !stream, "injected usage stripped");
        const entry = h.log.at(-1)!;
        equal(entry.kv_connector, type);
        const prefill = Object.values(fleet.engines).find((e) =>
          e.requests.length > 0 && e.requests[0]!.body.max_tokens === 1
        )!;
        const decode = Object.values(fleet.engines).find((e) =>
          e.requests.length > 0 && e.requests[0]!.body.max_tokens === 8
        )!;
        equal(fleet.nameOf(prefill), entry.prefill_pod);
        equal(fleet.nameOf(decode), entry.decode_pod);
        equal(entry.prefill_pod![1], entry.decode_pod![1], "same PD group");
        const p = prefill.requests[0]!.body;
        const d = decode.requests[0]!.body;
        equal(p.stream, undefined);
        equal(p.stream_options, undefined);
        equal(d.stream, stream);
        if (type === "nixl" || type === "mooncake") {
          deepEqual(p.kv_transfer_params, {
            do_remote_decode: true,
            do_remote_prefill: false,
            remote_engine_id: null,
            remote_block_ids: null,
            remote_host: null,
            remote_port: null,
          });
          deepEqual(d.kv_transfer_params, {
            do_remote_prefill: true,
            remote_engine_id: "E",
            remote_block_ids: [[1]],
            remote_host: "127.0.0.1",
            remote_port: 5600,
          });
        } else {
          equal(p.kv_transfer_params, undefined);
          equal(d.kv_transfer_params, undefined);
        }
      }
    }
  } finally {
    await fleet.close();
  }
});

Deno.test("PD sglang: both legs in flight at once, same room, bootstrap host and port", async () => {
  const arrived: Record<string, PromiseWithResolvers<Record<string, unknown>>> = {};
  const rendezvous = (room: string) => arrived[room] ??= Promise.withResolvers();
  const fleet = pdFleet(async ({ body, path }) => {
    const room = String(body.bootstrap_room);
    if (path !== "/v1/chat/completions") return new Response("bad path", { status: 404 });
    if (body.max_tokens === 1) {
      // The prefill only answers once the decode has arrived (SGLang's bootstrap handshake).
      await rendezvous(room).promise;
      return Response.json({ choices: [] });
    }
    rendezvous(room).resolve(body);
    return body.stream
      ? sseResponse([chunk("d"), usageChunk, "[DONE]"])
      : Response.json({ choices: [], usage: { completion_tokens: 1 } });
  });
  const annotated = fleet.pods.map((p) =>
    p.metadata!.name!.startsWith("p")
      ? {
        ...p,
        metadata: {
          ...p.metadata,
          annotations: { ...p.metadata!.annotations, "sglang.ai/bootstrap-port": "9100" },
        },
      }
      : p
  );
  try {
    const h = harness();
    h.apply(fleet.route, fleet.server({ inferenceEngine: "SGLang" }), ...annotated);
    for (const stream of [false, true]) {
      const res = await h.post("/v1/chat/completions", {
        model: "pd",
        messages: [{ role: "user", content: "hi" }],
        stream,
        max_tokens: 8,
      });
      equal(res.status, 200);
      await res.text();
      const entry = h.log.at(-1)!;
      equal(entry.kv_connector, "sglang");
      const p = fleet.engines[entry.prefill_pod as "p1"].requests.at(-1)!.body;
      const d = fleet.engines[entry.decode_pod as "d1"].requests.at(-1)!.body;
      equal(p.bootstrap_room, d.bootstrap_room);
      equal(typeof p.bootstrap_room, "number");
      deepEqual([p.bootstrap_host, p.bootstrap_port, d.bootstrap_host, d.bootstrap_port], [
        "127.0.0.1",
        9100,
        "127.0.0.1",
        9100,
      ]);
      equal(p.max_tokens, 1);
      equal(d.max_tokens, 8);
    }
  } finally {
    await fleet.close();
  }
});

Deno.test("PD sglang: a failing prefill cancels its decode, and the pair is retried", async () => {
  let decodeAborted = 0;
  const fleet = pdFleet(async ({ body, signal }) => {
    if (body.max_tokens === 1) {
      await new Promise((r) => setTimeout(r, 50));
      return Response.json({ error: { message: "KVTransferError" } }, { status: 500 });
    }
    // A decode waits for a KV that never comes, unless cancelled.
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 10_000);
      signal.addEventListener("abort", () => {
        decodeAborted++;
        clearTimeout(t);
        resolve(undefined);
      });
    });
    return Response.json({ choices: [] });
  });
  try {
    const h = harness();
    h.apply(fleet.route, fleet.server({ inferenceEngine: "SGLang" }), ...fleet.pods);
    const t0 = performance.now();
    const res = await h.post("/v1/chat/completions", {
      model: "pd",
      messages: [{ role: "user", content: "hi" }],
    });
    const elapsed = performance.now() - t0;
    equal(res.status, 500);
    ok((await res.text()).includes("KVTransferError"));
    ok(elapsed < 5000, `took ${elapsed} ms`);
    equal(h.log.at(-1)!.upstream_attempts, 2, "two pairs tried");
    // Both decodes were cancelled.
    for (let i = 0; i < 50 && decodeAborted < 2; i++) await new Promise((r) => setTimeout(r, 20));
    equal(decodeAborted, 2);
  } finally {
    await fleet.close();
  }
});

Deno.test("seams: admission policies can reject and are settled with the usage; middleware runs first", async () => {
  const engine = startFakeEngine(() =>
    completion("m", { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 })
  );
  try {
    let budget = 10;
    const settled: (number | undefined)[] = [];
    const log: AccessLogEntry[] = [];
    const router = createRouter({
      accessLog: (e) => log.push(e),
      admission: [{
        admit: () =>
          budget > 0 ? undefined : new RouterError(429, "output token rate limit exceeded", {
            code: "rate_limit_exceeded",
            category: "scheduling",
          }),
        settle: (_req, usage) => {
          settled.push(usage?.completionTokens);
          budget -= usage?.completionTokens ?? 0;
        },
      }],
      middleware: [async (c, next) => {
        if (c.req.header("authorization") !== "Bearer ok") {
          return c.json({
            error: {
              message: "unauthorized",
              type: "authentication_error",
              param: null,
              code: null,
            },
          }, 401);
        }
        return await next();
      }],
    });
    router.datastore.apply(
      [...simpleModel("m"), enginePod("m-0", "m", engine)].map((object) =>
        ({ type: "upsert", kind: object.kind, object }) as DiscoveryEvent
      ),
    );
    const send = (auth: string) =>
      router.app.request("/v1/completions", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: auth },
        body: JSON.stringify({ model: "m", prompt: "x" }),
      });
    equal((await send("Bearer nope")).status, 401);
    equal(engine.requests.length, 0);
    equal((await send("Bearer ok")).status, 200);
    equal((await send("Bearer ok")).status, 200);
    const limited = await send("Bearer ok");
    equal(limited.status, 429);
    equal((await openAIError(limited)).code, "rate_limit_exceeded");
    deepEqual(settled, [7, 7]);
    equal(engine.requests.length, 2);
    equal(log.at(-1)!.status_code, 429);
  } finally {
    await engine.close();
  }
});

Deno.test("seams: an asynchronous admission policy waits, then admits or rejects", async () => {
  const engine = startFakeEngine(() => completion("m"));
  try {
    const gates: PromiseWithResolvers<RouterError | undefined>[] = [];
    const router = createRouter({
      admission: [{
        admit: () => {
          const gate = Promise.withResolvers<RouterError | undefined>();
          gates.push(gate);
          return gate.promise;
        },
      }],
    });
    router.datastore.apply(
      [...simpleModel("m"), enginePod("m-0", "m", engine)].map((object) =>
        ({ type: "upsert", kind: object.kind, object }) as DiscoveryEvent
      ),
    );
    const send = () =>
      router.app.request("/v1/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", prompt: "x" }),
      });
    const first = send();
    const second = send();
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
    equal(engine.requests.length, 0, "nothing reaches the engine while admission waits");
    gates[1]!.resolve(new RouterError(429, "queue full", { category: "scheduling" }));
    gates[0]!.resolve(undefined);
    equal((await first).status, 200);
    equal((await second).status, 429);
    equal(engine.requests.length, 1);
  } finally {
    await engine.close();
  }
});

// ---------------------------------------------------------------------------------------------
// The data path over real HTTP (issue #15): the router served on a loopback port.

async function served(h: Harness) {
  const running = await serveRouter(h.router, { hostname: "127.0.0.1", port: 0 });
  return {
    url: running.url,
    port: running.port,
    close: () => running.shutdown(),
  };
}

/** Sends raw bytes on a fresh connection; returns what came back until the server closed. */
async function rawExchange(
  port: number,
  parts: string[],
  opts: { closeWrite?: boolean; readTimeoutMs?: number; gapMs?: number } = {},
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  try {
    for (const [i, p] of parts.entries()) {
      // A gap lets the server dispatch the request before the rest arrives.
      if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      await conn.write(enc.encode(p));
    }
    if (opts.closeWrite) await conn.closeWrite();
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    const deadline = Date.now() + (opts.readTimeoutMs ?? 5000);
    for (;;) {
      const timer = setTimeout(() => {
        try {
          conn.close();
        } catch {
          // closed
        }
      }, Math.max(1, deadline - Date.now()));
      let n: number | null = null;
      try {
        n = await conn.read(buf);
      } catch {
        n = null;
      } finally {
        clearTimeout(timer);
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      const text = new TextDecoder().decode(concat(chunks));
      if (/\r\n\r\n/.test(text) && responseComplete(text)) break;
    }
    return new TextDecoder().decode(concat(chunks));
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Whether a raw HTTP/1.1 response text holds its whole body (content-length framing). */
function responseComplete(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
  if (!m) return false;
  return new TextEncoder().encode(text.slice(end + 4)).length >= Number(m[1]);
}

function parseRaw(text: string): { status: number; headers: Headers; body: string } {
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const headers = new Headers();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
  }
  return { status, headers, body: text.slice(end + 4) };
}

function assertOpenAIErrorText(body: string, what: string) {
  const parsed = JSON.parse(body);
  deepEqual(Object.keys(parsed), ["error"], what);
  deepEqual(Object.keys(parsed.error).sort(), ["code", "message", "param", "type"], what);
  return parsed.error as { message: string; type: string; param: string | null; code: string };
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 5000) => {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

Deno.test("HTTP: JSON nested 8,000 deep is a 400 before any engine, aggregated and PD", async () => {
  const engine = startFakeEngine(() => completion("m"));
  const fleet = pdFleet(() => completion("pd"));
  const h = harness();
  h.apply(...simpleModel("m"), enginePod("m-0", "m", engine));
  h.apply(fleet.route, fleet.server({ kvConnector: { type: "nixl" } }), ...fleet.pods);
  const server = await served(h);
  try {
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
    for (const model of ["m", "pd"]) {
      for (const path of ["/v1/completions", "/v1/chat/completions"]) {
        const body = `{"model":"${model}","prompt":"x","messages":[],"extra":${deep(8000)}}`;
        const res = await fetch(`${server.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": `deep-${model}` },
          body,
        });
        equal(res.status, 400, `${model} ${path}`);
        equal(res.headers.get("x-request-id"), `deep-${model}`);
        const err = await openAIError(res);
        equal(err.type, "invalid_request_error");
        equal(err.code, "json_too_deep");
        const entry = h.log.at(-1)!;
        deepEqual([entry.request_id, entry.status_code, entry.path], [`deep-${model}`, 400, path]);
      }
    }
    equal(engine.requests.length, 0);
    equal(Object.values(fleet.engines).reduce((n, e) => n + e.requests.length, 0), 0);
    // The limit itself: 128 levels (the top-level object is the first) pass, 129 do not.
    const nested = (levels: number) => `{"model":"m","prompt":"x","extra":${deep(levels - 1)}}`;
    const ok128 = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: nested(128),
    });
    equal(ok128.status, 200);
    await ok128.body?.cancel();
    equal(engine.requests.length, 1);
    const no129 = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: nested(129),
    });
    equal(no129.status, 400);
    await no129.body?.cancel();
    // Brackets inside strings do not count.
    const inString = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "m", prompt: "[".repeat(10_000) + '\\"{' }),
    });
    equal(inString.status, 200);
    await inString.body?.cancel();
  } finally {
    await server.close();
    await engine.close();
    await fleet.close();
  }
});

Deno.test("HTTP: truncated or malformed chunked bodies are 400 (or 499), with request id and log line", async () => {
  const engine = startFakeEngine(() => completion("m"));
  const h = harness();
  h.apply(...simpleModel("m"), enginePod("m-0", "m", engine));
  const server = await served(h);
  try {
    const head = (id: string) =>
      `POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `x-request-id: ${id}\r\ntransfer-encoding: chunked\r\n\r\n`;
    // A malformed chunk size while the client waits for the answer.
    const bad = parseRaw(
      await rawExchange(server.port, [head("bad.chunk:1"), '5\r\n{"mod\r\nzz\r\n'], {
        gapMs: 50,
      }),
    );
    equal(bad.status, 400);
    equal(bad.headers.get("x-request-id"), "bad.chunk:1");
    equal(assertOpenAIErrorText(bad.body, "malformed chunk").code, "invalid_body");
    await until("log line", () => h.log.some((e) => e.request_id === "bad.chunk:1"));
    equal(h.log.find((e) => e.request_id === "bad.chunk:1")!.status_code, 400);

    // The client sends part of a chunk, then closes its side: 400 if it can still be told,
    // else a 499 log line; never a 5xx.
    const cut = await rawExchange(server.port, [head("cut-1"), '40\r\n{"model":"m"'], {
      closeWrite: true,
      gapMs: 50,
    });
    if (cut !== "") {
      const res = parseRaw(cut);
      equal(res.status, 400);
      equal(res.headers.get("x-request-id"), "cut-1");
    }
    await until("log line", () => h.log.some((e) => e.request_id === "cut-1"));
    const entry = h.log.find((e) => e.request_id === "cut-1")!;
    ok([400, 499].includes(entry.status_code), String(entry.status_code));
    equal(engine.requests.length, 0);

    // Request ids: visible ASCII tokens are kept, others replaced.
    for (
      const [given, kept] of [["abc.def", true], ["a/b:c@d", true], ["x".repeat(255), true], [
        "x".repeat(256),
        false,
      ], ["has space", false]] as const
    ) {
      const res = await fetch(`${server.url}/v1/completions`, {
        method: "POST",
        headers: { "x-request-id": given },
        body: JSON.stringify({ model: "m", prompt: "x" }),
      });
      await res.body?.cancel();
      equal(res.headers.get("x-request-id") === given, kept, given);
      equal(engine.requests.at(-1)!.headers.get("x-request-id"), res.headers.get("x-request-id"));
    }
  } finally {
    await server.close();
    await engine.close();
  }
});

Deno.test("HTTP: errors escaping to onError and unknown routes keep the request id and are logged", async () => {
  const log: AccessLogEntry[] = [];
  const router = createRouter({
    accessLog: (e) => log.push(e),
    middleware: [() => {
      throw new Error("boom");
    }],
  });
  const running = await serveRouter(router, { hostname: "127.0.0.1", port: 0 });
  try {
    const res = await fetch(`${running.url}/v1/completions`, {
      method: "POST",
      headers: { "x-request-id": "esc.1" },
      body: "{}",
    });
    equal(res.status, 500);
    equal(res.headers.get("x-request-id"), "esc.1");
    await openAIError(res);
    equal(log.at(-1)!.request_id, "esc.1");
    const health = await fetch(`${running.url}/healthz`, { headers: { "x-request-id": "h.1" } });
    equal(health.headers.get("x-request-id"), "h.1", "every answer carries the id");
    await health.body?.cancel();
    const missing = await fetch(`${running.url}/nowhere`, { headers: { "x-request-id": "nf.1" } });
    equal(missing.status, 404);
    equal(missing.headers.get("x-request-id"), "nf.1");
    await openAIError(missing);
  } finally {
    await running.shutdown();
  }
});

Deno.test("HTTP: only inference endpoints are proxied unless proxyPaths allows more", async () => {
  const engine = startFakeEngine(() => Response.json({ status: "loaded" }));
  try {
    for (const proxyPaths of [undefined, ["/v1/load_lora_adapter"], ["/v1/*"]]) {
      const log: AccessLogEntry[] = [];
      const router = createRouter({
        accessLog: (e) => log.push(e),
        ...(proxyPaths ? { config: parseRouterConfig(JSON.stringify({ proxyPaths })) } : {}),
      });
      router.datastore.apply(
        [...simpleModel("m"), enginePod("m-0", "m", engine)].map((object) =>
          ({ type: "upsert", kind: object.kind, object }) as DiscoveryEvent
        ),
      );
      const running = await serveRouter(router, { hostname: "127.0.0.1", port: 0 });
      try {
        const before = engine.requests.length;
        const res = await fetch(`${running.url}/v1/load_lora_adapter`, {
          method: "POST",
          headers: { "x-request-id": "admin-1" },
          body: JSON.stringify({ model: "m", lora_name: "evil", lora_path: "/tmp/evil" }),
        });
        if (proxyPaths === undefined) {
          equal(res.status, 404);
          equal(res.headers.get("x-request-id"), "admin-1");
          equal((await openAIError(res)).code, "not_found");
          equal(engine.requests.length, before, "not proxied");
          deepEqual([log.at(-1)!.status_code, log.at(-1)!.request_id], [404, "admin-1"]);
          // Dot segments are resolved before the check.
          const sneaky = await fetch(
            `${running.url}/v1/chat/completions/../load_lora_adapter`,
            { method: "POST", body: JSON.stringify({ model: "m" }) },
          );
          equal(sneaky.status, 404);
          await sneaky.body?.cancel();
          equal(engine.requests.length, before, "not proxied");
        } else {
          equal(res.status, 200, JSON.stringify(proxyPaths));
          await res.body?.cancel();
          equal(engine.requests.at(-1)!.path, "/v1/load_lora_adapter");
        }
        for (const path of ["/v1/chat/completions", "/v1/embeddings", "/v1/rerank"]) {
          const inference = await fetch(`${running.url}${path}`, {
            method: "POST",
            body: JSON.stringify({ model: "m", input: "x" }),
          });
          equal(inference.status, 200, path);
          await inference.body?.cancel();
        }
        const other = await fetch(`${running.url}/v1/unload_lora_adapter`, {
          method: "POST",
          body: JSON.stringify({ model: "m", lora_name: "evil" }),
        });
        equal(other.status, proxyPaths?.[0] === "/v1/*" ? 200 : 404);
        await other.body?.cancel();
      } finally {
        await running.shutdown();
      }
    }
  } finally {
    await engine.close();
  }
});

Deno.test("HTTP: stream_options without stream is refused up front, as vLLM does", async () => {
  const fleet = pdFleet(() => completion("pd"));
  const h = harness();
  h.apply(fleet.route, fleet.server({ kvConnector: { type: "nixl" } }), ...fleet.pods);
  const server = await served(h);
  try {
    for (const stream of [false, undefined]) {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({
          model: "pd",
          messages: [{ role: "user", content: "hi" }],
          stream,
          stream_options: { include_usage: true },
        }),
      });
      equal(res.status, 400);
      ok(res.headers.get("x-request-id"));
      const err = await openAIError(res);
      equal(err.message, "Stream options can only be defined when `stream=True`.");
      equal(err.param, "stream_options");
      equal(h.log.at(-1)!.status_code, 400);
    }
    equal(Object.values(fleet.engines).reduce((n, e) => n + e.requests.length, 0), 0, "no leg");
    // An empty (falsy) stream_options passes, as in vLLM.
    const res = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "pd", prompt: "x", stream: false, stream_options: {} }),
    });
    equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await server.close();
    await fleet.close();
  }
});

Deno.test("streaming: injected include_usage does not turn on continuous usage for the client", async () => {
  const engine = startFakeEngine(({ body }) => {
    const opts = body.stream_options as Record<string, boolean> | undefined;
    const perChunk = opts?.include_usage && opts?.continuous_usage_stats;
    const usage = { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 };
    const events = ["a", "b"].map((t) =>
      JSON.stringify({
        id: "c",
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta: { content: t } }],
        ...(perChunk ? { usage } : {}),
      })
    );
    if (opts?.include_usage) events.push(usageChunk);
    events.push("[DONE]");
    return sseResponse(events);
  });
  try {
    const h = harness();
    h.apply(...simpleModel("m"), enginePod("m-0", "m", engine));
    const res = await h.post("/v1/chat/completions", {
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: false, continuous_usage_stats: true },
    });
    const text = await res.text();
    ok(!text.includes('"usage"'), text);
    deepEqual(engine.requests.at(-1)!.body.stream_options, {
      include_usage: true,
      continuous_usage_stats: false,
    });
    equal(h.log.at(-1)!.output_tokens, 2, "still counted");
  } finally {
    await engine.close();
  }
});

Deno.test("PD nixl: prefill integers beyond 2^53 reach the decode digit for digit; a refused decode is sent a release", async () => {
  const big = "123456789012345678901234567890";
  const fleet = pdFleet(({ body }) => {
    const params = body.kv_transfer_params as Record<string, unknown> | undefined;
    if (params?.do_remote_decode === true) {
      return new Response(
        `{"choices":[{"index":0,"text":"x"}],"kv_transfer_params":{"do_remote_prefill":true,` +
          `"remote_engine_id":"E","remote_request_id":${big},"remote_block_ids":[[${big}]],` +
          `"remote_host":"10.1.2.3","remote_port":5600}}`,
        { headers: { "content-type": "application/json" } },
      );
    }
    if (body.max_tokens === 1) return completion("pd"); // the release request
    if (body.max_tokens === 99999) {
      return Response.json({ error: { message: "too long", type: "BadRequestError" } }, {
        status: 400,
      });
    }
    return completion("pd");
  });
  try {
    const h = harness();
    h.apply(fleet.route, fleet.server({ kvConnector: { type: "nixl" } }), ...fleet.pods);
    const res = await h.post("/v1/completions", { model: "pd", prompt: "x", max_tokens: 8 });
    equal(res.status, 200);
    await res.body?.cancel();
    const decode = fleet.engines[h.log.at(-1)!.decode_pod as "d1"];
    const sent = decode.requests.at(-1)!.text;
    ok(sent.includes(`"remote_request_id":${big}`), sent);
    ok(sent.includes(`"remote_block_ids":[[${big}]]`), sent);

    // The decode refuses (400): the connector sends it the prefill's body with the same params.
    for (const e of Object.values(fleet.engines)) e.requests.length = 0;
    const refused = await h.post("/v1/completions", {
      model: "pd",
      prompt: "x",
      max_tokens: 99999,
    });
    equal(refused.status, 400);
    await refused.body?.cancel();
    const d = fleet.engines[h.log.at(-1)!.decode_pod as "d1"];
    await until("release request", () => d.requests.length === 2);
    const release = d.requests[1]!;
    equal(release.body.max_tokens, 1);
    equal(release.body.stream, undefined);
    ok(release.text.includes(`"remote_request_id":${big}`), release.text);
    await until(
      "release leg ended",
      () => h.router.inFlight.get(`default/${h.log.at(-1)!.decode_pod}`) === 0,
    );
  } finally {
    await fleet.close();
  }
});

Deno.test("stream_options spelt with escapes is refused too", async () => {
  const fleet = pdFleet(() => completion("pd"));
  const h = harness();
  h.apply(fleet.route, fleet.server({ kvConnector: { type: "nixl" } }), ...fleet.pods);
  try {
    const res = await h.post(
      "/v1/completions",
      '{"model":"pd","prompt":"x","stream\\u005foptions":{"include_usage":true}}',
    );
    equal(res.status, 400);
    equal((await openAIError(res)).param, "stream_options");
    equal(Object.values(fleet.engines).reduce((n, e) => n + e.requests.length, 0), 0, "no leg");
  } finally {
    await fleet.close();
  }
});
