import assert from "node:assert/strict";
import { chatCompletion, completion, modelList, SseFrames, usage } from "./openai_format.ts";

const meta = { id: "chatcmpl-1", created: 5, model: "m" };
const out = {
  text: "Hi",
  finishReason: "stop" as const,
  stopReason: null,
  usage: usage(3, 1),
  kvTransferParams: null,
};

Deno.test("chat completion has vLLM's fields", () => {
  const b = chatCompletion(meta, out);
  assert.deepEqual(Object.keys(b), [
    "id",
    "object",
    "created",
    "model",
    "choices",
    "service_tier",
    "system_fingerprint",
    "usage",
    "prompt_logprobs",
    "prompt_token_ids",
    "kv_transfer_params",
  ]);
  assert.deepEqual(b.choices[0]!.message.tool_calls, []);
  assert.equal(b.choices[0]!.message.refusal, null);
  assert.equal(b.choices[0]!.message.reasoning_content, null);
  assert.equal(b.choices[0]!.stop_reason, null);
  assert.deepEqual(b.usage, {
    prompt_tokens: 3,
    total_tokens: 4,
    completion_tokens: 1,
    prompt_tokens_details: null,
  });
});

Deno.test("text completion has text_completion shape", () => {
  const b = completion({ ...meta, id: "cmpl-1" }, out);
  assert.equal(b.object, "text_completion");
  assert.equal(b.choices[0]!.text, "Hi");
  assert.equal(b.kv_transfer_params, null);
});

Deno.test("SSE frames are valid JSON chunks", () => {
  const f = new SseFrames("chat", meta, false);
  const parse = (s: string) => JSON.parse(s.replace(/^data: /, "").trim());
  assert.deepEqual(parse(f.start()).choices[0].delta, { role: "assistant", content: "" });
  assert.equal(parse(f.content('a"b')).choices[0].delta.content, 'a"b');
  const fin = parse(f.finish("length", null, usage(1, 1)));
  assert.equal(fin.choices[0].finish_reason, "length");
  assert.equal(fin.usage, undefined, "usage only with continuous_usage_stats");
  assert.deepEqual(parse(f.usage(usage(1, 2))).choices, []);
  const c = new SseFrames("completion", meta, true);
  const chunk = parse(c.content("x", usage(1, 1)));
  assert.equal(chunk.object, "text_completion");
  assert.equal(chunk.usage.total_tokens, 2);
  assert.equal(c.start(), "");
});

Deno.test("model list shows the base model and adapters", () => {
  const l = modelList({
    base: "m",
    maxModelLen: 4096,
    ownedBy: "vllm",
    created: 1,
    adapters: [{ name: "a", path: "/a", created: 2 }],
  });
  assert.equal(l.data[0]!.max_model_len, 4096);
  assert.equal(l.data[1]!.parent, "m");
  assert.equal(l.data[1]!.root, "/a");
  assert.equal(l.data[1]!.max_model_len, null);
});
