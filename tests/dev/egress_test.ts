import assert from "node:assert/strict";
import { decodeProcAddress, isLoopbackOrUnset, sampleEgress, socketOffence } from "./egress.ts";

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

Deno.test("socketOffence flags a listener on all interfaces and a peer off loopback", () => {
  // Lines as /proc/net/tcp prints them (local, remote, state; 0A is LISTEN). A real listener on
  // 0.0.0.0 is not opened here: tests bind loopback only.
  const line = (local: string, remote: string, state: string) =>
    `0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 0 0 4242 1`;
  assert.equal(socketOffence("tcp", line("00000000:1F90", "00000000:0000", "0A"))?.kind, "listen");
  assert.equal(socketOffence("tcp", line("0100007F:1F90", "00000000:0000", "0A")), undefined);
  assert.equal(socketOffence("tcp", line("0100007F:D431", "0100600A:01BB", "01"))?.kind, "dial");
  assert.equal(socketOffence("tcp", line("0100007F:D431", "0100007F:1F90", "01")), undefined);
});
