import { equal } from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { annotationPort, matchesLabels, objectKey, type Pod } from "./pod.ts";

// What an informer delivers must be accepted as it is (checked by the compiler).
const fromInformer = (pod: V1Pod): Pod => pod;

Deno.test("a V1Pod from client-node is a Pod; keys, labels and port annotations", () => {
  const pod = fromInformer({
    metadata: {
      name: "p",
      labels: { app: "a", role: "decode" },
      annotations: { "sglang.ai/bootstrap-port": "x" },
    },
    status: { podIP: "10.0.0.1", conditions: [{ type: "Ready", status: "True" }] },
  });
  equal(objectKey(pod), "default/p");
  equal(matchesLabels(pod.metadata?.labels, { app: "a" }), true);
  equal(matchesLabels(pod.metadata?.labels, { app: "b" }), false);
  equal(matchesLabels(undefined, {}), true);
  equal(annotationPort(pod, "sglang.ai/bootstrap-port"), undefined, "not a port");
  equal(annotationPort(pod, "missing"), undefined);
});
