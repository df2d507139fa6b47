import { equal, rejects } from "node:assert/strict";
import { RouterError } from "./errors.ts";
import { readBody } from "./read_body.ts";

const enc = new TextEncoder();

function request(
  chunks: (Uint8Array | Error)[],
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Request {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[i++];
      if (next === undefined) controller.close();
      else if (next instanceof Error) controller.error(next);
      else controller.enqueue(next);
    },
  });
  return new Request("http://x/v1/completions", { method: "POST", body, ...init });
}

const status = (code: number, errorCode?: string) => (e: unknown) => {
  equal((e as RouterError).status, code);
  if (errorCode) equal((e as RouterError).code, errorCode);
  return true;
};

Deno.test("readBody: text across chunks (a character split in two), empty bodies", async () => {
  const euro = enc.encode('{"p":"€"}');
  equal(await readBody(request([euro.subarray(0, 7), euro.subarray(7)]), 100), '{"p":"€"}');
  equal(await readBody(new Request("http://x/", { method: "POST" }), 100), "");
});

Deno.test("readBody: 413 declared or counted, 400 when the stream breaks, 499 when the client left", async () => {
  await rejects(
    readBody(request([enc.encode("{}")], { headers: { "content-length": "1000" } }), 100),
    status(413, "request_too_large"),
  );
  await rejects(readBody(request([new Uint8Array(60), new Uint8Array(60)]), 100), status(413));
  await rejects(
    readBody(request([enc.encode('{"a"'), new Error("connection reset")]), 100),
    status(400, "invalid_body"),
  );
  const gone = new AbortController();
  gone.abort();
  await rejects(
    readBody(request([enc.encode("{"), new Error("closed")], { signal: gone.signal }), 100),
    status(499),
  );
});
