import assert from "node:assert/strict";
import {
  crossGroupRefused,
  fetchPeerJson,
  KvTransferError,
  parseRemoteKv,
  type RemoteKv,
  remoteKvJson,
  verifyRemoteKv,
} from "./kv_transfer.ts";

const self = { engineId: "d", pdGroup: "g1", refuseCrossGroup: true, blockSize: 16 };
const kv: RemoteKv = {
  blockHashes: [1, 2],
  numTokens: 40,
  engineId: "p",
  pdGroup: "g1",
  blockSize: 16,
};

Deno.test("the PD-group policy refuses only different, non-empty groups when asked", () => {
  assert.equal(crossGroupRefused("a", "b", true), true);
  assert.equal(crossGroupRefused("a", "a", true), false);
  assert.equal(crossGroupRefused("", "b", true), false);
  assert.equal(crossGroupRefused("a", "b", false), false);
});

Deno.test("verifyRemoteKv accepts the same prompt and rejects mismatches and other groups", () => {
  verifyRemoteKv(kv, self, [1, 2], 40);
  const fails = (remote: RemoteKv, hashes: number[], n: number, reason: string) =>
    assert.throws(
      () => verifyRemoteKv(remote, self, hashes, n),
      (e: KvTransferError) => e.reason === reason,
    );
  fails(kv, [1, 3], 40, "failed");
  fails(kv, [1, 2], 41, "failed");
  fails({ ...kv, blockSize: 32 }, [1, 2], 40, "failed");
  fails({ ...kv, pdGroup: "g2" }, [1, 2], 40, "refused");
});

Deno.test("payloads round-trip through their wire form", () => {
  assert.deepEqual(parseRemoteKv(JSON.parse(JSON.stringify(remoteKvJson(kv)))), kv);
  assert.throws(() => parseRemoteKv({ engine_id: "x" }), KvTransferError);
});

Deno.test("fetchPeerJson maps unreachable peers and error statuses to KvTransferError", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/ok"
        ? Response.json({ fine: true })
        : Response.json({ error: { message: "nope" } }, { status: 403 }),
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    assert.deepEqual(await fetchPeerJson(`${base}/ok`, {}, 5000), { fine: true });
    await assert.rejects(
      fetchPeerJson(`${base}/no`, {}, 5000),
      (e: KvTransferError) => e.reason === "refused" && /403: nope/.test(e.message),
    );
  } finally {
    await server.shutdown();
  }
  await assert.rejects(
    fetchPeerJson(`http://127.0.0.1:${server.addr.port}/ok`, {}, 2000),
    (e: KvTransferError) => e.reason === "failed" && /unreachable/.test(e.message),
  );
});
