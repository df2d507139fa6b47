import { equal, throws } from "node:assert/strict";
import { parseJsonLossless, rawJson } from "./lossless_json.ts";

Deno.test("parseJsonLossless: a rewritten body keeps the client's digits", () => {
  const cases: { input: string; output: string }[] = [
    { input: '{"seed":9223372036854775807}', output: '{"seed":9223372036854775807,"model":"m"}' },
    { input: '{"seed":-9223372036854775808}', output: '{"seed":-9223372036854775808,"model":"m"}' },
    {
      input: '{"a":[12345678901234567890,1]}',
      output: '{"a":[12345678901234567890,1],"model":"m"}',
    },
    { input: '{"big":1e400}', output: '{"big":1e400,"model":"m"}' },
    // Safe numbers are plain numbers, written as JavaScript writes them.
    {
      input: '{"t":0.7,"n":9007199254740991}',
      output: '{"t":0.7,"n":9007199254740991,"model":"m"}',
    },
    {
      input: '{"t":1.0,"p":"1234567890123456789"}',
      output: '{"t":1,"p":"1234567890123456789","model":"m"}',
    },
  ];
  for (const c of cases) {
    const body = parseJsonLossless(c.input) as Record<string, unknown>;
    equal(JSON.stringify({ ...body, model: "m" }), c.output, c.input);
  }
  equal(typeof (parseJsonLossless('{"n":9007199254740991}') as { n: unknown }).n, "number");
});

Deno.test("parseJsonLossless: bad JSON throws SyntaxError, as JSON.parse", () => {
  throws(() => parseJsonLossless("{"), SyntaxError);
  throws(() => parseJsonLossless('{"seed":12345678901234567890'), SyntaxError);
});

Deno.test("rawJson is written verbatim", () => {
  equal(JSON.stringify({ room: rawJson("9223372036854775807") }), '{"room":9223372036854775807}');
});
