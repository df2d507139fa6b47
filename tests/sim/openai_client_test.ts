import assert from "node:assert/strict";
import OpenAI from "openai";
import { startSimulator } from "./server.ts";

Deno.test("the official openai client works: chat and completions, streaming and not", async () => {
  const sim = await startSimulator({
    port: 0,
    profile: "fast",
    model: "sim-llama",
    loras: ["sql"],
  });
  const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: "unused", maxRetries: 0 });
  try {
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ["sim-llama", "sql"]);

    const c = await client.chat.completions.create({
      model: "sim-llama",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi!" }],
      max_completion_tokens: 8,
      seed: 1,
    });
    assert.equal(c.object, "chat.completion");
    assert.equal(c.choices[0]!.finish_reason, "length");
    assert.equal(c.usage!.completion_tokens, 8);
    assert.ok(c.choices[0]!.message.content!.length > 0);

    const stream = await client.chat.completions.create({
      model: "sql",
      messages: [{ role: "user", content: "Hi!" }],
      max_tokens: 5,
      seed: 1,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usageTokens = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.model, "sql");
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usageTokens = chunk.usage.completion_tokens;
    }
    assert.ok(text.length > 0);
    assert.equal(finish, "length");
    assert.equal(usageTokens, 5);

    const comp = await client.completions.create({
      model: "sim-llama",
      prompt: "Once",
      max_tokens: 4,
      seed: 2,
    });
    assert.equal(comp.object, "text_completion");
    assert.equal(comp.usage!.completion_tokens, 4);
    const cs = await client.completions.create({
      model: "sim-llama",
      prompt: "Once",
      max_tokens: 4,
      seed: 2,
      stream: true,
    });
    let ctext = "";
    for await (const chunk of cs) ctext += chunk.choices[0]?.text ?? "";
    assert.equal(ctext, comp.choices[0]!.text);

    await assert.rejects(
      client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && /does not exist/.test(e.message),
    );
    await assert.rejects(
      client.chat.completions.create({
        model: "sim-llama",
        messages: [{ role: "user", content: "x" }],
        max_tokens: 100000,
      }),
      (e: unknown) => e instanceof OpenAI.BadRequestError,
    );
  } finally {
    await sim.close();
  }
});
