import assert from "node:assert/strict";
import { controllerOf, controllerRef, isControlledBy, ownerKeyOf } from "./owner.ts";

const ms = {
  apiVersion: "workload.serving.volcano.sh/v1alpha1",
  kind: "ModelServing",
  metadata: { name: "qwen", namespace: "dev", uid: "uid-ms" },
};
const MS = { group: "workload.serving.volcano.sh", kind: "ModelServing" };

Deno.test("controllerRef makes a controller reference that blocks owner deletion", () => {
  assert.deepEqual(controllerRef(ms), {
    apiVersion: "workload.serving.volcano.sh/v1alpha1",
    kind: "ModelServing",
    name: "qwen",
    uid: "uid-ms",
    controller: true,
    blockOwnerDeletion: true,
  });
});

Deno.test("controllerRef takes apiVersion and kind from the caller when the object lacks them", () => {
  const ref = controllerRef({ metadata: { name: "p", uid: "u" } }, {
    apiVersion: "v1",
    kind: "Pod",
  });
  assert.equal(ref.apiVersion, "v1");
  assert.equal(ref.kind, "Pod");
  assert.throws(() => controllerRef({ metadata: { name: "p", uid: "u" } }), /apiVersion, kind/);
  assert.throws(() => controllerRef({ ...ms, metadata: { name: "x" } }), /uid/);
});

Deno.test("ownerKeyOf maps a child to the key of its controller of the given kind", () => {
  const pod = {
    metadata: {
      name: "qwen-0-prefill-0-0",
      namespace: "dev",
      ownerReferences: [
        // A non-controller owner of the same kind is ignored.
        { apiVersion: ms.apiVersion, kind: "ModelServing", name: "other", uid: "x" },
        controllerRef(ms),
      ],
    },
  };
  assert.equal(ownerKeyOf(pod, MS), "dev/qwen");
  assert.equal(controllerOf(pod)?.name, "qwen");
});

Deno.test("ownerKeyOf ignores controllers of another kind or group, and unowned objects", () => {
  const ownedBy = (apiVersion: string, kind: string) => ({
    metadata: {
      name: "c",
      namespace: "dev",
      ownerReferences: [{ apiVersion, kind, name: "o", uid: "u", controller: true }],
    },
  });
  assert.equal(ownerKeyOf(ownedBy("apps/v1", "ModelServing"), MS), undefined);
  assert.equal(ownerKeyOf(ownedBy(ms.apiVersion, "ModelBooster"), MS), undefined);
  // The version does not matter, only group and kind.
  assert.equal(ownerKeyOf(ownedBy("workload.serving.volcano.sh/v1", "ModelServing"), MS), "dev/o");
  assert.equal(ownerKeyOf({ metadata: { name: "c", namespace: "dev" } }, MS), undefined);
  // Core owners have the empty group.
  assert.equal(ownerKeyOf(ownedBy("v1", "Service"), { group: "", kind: "Service" }), "dev/o");
});

Deno.test("isControlledBy compares the controller reference's uid", () => {
  const child = { metadata: { ownerReferences: [controllerRef(ms)] } };
  assert.equal(isControlledBy(child, ms), true);
  // Same name, different uid: an owner recreated under the old name does not own it.
  assert.equal(isControlledBy(child, { ...ms, metadata: { ...ms.metadata, uid: "new" } }), false);
  assert.equal(isControlledBy({ metadata: {} }, ms), false);
});
