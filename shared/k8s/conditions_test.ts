import assert from "node:assert/strict";
import {
  findCondition,
  isConditionTrue,
  isObservedGenerationCurrent,
  k8sTime,
  removeCondition,
  setCondition,
} from "./conditions.ts";

const t1 = new Date("2026-01-01T00:00:00.250Z");
const t2 = new Date("2026-01-01T00:05:00Z");
const t3 = new Date("2026-01-01T00:09:00Z");

Deno.test("k8sTime writes whole seconds in UTC", () => {
  assert.equal(k8sTime(t1), "2026-01-01T00:00:00Z");
});

Deno.test("setCondition adds a new condition with the current time", () => {
  const r = setCondition(undefined, { type: "Active", status: "False", reason: "Pending" }, t1);
  assert.equal(r.changed, true);
  assert.deepEqual(r.conditions, [{
    type: "Active",
    status: "False",
    reason: "Pending",
    message: "",
    lastTransitionTime: "2026-01-01T00:00:00Z",
  }]);
});

Deno.test("setCondition keeps lastTransitionTime when only reason or message change", () => {
  const a = setCondition(undefined, { type: "Active", status: "False", reason: "Pending" }, t1);
  const b = setCondition(
    a.conditions,
    { type: "Active", status: "False", reason: "Waiting", message: "0/1 ready" },
    t2,
  );
  assert.equal(b.changed, true);
  assert.equal(b.conditions[0]?.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(b.conditions[0]?.reason, "Waiting");
  assert.equal(b.conditions[0]?.message, "0/1 ready");
});

Deno.test("setCondition moves lastTransitionTime when the status changes", () => {
  const a = setCondition(undefined, { type: "Active", status: "False", reason: "Pending" }, t1);
  const b = setCondition(a.conditions, { type: "Active", status: "True", reason: "Ready" }, t2);
  assert.equal(b.conditions[0]?.lastTransitionTime, "2026-01-01T00:05:00Z");
  assert.equal(isConditionTrue(b.conditions, "Active"), true);
});

Deno.test("setCondition reports no change for an identical condition and keeps others", () => {
  const a = setCondition(undefined, { type: "A", status: "True", reason: "R" }, t1);
  const b = setCondition(a.conditions, { type: "B", status: "False", reason: "S" }, t2);
  const c = setCondition(b.conditions, { type: "A", status: "True", reason: "R" }, t3);
  assert.equal(c.changed, false);
  assert.deepEqual(c.conditions, b.conditions);
  assert.equal(findCondition(c.conditions, "A")?.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.deepEqual(c.conditions.map((x) => x.type), ["A", "B"]);
});

Deno.test("setCondition records observedGeneration and counts its change", () => {
  const a = setCondition(undefined, {
    type: "A",
    status: "True",
    reason: "R",
    observedGeneration: 1,
  }, t1);
  const b = setCondition(a.conditions, {
    type: "A",
    status: "True",
    reason: "R",
    observedGeneration: 2,
  }, t2);
  assert.equal(b.changed, true);
  assert.equal(b.conditions[0]?.observedGeneration, 2);
  assert.equal(b.conditions[0]?.lastTransitionTime, "2026-01-01T00:00:00Z");
});

Deno.test("setCondition does not change its input", () => {
  const a = setCondition(undefined, { type: "A", status: "False", reason: "R" }, t1);
  const frozen = structuredClone(a.conditions);
  setCondition(a.conditions, { type: "A", status: "True", reason: "R" }, t2);
  setCondition(a.conditions, { type: "B", status: "True", reason: "R" }, t2);
  assert.deepEqual(a.conditions, frozen);
});

Deno.test("removeCondition drops a type and reports whether it was there", () => {
  const a = setCondition(undefined, { type: "A", status: "True", reason: "R" }, t1);
  assert.deepEqual(removeCondition(a.conditions, "B"), {
    conditions: a.conditions,
    changed: false,
  });
  assert.deepEqual(removeCondition(a.conditions, "A"), { conditions: [], changed: true });
});

Deno.test("isObservedGenerationCurrent compares status.observedGeneration with generation", () => {
  assert.equal(isObservedGenerationCurrent({ metadata: { generation: 3 }, status: {} }), false);
  assert.equal(
    isObservedGenerationCurrent({ metadata: { generation: 3 }, status: { observedGeneration: 2 } }),
    false,
  );
  assert.equal(
    isObservedGenerationCurrent({ metadata: { generation: 3 }, status: { observedGeneration: 3 } }),
    true,
  );
});
