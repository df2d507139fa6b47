import assert from "node:assert/strict";
import { SimHttpError } from "./errors.ts";
import { resolveSimOptions } from "./options.ts";
import { resolvePd } from "./pd_directive.ts";
import { parseNixlParams } from "./pd_nixl.ts";
import { bootstrapFields } from "./pd_sglang.ts";

const full = {
  do_remote_prefill: true,
  do_remote_decode: false,
  remote_block_ids: [[1, 2], [3]],
  remote_engine_id: "e",
  remote_request_id: "r",
  remote_host: "127.0.0.1",
  remote_port: 5600,
  tp_size: 1,
};

Deno.test("NIXL params: complete decode params, prefill request, invalid partial params", () => {
  const d = parseNixlParams(full);
  assert.equal(d.kind, "decode");
  if (d.kind === "decode") assert.deepEqual(d.params.remoteBlockIds, [1, 2, 3]);
  assert.equal(
    parseNixlParams({ ...full, remote_block_ids: [1, 2] }).kind,
    "decode",
    "flat ids accepted",
  );
  assert.equal(
    parseNixlParams({ do_remote_decode: true, do_remote_prefill: false }).kind,
    "prefill",
  );
  for (
    const k of [
      "remote_engine_id",
      "remote_request_id",
      "remote_host",
      "remote_port",
      "remote_block_ids",
    ]
  ) {
    const partial: Record<string, unknown> = { ...full };
    delete partial[k];
    const r = parseNixlParams(partial);
    assert.equal(r.kind, "invalid", k);
  }
  assert.equal(parseNixlParams({ ...full, remote_port: "x" }).kind, "invalid");
  assert.equal(parseNixlParams(null).kind, "none");
  assert.equal(parseNixlParams({}).kind, "none");
});

Deno.test("roles gate NIXL directives", () => {
  const p = resolveSimOptions({ role: "prefill", kvConnector: "nixl" });
  const d = resolveSimOptions({ role: "decode", kvConnector: "mooncake" });
  const none = resolveSimOptions({ role: "both", kvConnector: "none" });
  assert.equal(
    resolvePd(p, { kv_transfer_params: { do_remote_decode: true } }, "").directive.kind,
    "nixl-prefill",
  );
  assert.equal(resolvePd(d, { kv_transfer_params: full }, "").directive.kind, "nixl-decode");
  const wrong = resolvePd(p, { kv_transfer_params: full }, "");
  assert.equal(wrong.directive.kind, "none");
  assert.ok(wrong.invalid);
  assert.match(
    resolvePd(d, { kv_transfer_params: { do_remote_prefill: true } }, "").invalid!,
    /invalid KVTransferParams/,
  );
  assert.equal(resolvePd(none, { kv_transfer_params: full }, "").directive.kind, "none");
});

Deno.test("SGLang: room required, exact 63-bit rooms, default bootstrap port", () => {
  const p = resolveSimOptions({ role: "prefill", kvConnector: "sglang" });
  const d = resolveSimOptions({ role: "decode", kvConnector: "sglang" });
  assert.throws(
    () => resolvePd(p, {}, "{}"),
    (e: SimHttpError) => e.status === 400 && /bootstrap room/.test(e.message),
  );
  assert.throws(
    () => resolvePd(d, { bootstrap_room: 1 }, ""),
    (e: SimHttpError) => e.status === 400,
  );
  const raw = '{"bootstrap_host":"127.0.0.1","bootstrap_room":9007199254740993}';
  const r = resolvePd(d, JSON.parse(raw), raw).directive;
  assert.deepEqual(r, {
    kind: "sglang-decode",
    room: "9007199254740993",
    host: "127.0.0.1",
    port: 8998,
  });
  assert.equal(bootstrapFields({ bootstrap_room: "12" }, "").room, "12");
  assert.equal(
    resolvePd(resolveSimOptions({ kvConnector: "sglang" }), {}, "").directive.kind,
    "none",
  );
});
