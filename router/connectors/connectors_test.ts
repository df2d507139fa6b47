import { deepEqual, equal } from "node:assert/strict";
import { modelServer } from "../testing/objects.ts";
import { decodeKvTransferParams, PREFILL_KV_TRANSFER_PARAMS } from "./nixl.ts";
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
