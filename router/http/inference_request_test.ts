import { equal, throws } from "node:assert/strict";
import {
  jsonDepthExceeds,
  MAX_JSON_DEPTH,
  parseInferenceRequest,
  validateInferenceRequest,
} from "./inference_request.ts";
import { RouterError } from "./errors.ts";

Deno.test("jsonDepthExceeds: counts only structural brackets, linearly, without recursion", () => {
  const cases: [string, number, boolean][] = [
    ["{}", 1, false],
    ["{}", 0, true],
    ['{"a":[{"b":[]}]}', 4, false],
    ['{"a":[{"b":[]}]}', 3, true],
    ['{"a":"[[[["}', 1, false],
    ['{"a":"\\"[[["}', 1, false],
    ['{"a":"\\\\"}', 1, false],
    ['{"a":"\\\\",[[]]}', 2, true],
    ['{"unterminated":"[[[[', 1, false],
    ["[".repeat(1_000_000), 128, true],
  ];
  for (const [text, limit, expected] of cases) {
    equal(jsonDepthExceeds(text, limit), expected, `${text.slice(0, 40)} / ${limit}`);
  }
});

Deno.test("parseInferenceRequest: too deep is a 400 invalid_request_error", () => {
  const deep = `{"model":"m","x":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}`;
  throws(() => parseInferenceRequest(deep), (e: unknown) => {
    equal((e as RouterError).status, 400);
    equal((e as RouterError).type, "invalid_request_error");
    equal((e as RouterError).code, "json_too_deep");
    return true;
  });
  const fits = `{"model":"m","x":${"[".repeat(MAX_JSON_DEPTH - 1)}${
    "]".repeat(MAX_JSON_DEPTH - 1)
  }}`;
  equal(parseInferenceRequest(fits).model, "m");
});

Deno.test("validateInferenceRequest: stream_options needs stream on chat and completions (Python truthiness)", () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    ["/v1/chat/completions", { stream_options: { include_usage: true } }, false],
    ["/v1/completions", { stream: false, stream_options: { include_usage: true } }, false],
    ["/v1/completions", { stream: 0, stream_options: { a: 1 } }, false],
    ["/v1/completions", { stream: true, stream_options: { include_usage: true } }, true],
    ["/v1/completions", { stream: 1, stream_options: { include_usage: true } }, true],
    ["/v1/completions", { stream: false, stream_options: {} }, true],
    ["/v1/completions", { stream: false, stream_options: null }, true],
    ["/v1/embeddings", { stream_options: { include_usage: true } }, true],
  ];
  for (const [path, body, valid] of cases) {
    let ok = true;
    try {
      validateInferenceRequest(path, { model: "m", ...body });
    } catch (e) {
      ok = false;
      equal((e as RouterError).status, 400);
    }
    equal(ok, valid, `${path} ${JSON.stringify(body)}`);
  }
});
