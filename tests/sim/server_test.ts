import assert from "node:assert/strict";
import {
  chat,
  delay,
  postJson,
  postStream,
  readSse,
  sample,
  scrape,
  timedStream,
} from "./_test_helpers.ts";
import type { SimOptions } from "./options.ts";
import type { chatCompletion } from "./openai_format.ts";
import { startSimulator } from "./server.ts";
import { applyChatTemplate, encode } from "./tokenizer.ts";

async function withSim(
  overrides: Partial<SimOptions>,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0, profile: "fast", model: "m", ...overrides });
  try {
    await fn(sim.url);
  } finally {
    await sim.close();
  }
}

Deno.test("chat completion (non-streaming) is shaped like vLLM's and echoes model and request id", async () => {
  await withSim({}, async (url) => {
    const r = await postJson(
      `${url}/v1/chat/completions`,
      chat("Hello there", { max_tokens: 5, seed: 1 }),
      {
        "x-request-id": "req-42",
      },
    );
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-request-id"), "req-42");
    const b = r.body as unknown as ReturnType<typeof chatCompletion>;
    assert.equal(b.id, "chatcmpl-req-42");
    assert.equal(b.object, "chat.completion");
    assert.equal(b.model, "m");
    assert.equal(typeof b.created, "number");
    const choice = b.choices[0]!;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, "assistant");
    assert.equal(typeof choice.message.content, "string");
    assert.equal(choice.message.refusal, null);
    assert.deepEqual(choice.message.tool_calls, []);
    assert.equal(choice.message.reasoning_content, null);
    assert.equal(choice.logprobs, null);
    assert.equal(choice.finish_reason, "length");
    assert.equal(choice.stop_reason, null);
    const prompt = encode(applyChatTemplate([{ role: "user", content: "Hello there" }])).ids.length;
    assert.deepEqual(b.usage, {
      prompt_tokens: prompt,
      total_tokens: prompt + 5,
      completion_tokens: 5,
      prompt_tokens_details: null,
    });
    assert.equal(b.prompt_logprobs, null);
    assert.equal(b.kv_transfer_params, null);
  });
});

Deno.test("chat streaming: role delta, content deltas, finish chunk, usage chunk, [DONE]", async () => {
  await withSim({}, async (url) => {
    const body = chat("Stream me", {
      max_tokens: 6,
      seed: 9,
      stream_options: { include_usage: true },
    });
    const whole = await postJson(`${url}/v1/chat/completions`, {
      ...body,
      stream_options: undefined,
    });
    const res = await postStream(`${url}/v1/chat/completions`, body);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const events = await readSse(res);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) {
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.model, "m");
      assert.match(c.id, /^chatcmpl-/);
    }
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.completion_tokens, 6);
    const finish = chunks.at(-2);
    assert.equal(finish.choices[0].finish_reason, "length");
    assert.deepEqual(finish.choices[0].delta, {});
    const text = chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join("");
    const nonStream =
      (whole.body as { choices: [{ message: { content: string } }] }).choices[0].message.content;
    assert.equal(text, nonStream, "same seed, same text, streamed or not");
  });
});

