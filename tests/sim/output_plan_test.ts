import assert from "node:assert/strict";
import { type PlanInput, planOutput } from "./output_plan.ts";
import { encode } from "./tokenizer.ts";

const base: PlanInput = {
  seed: 1,
  maxTokens: 1000,
  ignoreEos: false,
  stop: [],
  mode: "random",
  echoText: "",
  minLen: 10,
  maxLen: 20,
  eosId: 2,
};

Deno.test("the same seed gives the same text; another seed another text", () => {
  const a = planOutput(base);
  assert.deepEqual(planOutput(base), a);
  const b = planOutput({ ...base, seed: 2 });
  assert.notEqual(a.tokens.map((t) => t.text).join(""), b.tokens.map((t) => t.text).join(""));
});

Deno.test("natural length ends with EOS and finish_reason stop", () => {
  const p = planOutput(base);
  assert.equal(p.finishReason, "stop");
  assert.ok(p.tokens.length >= 10 && p.tokens.length <= 20);
  assert.equal(p.tokens.at(-1)!.id, 2);
  assert.equal(p.tokens.at(-1)!.text, "");
});

Deno.test("max_tokens caps the output with finish_reason length; a shorter cap is a prefix", () => {
  const long = planOutput({ ...base, ignoreEos: true, maxTokens: 50 });
  assert.equal(long.tokens.length, 50);
  assert.equal(long.finishReason, "length");
  const short = planOutput({ ...base, maxTokens: 3 });
  assert.equal(short.finishReason, "length");
  assert.deepEqual(short.tokens, long.tokens.slice(0, 3));
});

Deno.test("each output word re-tokenizes to the planned id", () => {
  const p = planOutput({ ...base, ignoreEos: true, maxTokens: 40 });
  for (const t of p.tokens) assert.deepEqual(encode(t.text).ids, [t.id]);
});

Deno.test("stop strings cut the text before the match and report stop_reason", () => {
  const full = planOutput({ ...base, ignoreEos: true, maxTokens: 30 });
  const text = full.tokens.map((t) => t.text).join("");
  const word = full.tokens[5]!.text; // e.g. " the"
  const at = text.indexOf(word);
  const p = planOutput({ ...base, ignoreEos: true, maxTokens: 30, stop: [word] });
  assert.equal(p.finishReason, "stop");
  assert.equal(p.stopReason, word);
  assert.equal(p.tokens.map((t) => t.text).join(""), text.slice(0, at));
});

Deno.test("a stop string spanning two tokens is removed from both", () => {
  const full = planOutput({ ...base, ignoreEos: true, maxTokens: 30 });
  const stop = full.tokens[3]!.text.slice(-2) + full.tokens[4]!.text.slice(0, 2);
  const text = full.tokens.map((t) => t.text).join("");
  const p = planOutput({ ...base, ignoreEos: true, maxTokens: 30, stop: [stop] });
  assert.equal(p.tokens.map((t) => t.text).join(""), text.slice(0, text.indexOf(stop)));
});

Deno.test("echo mode repeats the prompt then stops", () => {
  const p = planOutput({ ...base, mode: "echo", echoText: "ping pong" });
  assert.equal(p.tokens.map((t) => t.text).join(""), "ping pong");
  assert.equal(p.finishReason, "stop");
  const capped = planOutput({ ...base, mode: "echo", echoText: "ping pong", maxTokens: 1 });
  assert.equal(capped.finishReason, "length");
});
