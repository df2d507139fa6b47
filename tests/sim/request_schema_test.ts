import assert from "node:assert/strict";
import { SimHttpError } from "./errors.ts";
import {
  chatRequestSchema,
  completionRequestSchema,
  tokenizeRequestSchema,
  validateBody,
} from "./request_schema.ts";

Deno.test("valid bodies pass and keep unknown fields", () => {
  const b = validateBody(chatRequestSchema, {
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    temperature: 0.3,
    kv_transfer_params: { do_remote_decode: true },
  });
  assert.equal((b as Record<string, unknown>).temperature, 0.3);
  assert.deepEqual(validateBody(completionRequestSchema, { prompt: [1, 2, 3] }).prompt, [1, 2, 3]);
});

Deno.test("missing and mistyped fields give vLLM-style 400 messages", () => {
  const err = (() => {
    try {
      validateBody(completionRequestSchema, { model: "m" });
    } catch (e) {
      return e as SimHttpError;
    }
    throw new Error("no error");
  })();
  assert.equal(err.status, 400);
  assert.equal(err.param, "prompt");
  assert.match(err.message, /'loc': \('body', 'prompt'\), 'msg': 'Field required'/);
  assert.throws(
    () =>
      validateBody(chatRequestSchema, {
        messages: [{ role: "user", content: "x" }],
        max_tokens: "ten",
      }),
    (e: SimHttpError) => e.status === 400 && e.param === "max_tokens",
  );
  assert.throws(() => validateBody(tokenizeRequestSchema, { model: "m" }), SimHttpError);
});
