import assert from "node:assert/strict";
import { parseQuantity, placeAll, podRequests } from "./gang_binder.ts";

Deno.test("parseQuantity reads milli, decimal and binary suffixes", () => {
  assert.equal(parseQuantity("500m"), 0.5);
  assert.equal(parseQuantity("8"), 8);
  assert.equal(parseQuantity("64Gi"), 64 * 2 ** 30);
  assert.equal(parseQuantity("1k"), 1000);
});

Deno.test("podRequests takes limits where a container has no request", () => {
  const r = podRequests({
    spec: {
      containers: [
        { name: "a", resources: { limits: { "nvidia.com/gpu": "1" } } },
        { name: "b", resources: { requests: { cpu: "2" }, limits: { cpu: "4" } } },
      ],
    },
  });
  assert.deepEqual(r, { pods: 1, "nvidia.com/gpu": 1, cpu: 2 });
});

Deno.test("placeAll places a gang only when all of it fits", () => {
  const nodes = [{ name: "n", free: { gpu: 8 }, labels: {} }];
  const four = (name: string) => ({ name, requests: { gpu: 4 } });
  assert.equal(placeAll([four("a"), four("b")], nodes)?.get("b"), "n");
  assert.equal(placeAll([four("a"), four("b"), four("c")], nodes), undefined);
  assert.equal(
    placeAll([{ name: "a", requests: { gpu: 1 }, nodeSelector: { x: "y" } }], nodes),
    undefined,
  );
});
