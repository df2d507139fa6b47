import { deepEqual, equal } from "node:assert/strict";
import { prefillBody, stringifyWithRawFields, withModel, withStreamUsage } from "./bodies.ts";

Deno.test("withModel replaces the model without touching the input", () => {
  const body = { model: "alias", prompt: "x" };
  deepEqual(withModel(body, "real"), { model: "real", prompt: "x" });
  equal(withModel(body, undefined), body);
  equal(withModel(body, "alias"), body);
  equal(body.model, "alias");
});

Deno.test("withStreamUsage table", () => {
  const cases: [Record<string, unknown>, Record<string, unknown>, boolean][] = [
    [{ stream: false }, { stream: false }, false],
    [{}, {}, false],
    [{ stream: true }, { stream: true, stream_options: { include_usage: true } }, true],
    [
      // Without include_usage the engine sends no per-chunk usage; injecting it must not
      // turn that on for the client.
      { stream: true, stream_options: { continuous_usage_stats: true } },
      { stream: true, stream_options: { continuous_usage_stats: false, include_usage: true } },
      true,
    ],
    [
      { stream: true, stream_options: { include_usage: false, continuous_usage_stats: true } },
      { stream: true, stream_options: { include_usage: true, continuous_usage_stats: false } },
      true,
    ],
    [
      { stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } },
      { stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } },
      false,
    ],
    [{ stream: true, stream_options: { include_usage: false } }, {
      stream: true,
      stream_options: { include_usage: true },
    }, true],
    [{ stream: true, stream_options: { include_usage: true } }, {
      stream: true,
      stream_options: { include_usage: true },
    }, false],
    [{ stream: true, stream_options: null }, {
      stream: true,
      stream_options: { include_usage: true },
    }, true],
  ];
  for (const [input, body, injected] of cases) {
    const frozen = structuredClone(input);
    deepEqual(withStreamUsage(input), { body, injected }, JSON.stringify(input));
    deepEqual(input, frozen);
  }
});

Deno.test("withStreamUsage: SGLang sends per-chunk usage without include_usage; left as sent", () => {
  deepEqual(
    withStreamUsage({ stream: true, stream_options: { continuous_usage_stats: true } }, "SGLang"),
    {
      body: { stream: true, stream_options: { continuous_usage_stats: true, include_usage: true } },
      injected: true,
    },
  );
});

Deno.test("prefillBody: one token, no stream, no min tokens", () => {
  deepEqual(
    prefillBody({
      model: "m",
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
      max_completion_tokens: 64,
      min_tokens: 4,
      temperature: 0,
    }),
    { model: "m", messages: [], max_tokens: 1, max_completion_tokens: 1, temperature: 0 },
  );
  deepEqual(prefillBody({ model: "m" }), { model: "m", max_tokens: 1 });
});

Deno.test("stringifyWithRawFields keeps 63-bit integers exact and replaces existing keys", () => {
  const text = stringifyWithRawFields({ model: "m", bootstrap_room: 1 }, {
    bootstrap_room: "9223372036854775807",
    bootstrap_host: '"10.0.0.1"',
  });
  equal(text, '{"model":"m","bootstrap_room":9223372036854775807,"bootstrap_host":"10.0.0.1"}');
  equal(stringifyWithRawFields({}, { a: "1" }), '{"a":1}');
  equal(stringifyWithRawFields({ a: 1 }, {}), '{"a":1}');
});
