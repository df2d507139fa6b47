/**
 * The router in front of real simulator processes, aggregated serving: chat and completions,
 * streamed and not, with curl-like fetches and with the official `openai` client; weighted
 * targets; retries onto another pod when an engine fails.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import OpenAI from "openai";
import { modelRoute, modelServer } from "../../router/testing/objects.ts";
import { type EngineSpec, post, scrape, startFleet } from "./router_fleet.ts";

const engines = (app: string, n: number, extra: string[] = []): EngineSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `${app}-${i}`,
    args: ["--model", "Qwen/Qwen3-0.6B", "--profile", "fast", "--seed", String(i), ...extra],
    labels: { app },
  }));

Deno.test("aggregated: chat and completions, streamed and not, through real engines", async () => {
  const fleet = await startFleet({
    engines: engines("qwen", 2),
    objects: [
      modelRoute("qwen", {
        modelName: "qwen",
        rules: [{ targetModels: [{ modelServerName: "qwen" }] }],
      }),
      modelServer("qwen", {
        model: "Qwen/Qwen3-0.6B",
        workloadSelector: { matchLabels: { app: "qwen" } },
      }),
    ],
  });
  try {
    const chat = {
      model: "qwen",
      messages: [{ role: "user", content: "hello there" }],
      max_tokens: 8,
    };
    const r1 = await post(fleet.url, "/v1/chat/completions", chat);
    equal(r1.status, 200);
    const b1 = await r1.json();
    equal(b1.object, "chat.completion");
    equal(b1.model, "Qwen/Qwen3-0.6B");
    ok(b1.choices[0].message.content.length > 0);

    const r2 = await post(fleet.url, "/v1/completions", {
      model: "qwen",
      prompt: "Once upon",
      max_tokens: 5,
    });
    equal(r2.status, 200);
    equal((await r2.json()).usage.completion_tokens, 5);

    const r3 = await post(fleet.url, "/v1/chat/completions", { ...chat, stream: true });
    equal(r3.headers.get("content-type")?.startsWith("text/event-stream"), true);
    const s3 = await r3.text();
    ok(s3.trimEnd().endsWith("data: [DONE]"));
    ok(!s3.includes('"usage":{'), "the injected usage chunk is not forwarded");
    const entry = fleet.log.at(-1)!;
    equal(entry.stream, true);
    equal(entry.output_tokens, 8, "tokens counted from the injected usage");
    ok(entry.ttft_ms! > 0);

    const r4 = await post(fleet.url, "/v1/completions", {
      model: "qwen",
      prompt: "Once upon",
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    match(await r4.text(), /"usage":\{"prompt_tokens":\d+/, "asked-for usage is kept");

    const models = await (await fetch(`${fleet.url}/v1/models`)).json();
    deepEqual(models.data.map((m: { id: string }) => m.id), ["qwen"]);

    const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
    match(
      metrics,
      /kthena_router_requests_total\{model="qwen",path="\/v1\/chat\/completions",status_code="200"/,
    );
    match(
      metrics,
      /kthena_router_tokens_total\{model="qwen",path="\/v1\/completions",token_type="output"/,
    );
    match(metrics, /kthena_router_time_to_first_token_seconds_count/);
  } finally {
    await fleet.stop();
  }
});

Deno.test("the openai client works through the router: chat and completions, streamed and not", async () => {
  const fleet = await startFleet({
    engines: engines("oa", 1),
    objects: [
      modelRoute("oa", {
        modelName: "gpt-sim",
        rules: [{ targetModels: [{ modelServerName: "oa" }] }],
      }),
      modelServer("oa", {
        model: "Qwen/Qwen3-0.6B",
        workloadSelector: { matchLabels: { app: "oa" } },
      }),
    ],
  });
  try {
    const client = new OpenAI({ baseURL: `${fleet.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
    const chat = await client.chat.completions.create({
      model: "gpt-sim",
      messages: [{ role: "user", content: "Say hi" }],
      max_tokens: 6,
    });
    equal(chat.choices[0]!.finish_reason, "length");
    equal(chat.usage?.completion_tokens, 6);

    const comp = await client.completions.create({
      model: "gpt-sim",
      prompt: "abc",
      max_tokens: 4,
    });
    equal(comp.usage?.completion_tokens, 4);

    let text = "";
    let usageSeen = false;
    const stream = await client.chat.completions.create({
      model: "gpt-sim",
      messages: [{ role: "user", content: "Count" }],
      max_tokens: 7,
      stream: true,
    });
    for await (const part of stream) {
      text += part.choices[0]?.delta?.content ?? "";
      if (part.usage) usageSeen = true;
    }
    ok(text.length > 0);
    equal(usageSeen, false, "no usage chunk the client did not ask for");

    let chunks = 0;
    let usage: number | undefined;
    const cstream = await client.completions.create({
      model: "gpt-sim",
      prompt: "abc",
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const part of cstream) {
      chunks++;
      if (part.usage) usage = part.usage.completion_tokens;
    }
    ok(chunks >= 3);
    equal(usage, 3);

    // Errors surface as the client's typed errors.
    try {
      await client.chat.completions.create({
        model: "nope",
        messages: [{ role: "user", content: "x" }],
      });
      ok(false, "should have thrown");
    } catch (e) {
      ok(e instanceof OpenAI.NotFoundError);
      equal((e as InstanceType<typeof OpenAI.NotFoundError>).code, "model_not_found");
    }
  } finally {
    await fleet.stop();
  }
});

Deno.test("weighted targets split traffic and a failing engine is retried on another pod", async () => {
  const fleet = await startFleet({
    engines: [
      ...engines("v1", 1),
      ...engines("v2", 1),
      ...engines("bad", 1, ["--failure-rate", "1", "--failure-kinds", "5xx"]),
      ...engines("good", 1),
    ],
    objects: [
      modelRoute("canary", {
        modelName: "canary",
        rules: [{
          targetModels: [{ modelServerName: "v1", weight: 70 }, {
            modelServerName: "v2",
            weight: 30,
          }],
        }],
      }),
      modelServer("v1", {
        model: "Qwen/Qwen3-0.6B",
        workloadSelector: { matchLabels: { app: "v1" } },
      }),
      modelServer("v2", {
        model: "Qwen/Qwen3-0.6B",
        workloadSelector: { matchLabels: { app: "v2" } },
      }),
      modelRoute("mixed", {
        modelName: "mixed",
        rules: [{ targetModels: [{ modelServerName: "mixed" }] }],
      }),
      modelServer("mixed", {
        model: "Qwen/Qwen3-0.6B",
        workloadSelector: { matchLabels: { pool: "mixed" } },
        trafficPolicy: { retry: { attempts: 1, retryInterval: "10ms" } },
      }),
    ],
  });
  try {
    // Put "bad" and "good" in one pool.
    await fleet.write("pods.yaml", [
      fleet.podOf("v1-0"),
      fleet.podOf("v2-0"),
      fleet.podOf("bad-0", { labels: { pool: "mixed" } }),
      fleet.podOf("good-0", { labels: { pool: "mixed" } }),
    ]);
    const deadline = Date.now() + 10_000;
    while (
      (fleet.router.datastore.server("default/mixed")?.endpoints.length ?? 0) < 2 &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const n = 200;
    const counts: Record<string, number> = {};
    await Promise.all(Array.from({ length: n }, async () => {
      const res = await post(fleet.url, "/v1/completions", {
        model: "canary",
        prompt: "x",
        max_tokens: 1,
      });
      await res.body?.cancel();
      equal(res.status, 200);
    }));
    for (const e of fleet.log.filter((e) => e.model_name === "canary")) {
      counts[e.selected_pod!] = (counts[e.selected_pod!] ?? 0) + 1;
    }
    const share = (counts["v1-0"] ?? 0) / n;
    ok(share > 0.55 && share < 0.85, `v1 share ${share}`);

    for (let i = 0; i < 20; i++) {
      const res = await post(fleet.url, "/v1/completions", {
        model: "mixed",
        prompt: "x",
        max_tokens: 1,
      });
      equal(res.status, 200, "a 5xx from one engine is retried on the other");
      await res.body?.cancel();
    }
    const retried = fleet.log.filter((e) => e.model_name === "mixed" && e.upstream_attempts === 2);
    ok(retried.length > 0);
    ok(retried.every((e) => e.selected_pod === "good-0"));
    ok(
      await scrape(fleet.url, "kthena_router_upstream_failures_total", { reason: "status" }) >=
        retried.length,
    );
  } finally {
    await fleet.stop();
  }
});
