/**
 * ModelRoute `StringMatch` evaluation: exact, prefix, or unanchored regular expression (RE2 in
 * upstream; JavaScript's engine here, which accepts every RE2 pattern that has no RE2-only
 * syntax). Compiled patterns are cached; an invalid pattern never matches, as upstream.
 *
 * @module
 */
import type { StringMatch } from "@kthena/shared/api";

const cache = new Map<string, RegExp | null>();
const CACHE_LIMIT = 1024;

/**
 * Compiles (and caches) a pattern; `null` when it does not compile. A leading RE2 flag group
 * such as `(?i)` becomes a JavaScript flag.
 *
 * @example
 * ```ts
 * import { compilePattern } from "./string_match.ts";
 * compilePattern("(?i)^premium")?.test("PREMIUM-user"); // true
 * compilePattern("(")); // null
 * ```
 */
export function compilePattern(pattern: string): RegExp | null {
  let re = cache.get(pattern);
  if (re !== undefined) return re;
  try {
    const flags = /^\(\?([imsU]+)\)/.exec(pattern);
    const source = flags ? pattern.slice(flags[0].length) : pattern;
    const jsFlags = flags ? [...new Set(flags[1]!.replace("U", ""))].join("") : "";
    re = new RegExp(source, jsFlags);
  } catch {
    re = null;
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, re);
  return re;
}

/**
 * Whether `value` satisfies `match`. Evaluation order is upstream's: exact, then prefix, then
 * regex; a match with no field set matches anything.
 *
 * @example
 * ```ts
 * import { matchString } from "./string_match.ts";
 * matchString({ prefix: "/v1/" }, "/v1/completions"); // true
 * matchString({ regex: "chat" }, "/v1/chat/completions"); // true (unanchored)
 * ```
 */
export function matchString(match: StringMatch, value: string): boolean {
  if (match.exact !== undefined) return value === match.exact;
  if (match.prefix !== undefined) return value.startsWith(match.prefix);
  if (match.regex !== undefined) return compilePattern(match.regex)?.test(value) ?? false;
  return true;
}
