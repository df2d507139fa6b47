import assert from "node:assert/strict";
import {
  applyChatTemplate,
  contentText,
  countTokens,
  encode,
  SPECIAL_TOKENS,
  VOCAB_SIZE,
} from "./tokenizer.ts";

Deno.test("encode splits words, keeps leading spaces and cuts long words into 4-char pieces", () => {
  const { pieces, ids } = encode("Hello wonderful world, 2024!");
  assert.deepEqual(pieces, ["Hell", "o", " wond", "erfu", "l", " worl", "d", ",", " 2024", "!"]);
  assert.equal(ids.length, pieces.length);
  assert.equal(pieces.join(""), "Hello wonderful world, 2024!");
  for (const id of ids) assert.ok(id >= 256 && id < VOCAB_SIZE);
});

Deno.test("encode is deterministic and maps equal pieces to equal ids", () => {
  const a = encode("the cat and the hat");
  assert.deepEqual(a, encode("the cat and the hat"));
  assert.equal(a.ids[0] === a.ids[3], false); // "the" vs " the" differ
  assert.equal(a.ids[1] !== a.ids[3], true);
  assert.equal(encode(" the").ids[0], a.ids[3]);
});

Deno.test("special tokens are single tokens and BOS is optional", () => {
  const e = encode("<|im_start|>user\nhi<|im_end|>", true);
  assert.equal(e.ids[0], SPECIAL_TOKENS.bos.id);
  assert.equal(e.ids[1], SPECIAL_TOKENS.imStart.id);
  assert.equal(e.ids.at(-1), SPECIAL_TOKENS.imEnd.id);
  assert.equal(countTokens(""), 0);
});

Deno.test("a conversation prefix renders to a token prefix", () => {
  const turn1 = [{ role: "system", content: "You are terse." }, {
    role: "user",
    content: "What is a KV cache?",
  }];
  const turn2 = [...turn1, { role: "assistant", content: "A cache of attention keys." }, {
    role: "user",
    content: "And prefix caching?",
  }];
  const a = encode(applyChatTemplate(turn1, false)).ids;
  const b = encode(applyChatTemplate(turn2)).ids;
  assert.ok(b.length > a.length);
  assert.deepEqual(b.slice(0, a.length), a);
});

Deno.test("chat template is ChatML with a generation prompt", () => {
  assert.equal(
    applyChatTemplate([{ role: "user", content: "hi" }]),
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
  );
  assert.equal(
    applyChatTemplate([{ role: "user", content: "hi" }], false),
    "<|im_start|>user\nhi<|im_end|>\n",
  );
});

Deno.test("contentText flattens content parts like vLLM", () => {
  assert.equal(contentText("x"), "x");
  assert.equal(contentText(null), "");
  assert.equal(
    contentText([{ type: "text", text: "a" }, { type: "image_url" }, { type: "text", text: "b" }]),
    "a\n<image_url>\nb",
  );
});
