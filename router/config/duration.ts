/**
 * Go `time.Duration` strings (`metav1.Duration`: `"100ms"`, `"1m30s"`) to milliseconds.
 * Hand-written: eight lines, and no package in the import map parses Go's notation.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration into milliseconds.
 *
 * @throws {Error} when the text is not a duration.
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("1m30s"); // 90000
 * parseDuration("250ms"); // 250
 * ```
 */
export function parseDuration(text: string): number {
  if (text === "0") return 0;
  const re = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(text)}`);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  return total;
}
