/**
 * A minimal structured logger the runtime reports through. The runtime never writes to the
 * console directly: each program decides where lines go (JSON on stderr by default, nothing
 * in tests).
 *
 * @module
 */

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Where the runtime's components report what they do. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** A log level. */
export type LogLevel = keyof typeof LEVELS;

/**
 * A logger that writes one JSON object per line to stderr, at `level` and above.
 *
 * @example
 * ```ts
 * import { jsonLogger } from "./logger.ts";
 * const log = jsonLogger("warn");
 * log.info("not written");
 * log.warn("watch restarted", { resource: "pods" });
 * ```
 */
export function jsonLogger(level: LogLevel = "info"): Logger {
  const min = LEVELS[level];
  const encoder = new TextEncoder();
  const write = (lvl: LogLevel) => (msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < min) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level: lvl, msg, ...fields }, (
      _k,
      v,
    ) => v instanceof Error ? v.message : v);
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * A logger that drops everything (tests).
 *
 * @example
 * ```ts
 * import { silentLogger } from "./logger.ts";
 * silentLogger.error("nobody hears this");
 * ```
 */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
