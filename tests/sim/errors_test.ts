import assert from "node:assert/strict";
import { errorBody, errorResponse, SimHttpError } from "./errors.ts";

Deno.test("vLLM errors nest under error with the status as code", () => {
  assert.deepEqual(
    errorBody("vllm", new SimHttpError(404, "The model `x` does not exist.", "model")),
    {
      error: {
        message: "The model `x` does not exist.",
        type: "NotFoundError",
        param: "model",
        code: 404,
      },
    },
  );
});

Deno.test("SGLang errors use the flat object: error shape", () => {
  assert.deepEqual(errorBody("sglang", new SimHttpError(400, "bad")), {
    object: "error",
    message: "bad",
    type: "BadRequestError",
    param: null,
    code: 400,
  });
});

Deno.test("errorResponse sets status, JSON content type and extra headers", async () => {
  const res = errorResponse("vllm", new SimHttpError(429, "slow"), { "retry-after": "1" });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "1");
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(((await res.json()) as { error: { type: string } }).error.type, "RateLimitError");
});
