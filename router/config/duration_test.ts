import { equal, throws } from "node:assert/strict";
import { parseDuration } from "./duration.ts";

Deno.test("parseDuration reads Go durations", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["100ms", 100],
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["500us", 0.5],
  ];
  for (const [text, ms] of cases) equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration rejects garbage", () => {
  for (const text of ["", "10", "s", "10x", "1m 2s"]) throws(() => parseDuration(text), text);
});
