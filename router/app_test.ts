import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import type { DiscoveryEvent, DiscoverySource } from "./discovery/source.ts";
import type { AccessLogEntry } from "./http/access_log.ts";
import { createRouter, type Router } from "./router.ts";
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
