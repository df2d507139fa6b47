import assert from "node:assert/strict";
import { decodeProcAddress, isLoopbackOrUnset, sampleEgress } from "./egress.ts";

Deno.test("decodeProcAddress reads IPv4 and IPv4-mapped IPv6 entries", () => {
  assert.equal(decodeProcAddress("0100007F:1F90"), "127.0.0.1:8080");
  assert.equal(decodeProcAddress("0000000000000000FFFF00000100600A:01BB"), "10.96.0.1:443");
  assert.equal(decodeProcAddress("00000000000000000000000001000000:0050"), "[0:0:0:0:0:0:0:1]:80");
});

Deno.test("isLoopbackOrUnset keeps 127/8 and no-peer, rejects a ClusterIP", () => {
  assert.ok(isLoopbackOrUnset("127.1.2.3:8000"));
  assert.ok(isLoopbackOrUnset("0.0.0.0:0"));
  assert.ok(!isLoopbackOrUnset("10.96.0.1:443"));
});

Deno.test("sampleEgress sees a loopback connection of this process and flags none", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port });
  const accepted = await l.accept();
  try {
    assert.deepEqual(await sampleEgress(), []);
  } finally {
    conn.close();
    accepted.close();
    l.close();
  }
});

Deno.test("sampleEgress flags a listener on all interfaces", async () => {
  const l = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  try {
    const seen = await sampleEgress();
    assert.ok(
      seen.some((v) =>
        v.kind === "listen" && v.local === `0.0.0.0:${(l.addr as Deno.NetAddr).port}`
      ),
      JSON.stringify(seen),
    );
  } finally {
    l.close();
  }
});
