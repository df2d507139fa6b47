import assert from "node:assert/strict";
import { generateWebhookCerts, serviceDnsNames } from "./certs.ts";

Deno.test("generated certificates serve TLS that verifies against the CA", async () => {
  const certs = await generateWebhookCerts({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certs.cert, key: certs.key, onListen: () => {} },
    () => new Response("ok"),
  );
  const client = Deno.createHttpClient({ caCerts: [certs.caCert] });
  try {
    const res = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
    assert.equal(await res.text(), "ok");
    // Another CA does not verify it.
    const other = await generateWebhookCerts({ dnsNames: ["localhost"] });
    const stranger = Deno.createHttpClient({ caCerts: [other.caCert] });
    await assert.rejects(() =>
      fetch(`https://127.0.0.1:${server.addr.port}/`, { client: stranger })
    );
    stranger.close();
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("the webhook Service's DNS names", () => {
  assert.deepEqual(serviceDnsNames("svc", "ns"), ["svc.ns.svc", "svc.ns.svc.cluster.local"]);
});
