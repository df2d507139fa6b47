import { deepEqual, equal, ok } from "node:assert/strict";
import {
  createLogger,
  formatLogLine,
  isLogLevel,
  jsonLogger,
  LOG_LEVELS,
  type LogFields,
  type LogLevel,
  silentLogger,
} from "./log.ts";

Deno.test("createLogger: methods and the function form reach the writer, below minimum dropped", () => {
  const seen: [LogLevel, string, LogFields | undefined][] = [];
  const log = createLogger((level, msg, fields) => seen.push([level, msg, fields]), "info");
  log.debug("d");
  log.info("i", { a: 1 });
  log.warn("w");
  log.error("e");
  log("debug", "d2");
  log("warn", "w2", { b: 2 });
  deepEqual(seen, [
    ["info", "i", { a: 1 }],
    ["warn", "w", undefined],
    ["error", "e", undefined],
    ["warn", "w2", { b: 2 }],
  ]);
});

Deno.test("jsonLogger: one JSON object per line with time, level, msg, then fields", () => {
  const lines: string[] = [];
  const log = jsonLogger("debug", (line) => lines.push(line));
  log.debug("hello", { n: 1, err: new Error("boom"), big: 2n ** 64n });
  equal(lines.length, 1);
  ok(!lines[0]!.includes("\n"));
  const record = JSON.parse(lines[0]!);
  deepEqual(Object.keys(record), ["time", "level", "msg", "n", "err", "big"]);
  equal(record.level, "debug");
  equal(record.msg, "hello");
  equal(record.err, "boom");
  equal(record.big, "18446744073709551616");
  ok(!Number.isNaN(Date.parse(record.time)));
});

Deno.test("formatLogLine: a field cannot overwrite time, level or msg; circular fields do not throw", () => {
  const now = new Date(0);
  deepEqual(JSON.parse(formatLogLine("warn", "real", { msg: "fake", level: "debug" }, now)), {
    time: "1970-01-01T00:00:00.000Z",
    level: "warn",
    msg: "real",
  });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const record = JSON.parse(formatLogLine("error", "loop", { circular }, now));
  equal(record.msg, "loop");
  equal(typeof record.logError, "string");
});

Deno.test("isLogLevel and silentLogger", () => {
  deepEqual([...LOG_LEVELS], ["debug", "info", "warn", "error"]);
  ok(LOG_LEVELS.every(isLogLevel));
  ok(!isLogLevel("verbose"));
  ok(!isLogLevel("toString"));
  silentLogger.error("dropped");
  silentLogger("error", "dropped");
});

Deno.test("jsonLogger: by default whole lines go to stderr, nothing to stdout", async () => {
  const url = new URL("./log.ts", import.meta.url).href;
  const script = `import { jsonLogger } from "${url}";
const log = jsonLogger("info");
for (let i = 0; i < 200; i++) log.info("line", { i, pad: "x".repeat(1000) });`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  ok(out.success, new TextDecoder().decode(out.stderr));
  equal(out.stdout.length, 0);
  const lines = new TextDecoder().decode(out.stderr).trimEnd().split("\n");
  equal(lines.length, 200);
  deepEqual(lines.map((l) => JSON.parse(l).i), [...Array(200).keys()]);
});
