import { deepEqual, equal } from "node:assert/strict";
import type { Committed } from "./attempts.ts";
import {
  type RelayEnd,
  relayResponse,
  responseHeaders,
  SseUsageFilter,
  usageFromBody,
} from "./relay.ts";
import { endpoint } from "../testing/scheduler.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function run(filter: SseUsageFilter, chunks: string[]): string {
  let out = "";
  for (const c of chunks) out += dec.decode(filter.push(enc.encode(c)));
  return out + dec.decode(filter.end());
}

const usageChunk =
  'data: {"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n';
const tokenChunk =
  'data: {"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}\n\n';

Deno.test("SseUsageFilter strips the injected usage chunk, however the bytes are split", () => {
  const stream = tokenChunk + usageChunk + "data: [DONE]\n\n";
  const splits = [
    [stream],
    stream.split(""),
    [stream.slice(0, 10), stream.slice(10, 100), stream.slice(100)],
    [tokenChunk + usageChunk.slice(0, 30), usageChunk.slice(30) + "data: [DONE]\n\n"],
  ];
  for (const chunks of splits) {
    const f = new SseUsageFilter(true);
    equal(run(f, chunks), tokenChunk + "data: [DONE]\n\n");
    deepEqual(f.usage, { promptTokens: 7, completionTokens: 3 });
  }
});

Deno.test("SseUsageFilter passes bytes through untouched when not stripping", () => {
  const stream = tokenChunk + usageChunk + ": keep-alive\n\ndata: [DONE]\n\n";
  const f = new SseUsageFilter(false);
  equal(run(f, [stream.slice(0, 50), stream.slice(50)]), stream);
  deepEqual(f.usage, { promptTokens: 7, completionTokens: 3 });
});

Deno.test("SseUsageFilter keeps usage-bearing chunks that carry choices, and comments, CRLF", () => {
  const both = 'data: {"choices":[{"index":0,"delta":{}}],"usage":{"completion_tokens":2}}\n\n';
  const f = new SseUsageFilter(true);
  const rest = [": ping\r\n\r\n", "event: x\r\nid: 5\r\ndata: a\r\ndata: b\r\n\r\n"];
  // The engine's bytes, untouched (the parser-based filter used to rewrite CRLF).
  equal(run(f, [both, ...rest]), both + rest.join(""));
  deepEqual(f.usage, { completionTokens: 2 });
});

Deno.test("SseUsageFilter strips a CRLF usage-only event split across chunks, keeps the rest", () => {
  const usage = 'data: {"choices":[],\r\ndata: "usage":{"prompt_tokens":4}}\r\n\r\n';
  const stream = "data: a\r\n\r\n" + usage + "data: [DONE]\r\n\r\n";
  for (let cut = 1; cut < stream.length; cut += 7) {
    const f = new SseUsageFilter(true);
    equal(run(f, [stream.slice(0, cut), stream.slice(cut)]), "data: a\r\n\r\ndata: [DONE]\r\n\r\n");
    deepEqual(f.usage, { promptTokens: 4 });
  }
});

Deno.test("usageFromBody and responseHeaders", () => {
  deepEqual(usageFromBody('{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'), {
    promptTokens: 1,
    completionTokens: 2,
  });
  equal(usageFromBody('not json with "usage"'), undefined);
  equal(usageFromBody('{"usage":null}'), undefined);
  const h = new Headers(responseHeaders(
    new Headers({
      "content-type": "application/json",
      "content-length": "5",
      connection: "close, x-hop",
      "x-hop": "1",
      "x-engine": "vllm",
    }),
    "rid",
  ));
  deepEqual([...h.keys()].sort(), ["content-type", "x-engine", "x-request-id"]);
});

function committedStream(chunks: string[], opts: { failAfter?: number } = {}) {
  let i = 0;
  let aborted = 0;
  let ended: number | undefined | "unset" = "unset";
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (opts.failAfter !== undefined && i >= opts.failAfter) {
        c.error(new Error("engine died"));
        return;
      }
      if (i >= chunks.length) c.close();
      else c.enqueue(enc.encode(chunks[i++]!));
    },
  });
  const reader = body.getReader();
  const response = new Response(null, { headers: { "content-type": "text/event-stream" } });
  const committed: Committed = {
    ok: true,
    response,
    leg: "engine",
    endpoint: endpoint("e"),
    endDecode: (s) => ended = s,
    abort: () => aborted++,
    attempts: 1,
    stream: true,
    reader,
    firstByteAt: 0,
  };
  return { committed, aborted: () => aborted, ended: () => ended };
}

Deno.test("relayResponse streams, strips, and reports the end once", async () => {
  const ends: RelayEnd[] = [];
  const { committed } = committedStream([tokenChunk, usageChunk, "data: [DONE]\n\n"]);
  const res = relayResponse(committed, {
    requestId: "r",
    stripUsage: true,
    onEnd: (e) => ends.push(e),
  });
  equal(res.headers.get("x-request-id"), "r");
  equal(await res.text(), tokenChunk + "data: [DONE]\n\n");
  deepEqual(ends, [{ outcome: "ok", usage: { promptTokens: 7, completionTokens: 3 } }]);
});

Deno.test("relayResponse ends a broken stream with an OpenAI error event", async () => {
  const ends: RelayEnd[] = [];
  const s = committedStream([tokenChunk], { failAfter: 1 });
  const res = relayResponse(s.committed, {
    requestId: "r",
    stripUsage: false,
    onEnd: (e) => ends.push(e),
  });
  const text = await res.text();
  equal(text.startsWith(tokenChunk), true);
  equal(text.includes('"code":"upstream_stream_error"'), true);
  equal(ends.length, 1);
  equal(ends[0]!.outcome, "upstream_error");
  equal(s.aborted() > 0, true);
});

Deno.test("relayResponse: a client cancel aborts the legs", async () => {
  const ends: RelayEnd[] = [];
  const s = committedStream([tokenChunk, tokenChunk, tokenChunk]);
  const res = relayResponse(s.committed, {
    requestId: "r",
    stripUsage: false,
    onEnd: (e) => ends.push(e),
  });
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
  equal(s.aborted(), 1);
  deepEqual(ends.map((e) => e.outcome), ["client_closed"]);
});
