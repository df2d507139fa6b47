import { equal } from "node:assert/strict";
import type { StringMatch } from "@kthena/shared/api";
import { compilePattern, matchString } from "./string_match.ts";

Deno.test("matchString: exact, prefix, unanchored regex, empty match", () => {
  const cases: [StringMatch, string, boolean][] = [
    [{ exact: "premium" }, "premium", true],
    [{ exact: "premium" }, "premium2", false],
    [{ exact: "" }, "", true],
    [{ prefix: "/v1/" }, "/v1/chat/completions", true],
    [{ prefix: "/v1/" }, "/v2/chat", false],
    [{ regex: "chat" }, "/v1/chat/completions", true],
    [{ regex: "^chat" }, "/v1/chat/completions", false],
    [{ regex: "(?i)^PREMIUM$" }, "premium", true],
    [{ regex: "(" }, "(", false],
    [{}, "anything", true],
  ];
  for (const [match, value, want] of cases) {
    equal(matchString(match, value), want, `${JSON.stringify(match)} vs ${value}`);
  }
});

Deno.test("compilePattern caches and reports invalid patterns as null", () => {
  equal(compilePattern("a+"), compilePattern("a+"));
  equal(compilePattern("[unclosed"), null);
});
