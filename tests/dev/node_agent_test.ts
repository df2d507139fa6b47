import assert from "node:assert/strict";
import { containerEnv } from "./node_agent.ts";

Deno.test("containerEnv resolves the downward API and $(VAR) references", () => {
  const pod = {
    metadata: {
      name: "p-0",
      namespace: "dev",
      labels: { "modelserving.volcano.sh/role": "prefill" },
      annotations: { "huawei.com/AscendReal": "Ascend910-0,Ascend910-1" },
    },
    spec: { nodeName: "ascend-node-0", containers: [] },
  };
  const env = containerEnv(pod, {
    name: "c",
    env: [
      { name: "HCCL_IF_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "ENTRY_ADDRESS", value: "$(POD_NAME).$(NS)" },
      {
        name: "DEVICES",
        valueFrom: { fieldRef: { fieldPath: "metadata.annotations['huawei.com/AscendReal']" } },
      },
      {
        name: "ROLE",
        valueFrom: { fieldRef: { fieldPath: "metadata.labels['modelserving.volcano.sh/role']" } },
      },
      { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ],
  }, "127.1.0.9");
  assert.deepEqual(env, {
    HCCL_IF_IP: "127.1.0.9",
    POD_NAME: "p-0",
    NS: "dev",
    ENTRY_ADDRESS: "p-0.dev",
    DEVICES: "Ascend910-0,Ascend910-1",
    ROLE: "prefill",
    NODE: "ascend-node-0",
  });
});