Deno.test("completions: non-streaming and streaming, token-id prompts, echo", async () => {
  await withSim({}, async (url) => {
    const r = await postJson(`${url}/v1/completions`, {
      model: "m",
      prompt: "Once upon",
      max_tokens: 4,
      seed: 3,
    });
    assert.equal(r.status, 200);
    const b = r.body as {
      id: string;
      object: string;
      choices: [{ text: string; finish_reason: string }];
    } & {
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    assert.match(b.id, /^cmpl-/);
    assert.equal(b.object, "text_completion");
    assert.equal(b.usage.prompt_tokens, encode("Once upon", true).ids.length);
    assert.equal(b.usage.completion_tokens, 4);
    const s = await timedStream(`${url}/v1/completions`, {
      model: "m",
      prompt: "Once upon",
      max_tokens: 4,
      seed: 3,
      stream_options: { include_usage: true },
    });
    assert.equal(s.text, b.choices[0].text);
    assert.equal(s.chunks.at(-2)!.object, "text_completion");
    assert.equal(
      (s.chunks.at(-2)!.choices as [{ finish_reason: string }])[0].finish_reason,
      "length",
    );
    const ids = await postJson(`${url}/v1/completions`, {
      prompt: [1, 500, 600, 700],
      max_tokens: 2,
    });
    assert.equal((ids.body.usage as { prompt_tokens: number }).prompt_tokens, 4);
    const echo = await postJson(`${url}/v1/completions`, {
      prompt: "Echo:",
      max_tokens: 2,
      echo: true,
    });
    assert.ok((echo.body as { choices: [{ text: string }] }).choices[0].text.startsWith("Echo:"));
  });
});

Deno.test("max_completion_tokens wins over max_tokens; stop strings; natural EOS gives stop", async () => {
  await withSim({ outputLenMin: 8, outputLenMax: 8 }, async (url) => {
    const both = await postJson(
      `${url}/v1/chat/completions`,
      chat("x", { max_tokens: 7, max_completion_tokens: 3 }),
    );
    assert.equal((both.body.usage as { completion_tokens: number }).completion_tokens, 3);
    const natural = await postJson(`${url}/v1/chat/completions`, chat("x", { seed: 5 }));
    const choice =
      (natural.body.choices as [{ finish_reason: string; message: { content: string } }])[0];
    assert.equal(choice.finish_reason, "stop");
    assert.equal((natural.body.usage as { completion_tokens: number }).completion_tokens, 8);
    const words = choice.message.content.split(" ");
    const stopWord = " " + words[2];
    const stopped = await postJson(
      `${url}/v1/chat/completions`,
      chat("x", { seed: 5, stop: [stopWord] }),
    );
    const sc = (stopped.body.choices as [
      { finish_reason: string; stop_reason: string; message: { content: string } },
    ])[0];
    assert.equal(sc.finish_reason, "stop");
    assert.equal(sc.stop_reason, stopWord);
    assert.equal(
      sc.message.content,
      choice.message.content.slice(0, choice.message.content.indexOf(stopWord)),
    );
    const ignore = await postJson(
      `${url}/v1/chat/completions`,
      chat("x", { seed: 5, max_tokens: 20, ignore_eos: true }),
    );
    assert.equal((ignore.body.usage as { completion_tokens: number }).completion_tokens, 20);
  });
});

Deno.test("output is deterministic for a request seed and for the --seed flag", async () => {
  await withSim({ seed: 11 }, async (url) => {
    const get = async (body: Record<string, unknown>) =>
      ((await postJson(`${url}/v1/chat/completions`, body)).body.choices as [
        { message: { content: string } },
      ])[0]
        .message.content;
    assert.equal(
      await get(chat("same prompt", { max_tokens: 12 })),
      await get(chat("same prompt", { max_tokens: 12 })),
    );
    assert.equal(
      await get(chat("prompt a", { max_tokens: 12, seed: 4 })),
      await get(chat("prompt b", { max_tokens: 12, seed: 4 })),
    );
    assert.notEqual(
      await get(chat("p", { max_tokens: 12, seed: 4 })),
      await get(chat("p", { max_tokens: 12, seed: 5 })),
    );
  });
});

Deno.test("GET /v1/models, /health, /version and unknown routes", async () => {
  await withSim({ model: "llama", loras: ["sql", "poet"] }, async (url) => {
    const models = await (await fetch(`${url}/v1/models`)).json();
    assert.equal(models.object, "list");
    assert.deepEqual(models.data.map((d: { id: string }) => d.id), ["llama", "sql", "poet"]);
    assert.equal(models.data[0].owned_by, "vllm");
    assert.equal(models.data[0].max_model_len, 8192);
    assert.equal(models.data[1].parent, "llama");
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "");
    const version = await (await fetch(`${url}/version`)).json();
    assert.equal(typeof version.version, "string");
    const missing = await fetch(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { detail: "Not Found" });
  });
});

Deno.test("/health is 503 during the startup delay, then 200", async () => {
  await withSim({ startupDelayMs: 400 }, async (url) => {
    const early = await fetch(`${url}/health`);
    await early.body?.cancel();
    assert.equal(early.status, 503);
    const req = await postJson(`${url}/v1/chat/completions`, chat("hi", { max_tokens: 1 }));
    assert.equal(req.status, 503);
    await delay(600);
    const later = await fetch(`${url}/health`);
    await later.body?.cancel();
    assert.equal(later.status, 200);
  });
});

Deno.test("POST /tokenize answers in vLLM's shape and matches the chat prompt count", async () => {
  await withSim({}, async (url) => {
    const plain = await postJson(`${url}/tokenize`, {
      model: "m",
      prompt: "Hello world",
      return_token_strs: true,
    });
    assert.equal(plain.status, 200);
    assert.deepEqual(Object.keys(plain.body), ["count", "max_model_len", "tokens", "token_strs"]);
    assert.deepEqual(plain.body.token_strs, ["<s>", "Hell", "o", " worl", "d"]);
    assert.equal(plain.body.max_model_len, 8192);
    const msgs = [{ role: "user", content: "How long is this?" }];
    const tok = await postJson(`${url}/tokenize`, {
      model: "m",
      messages: msgs,
      add_special_tokens: false,
      add_generation_prompt: true,
      return_token_strs: false,
    });
    assert.equal(tok.body.token_strs, null);
    const done = await postJson(`${url}/v1/chat/completions`, {
      model: "m",
      messages: msgs,
      max_tokens: 1,
    });
    assert.equal(tok.body.count, (done.body.usage as { prompt_tokens: number }).prompt_tokens);
    assert.equal((tok.body.tokens as number[]).length, tok.body.count);
  });
});

