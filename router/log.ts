/**
 * The router's own log (not the access log): JSON lines on stderr.
 *
 * @module
 */

/** Severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger. */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/**
 * A logger writing `{"time","level","msg",…}` lines to stderr.
 *
 * @example
 * ```ts
 * import { stderrLogger } from "./log.ts";
 * const log = stderrLogger("warn");
 * log("info", "not shown");
 * ```
 */
export function stderrLogger(minimum: LogLevel = "info"): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return (level, message, fields) => {
    if (order[level] < order[minimum]) return;
    // deno-lint-ignore no-console
    console.error(
      JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields }),
    );
  };
}

/**
 * A logger that drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./log.ts";
 * silentLogger("error", "ignored");
 * ```
 */
export const silentLogger: Logger = () => {};
