import assert from "node:assert/strict";
import { makeEndpoint } from "./endpoint.ts";

Deno.test("endpoint URLs: IPv6 bracketed, https when the ModelServer says so", () => {
  const pod = { metadata: { name: "p", namespace: "ns" }, status: { podIP: "10.0.0.1" } };
  assert.equal(makeEndpoint(pod, 8000).baseUrl, "http://10.0.0.1:8000");
  assert.equal(makeEndpoint(pod, 8443, undefined, "https").baseUrl, "https://10.0.0.1:8443");
  assert.equal(
    makeEndpoint({ metadata: { name: "q" }, status: { podIP: "fd00::1" } }, 80).baseUrl,
    "http://[fd00::1]:80",
  );
  assert.equal(makeEndpoint(pod, 1).key, "ns/p");
});
