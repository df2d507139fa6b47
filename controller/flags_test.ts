import assert from "node:assert/strict";
import { parseControllerFlags, resolveControllers } from "./flags.ts";

Deno.test("flags: defaults follow upstream", () => {
  const f = parseControllerFlags([]);
  assert.equal(f.workers, 5);
  assert.equal(f.leaderElect, false);
  assert.equal(f.webhookPort, 8443);
  assert.equal(f.enableWebhook, true);
  assert.equal(f.bindAddress, "0.0.0.0");
  assert.equal(parseControllerFlags(["--bind-address=127.0.0.1"]).bindAddress, "127.0.0.1");
  assert.deepEqual([...f.controllers], ["modelserving", "leaderworkerset"]);
});

Deno.test("flags: values, upstream's --port alias, and errors naming the flag", () => {
  const f = parseControllerFlags([
    "--workers=2",
    "--leader-elect",
    "--port=9443",
    "--no-enable-webhook",
  ]);
  assert.equal(f.workers, 2);
  assert.equal(f.leaderElect, true);
  assert.equal(f.webhookPort, 9443);
  assert.equal(f.enableWebhook, false);
  assert.throws(() => parseControllerFlags(["--workers=0"]), /--workers: expected an integer ≥ 1/);
  assert.throws(() => parseControllerFlags(["--nope"]), /nope/);
});

Deno.test("--controllers: *, +name, -name; nothing left enables all", () => {
  const all = ["modelserving", "leaderworkerset"];
  assert.deepEqual([...resolveControllers("*")], all);
  assert.deepEqual([...resolveControllers("+modelserving")], ["modelserving"]);
  assert.deepEqual([...resolveControllers("leaderworkerset")], ["leaderworkerset"]);
  assert.deepEqual([...resolveControllers("*,-modelserving")], ["leaderworkerset"]);
  assert.deepEqual([...resolveControllers("*,-leaderworkerset")], ["modelserving"]);
  assert.deepEqual([...resolveControllers("-modelserving,-leaderworkerset")], all);
  assert.throws(
    () => resolveControllers("autoscaler-typo"),
    /unknown controller "autoscaler-typo"/,
  );
});
