import { deepEqual, equal, ok } from "node:assert/strict";
import { type Endpoint, makeEndpoint } from "../datastore/endpoint.ts";
import { startFakeEngine } from "../testing/fake_engine.ts";
import { modelServer, pod } from "../testing/objects.ts";
import type { PdAttempt } from "./connector.ts";
import { EngineClient } from "../proxy/engine_client.ts";
import { decodeKvTransferParams, NixlConnector, PREFILL_KV_TRANSFER_PARAMS } from "./nixl.ts";
import { connectorFor } from "./select.ts";
import { randomBootstrapRoom } from "./sglang.ts";

Deno.test("connectorFor table", () => {
  const sel = { workloadSelector: { matchLabels: { a: "b" } } };
  const cases: [Parameters<typeof modelServer>[1], string][] = [
    [sel, "http"],
    [{ ...sel, kvConnector: {} }, "http"],
    [{ ...sel, kvConnector: { type: "lmcache" } }, "lmcache"],
    [{ ...sel, kvConnector: { type: "nixl" } }, "nixl"],
    [{ ...sel, kvConnector: { type: "mooncake" } }, "mooncake"],
    [{ ...sel, kvConnector: { type: "sglang" } }, "sglang"],
    [{ ...sel, inferenceEngine: "SGLang" }, "sglang"],
    [{ ...sel, inferenceEngine: "SGLang", kvConnector: { type: "mooncake" } }, "sglang"],
  ];
  for (const [spec, want] of cases) {
    equal(connectorFor(modelServer("s", spec)).type, want, JSON.stringify(spec));
  }
});

Deno.test("NIXL prefill params are vLLM proxy's", () => {
  deepEqual(PREFILL_KV_TRANSFER_PARAMS, {
    do_remote_decode: true,
    do_remote_prefill: false,
    remote_engine_id: null,
    remote_block_ids: null,
    remote_host: null,
    remote_port: null,
  });
});

Deno.test("decodeKvTransferParams table: verbatim, remote_host fixed when unroutable or absent", () => {
  const params = {
    do_remote_prefill: true,
    remote_engine_id: "e",
    remote_block_ids: [[1, 2]],
    remote_port: 5600,
  };
  const cases: [string, unknown][] = [
    [JSON.stringify({ kv_transfer_params: { ...params, remote_host: "10.1.1.1" } }), {
      ...params,
      remote_host: "10.1.1.1",
    }],
    [JSON.stringify({ kv_transfer_params: { ...params, remote_host: "localhost" } }), {
      ...params,
      remote_host: "10.0.0.9",
    }],
    [JSON.stringify({ kv_transfer_params: { ...params, remote_host: null } }), {
      ...params,
      remote_host: "10.0.0.9",
    }],
    [JSON.stringify({ kv_transfer_params: params }), { ...params, remote_host: "10.0.0.9" }],
    [JSON.stringify({ kv_transfer_params: { ...params, remote_host: "0.0.0.0" } }), {
      ...params,
      remote_host: "10.0.0.9",
    }],
    [JSON.stringify({ choices: [] }), null],
    [JSON.stringify({ kv_transfer_params: null }), null],
    ["not json", null],
  ];
  for (const [text, want] of cases) deepEqual(decodeKvTransferParams(text, "10.0.0.9"), want, text);
});

Deno.test("bootstrap rooms are 63-bit and vary", () => {
  const rooms = new Set(Array.from({ length: 100 }, randomBootstrapRoom));
  equal(rooms.size, 100);
  for (const r of rooms) equal(BigInt(r) >= 0n && BigInt(r) < 2n ** 63n, true);
});

Deno.test("decodeKvTransferParams keeps integers beyond 2^53 digit for digit", () => {
  const big = "18446744073709551617";
  const params = decodeKvTransferParams(
    `{"kv_transfer_params":{"remote_request_id":${big},"remote_block_ids":[[${big},1]]}}`,
    "10.0.0.9",
  );
  equal(
    JSON.stringify(params),
    `{"remote_request_id":${big},"remote_block_ids":[[${big},1]],"remote_host":"10.0.0.9"}`,
  );
});

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("NIXL: an unreachable decode is retried on its group's other decodes with the same params; a refusing one gets a release", async () => {
  const big = "123456789012345678901234567890";
  const prefillEngine = startFakeEngine(() =>
    new Response(
      `{"choices":[],"kv_transfer_params":{"do_remote_prefill":true,"remote_engine_id":"E",` +
        `"remote_request_id":${big},"remote_block_ids":[[7]],"remote_host":"10.1.1.1",` +
        `"remote_port":5600}}`,
      { headers: { "content-type": "application/json" } },
    )
  );
  const good = startFakeEngine(() => Response.json({ choices: [{ index: 0, text: "ok" }] }));
  const refusing = startFakeEngine(({ body }) =>
    body.max_tokens === 1
      ? Response.json({ choices: [] })
      : Response.json({ error: { message: "too long" } }, { status: 400 })
  );
  const ep = (name: string, port: number, role: "prefill" | "decode", group = "g") =>
    makeEndpoint(pod(name), port, { role, group });
  const started: string[] = [];
  const attempt = (decodeAlternates: Endpoint[]): PdAttempt => ({
    pair: { prefill: ep("p", prefillEngine.port, "prefill"), decode: dead },
    path: "/v1/completions",
    headers: [["content-type", "application/json"]],
    prefillBody: { model: "m", prompt: "x", max_tokens: 1 },
    decodeBody: { model: "m", prompt: "x", max_tokens: 9 },
    signal: new AbortController().signal,
    client,
    timeouts: { firstByteMs: 5000 },
    legs: {
      start: (role, endpoint) => {
        started.push(`${role}:${endpoint.name}`);
        return () => {};
      },
    },
    decodeAlternates,
  });
  const dead = ep("dead", closedPort(), "decode");
  const client = new EngineClient();
  try {
    const nixl = new NixlConnector();
    // Without alternates the connect failure is the attempt's.
    const alone = await nixl.run(attempt([]));
    equal(alone.ok, false);
    equal(!alone.ok && alone.failure.kind, "connect");

    // Alternates: the dead one and another group's are skipped; the good one serves.
    const other = ep("other-group", good.port, "decode", "h");
    const served = await nixl.run(attempt([dead, other, ep("good", good.port, "decode")]));
    ok(served.ok);
    equal(served.ok && served.endpoint.name, "good");
    if (served.ok) {
      await served.response.text();
      served.endDecode(200);
    }
    equal(good.requests.length, 1);
    const sent = good.requests[0]!;
    equal(sent.body.max_tokens, 9, "the client's decode body");
    ok(sent.text.includes(`"remote_request_id":${big}`), sent.text);
    deepEqual(started, [
      "prefill:p",
      "decode:dead",
      "prefill:p",
      "decode:dead",
      "decode:good",
    ]);

    // An alternate that refuses gets the release (one token, same params).
    const refused = await nixl.run(attempt([ep("refusing", refusing.port, "decode")]));
    equal(!refused.ok && refused.failure.status, 400);
    for (let i = 0; i < 100 && refusing.requests.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    equal(refusing.requests.length, 2);
    equal(refusing.requests[1]!.body.max_tokens, 1);
    ok(refusing.requests[1]!.text.includes(`"remote_request_id":${big}`));
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    client.close();
    await prefillEngine.close();
    await good.close();
    await refusing.close();
  }
});