Deno.test("errors: bad JSON, missing fields, unknown model, context length, bad limits", async () => {
  await withSim({ maxModelLen: 64, numGpuBlocks: 64 }, async (url) => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      ["{not json", 400, "BadRequestError", /JSON decode error/],
      [{ model: "m" }, 400, "BadRequestError", /'messages'.*Field required/],
      [chat("hi", { model: "gpt-9" }), 404, "NotFoundError", /The model `gpt-9` does not exist/],
      [chat("word ".repeat(80)), 400, "BadRequestError", /maximum context length is 64 tokens/],
      [
        chat("hi", { max_tokens: 60 }),
        400,
        "BadRequestError",
        /'max_tokens' or 'max_completion_tokens' is too large: 60/,
      ],
      [chat("hi", { max_tokens: 0 }), 400, "BadRequestError", /at least 1/],
      [chat("hi", { n: 2 }), 400, "BadRequestError", /n > 1/],
      [chat("hi", { max_tokens: "x" }), 400, "BadRequestError", /max_tokens/],
      [
        chat("hi", { stream_options: { include_usage: true } }),
        400,
        "BadRequestError",
        /stream=True/,
      ],
    ];
    for (const [body, status, type, message] of cases) {
      const r = await postJson(`${url}/v1/chat/completions`, body);
      assert.equal(r.status, status, JSON.stringify(body));
      const err = r.body.error as { message: string; type: string; param: unknown; code: number };
      assert.deepEqual(Object.keys(err), ["message", "type", "param", "code"]);
      assert.equal(err.type, type);
      assert.equal(err.code, status);
      assert.match(err.message, message);
    }
    const unknown = await postJson(`${url}/v1/completions`, { model: "nope", prompt: "x" });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body.error as { param: string }).param, "model");
  });
});

Deno.test("--engine sglang: SGLang error shape, owned_by and metric names", async () => {
  await withSim({ engine: "sglang" }, async (url) => {
    const r = await postJson(`${url}/v1/chat/completions`, chat("hi", { model: "x" }));
    assert.equal(r.status, 404);
    assert.equal(r.body.object, "error");
    assert.equal(r.body.code, 404);
    const ok = await postJson(`${url}/v1/chat/completions`, chat("hi", { max_tokens: 2 }));
    assert.equal(ok.status, 200);
    const models = await (await fetch(`${url}/v1/models`)).json();
    assert.equal(models.data[0].owned_by, "sglang");
    const f = await scrape(url);
    assert.equal(sample(f, "sglang:num_running_reqs"), 0);
    assert.equal(sample(f, "sglang:generation_tokens_total"), 2);
    assert.equal(f.has("vllm:num_requests_running"), false);
  });
});

Deno.test("metrics reflect finished requests (vLLM names, parsed back)", async () => {
  await withSim({ model: "m" }, async (url) => {
    for (let i = 0; i < 3; i++) {
      await postJson(
        `${url}/v1/chat/completions`,
        chat(`count me ${"please ".repeat(40)}`, { max_tokens: 4 }),
      );
    }
    const f = await scrape(url);
    assert.equal(sample(f, "vllm:num_requests_running", { model_name: "m", engine: "0" }), 0);
    assert.equal(sample(f, "vllm:num_requests_waiting"), 0);
    assert.equal(sample(f, "vllm:kv_cache_usage_perc"), 0);
    assert.equal(sample(f, "vllm:request_success_total", { finished_reason: "length" }), 3);
    assert.equal(sample(f, "vllm:generation_tokens_total"), 12);
    assert.ok(sample(f, "vllm:prefix_cache_queries_total") > 0);
    assert.ok(
      sample(f, "vllm:prefix_cache_hits_total") > 0,
      "the 2nd and 3rd requests hit the cache",
    );
    assert.equal(sample(f, "vllm:time_to_first_token_seconds_count"), 3);
    assert.equal(sample(f, "vllm:inter_token_latency_seconds_count"), 9);
    assert.equal(sample(f, "vllm:e2e_request_latency_seconds_count"), 3);
    assert.equal(f.get("vllm:cache_config_info")!.metrics[0]!.labels!.num_gpu_blocks, "8192");
  });
});

Deno.test("--time-scale 0 answers at once even with a slow profile", async () => {
  await withSim({ profile: "h100-70b", timeScale: 0 }, async (url) => {
    const start = performance.now();
    const r = await postJson(
      `${url}/v1/chat/completions`,
      chat("fast please", { max_tokens: 500, ignore_eos: true }),
    );
    assert.equal(r.status, 200);
    const s = await timedStream(
      `${url}/v1/chat/completions`,
      chat("fast please", { max_tokens: 500, ignore_eos: true }),
    );
    assert.equal(s.text.length > 0, true);
    assert.ok(performance.now() - start < 5000, "500 tokens at 28 ms would take 14 s");
  });
});
