import { deepEqual, equal, throws } from "node:assert/strict";
import { parseFlags } from "./main.ts";

Deno.test("parseFlags: listener and leg timeouts, with defaults and field-named errors", () => {
  const d = parseFlags(["--files", "x"]);
  deepEqual(
    [d.headerTimeoutMs, d.bodyTimeoutMs, d.idleTimeoutMs, d.firstByteTimeoutMs],
    [30_000, 60_000, 60_000, 300_000],
  );
  equal(d.streamIdleTimeoutMs, 60_000);
  equal(d.engineIdleTimeoutMs, 30_000);
  equal(d.maxConnections, undefined);
  const f = parseFlags([
    "--files",
    "x",
    "--max-connections",
    "100",
    "--header-timeout",
    "2s",
    "--stream-idle-timeout",
    "0s",
  ]);
  deepEqual([f.maxConnections, f.headerTimeoutMs, f.streamIdleTimeoutMs], [100, 2000, 0]);
  throws(() => parseFlags(["--files", "x", "--body-timeout", "soon"]), /--body-timeout/);
  throws(() => parseFlags(["--files", "x", "--max-connections", "0"]), /--max-connections/);
  throws(() => parseFlags(["--files", "x", "--nope"]));
});
