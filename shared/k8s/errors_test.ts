import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import {
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  KubeError,
  kubeErrorFrom,
  toKubeError,
} from "./errors.ts";

Deno.test("kubeErrorFrom reads a metav1.Status", () => {
  const e = kubeErrorFrom(
    409,
    JSON.stringify({
      kind: "Status",
      status: "Failure",
      message: 'modelroutes "r" already exists',
      reason: "AlreadyExists",
      details: { name: "r", kind: "modelroutes" },
      code: 409,
    }),
  );
  assert.equal(e.code, 409);
  assert.equal(e.reason, "AlreadyExists");
  assert.equal(e.message, 'modelroutes "r" already exists');
  assert.equal(e.details?.name, "r");
  assert.ok(isConflict(e) && isAlreadyExists(e) && !isNotFound(e));
});

Deno.test("kubeErrorFrom keeps a non-JSON body as the message", () => {
  const e = kubeErrorFrom(502, "Bad Gateway");
  assert.equal(e.code, 502);
  assert.equal(e.message, "Bad Gateway");
  assert.equal(kubeErrorFrom(500, "").message, "HTTP 500");
});

Deno.test("a watch ERROR Status with code 410 is Gone", () => {
  const e = kubeErrorFrom(200, {
    kind: "Status",
    message: "too old resource version: 1 (232)",
    reason: "Expired",
    code: 410,
  });
  assert.ok(isGone(e));
});

Deno.test("toKubeError maps client-node's ApiException and leaves other errors alone", () => {
  const api = new ApiException(404, "nope", '{"reason":"NotFound","message":"x not found"}', {});
  const e = toKubeError(api);
  assert.ok(e instanceof KubeError);
  assert.equal(e.code, 404);
  assert.equal(e.message, "x not found");
  const plain = new TypeError("fetch failed");
  assert.equal(toKubeError(plain), plain);
});
