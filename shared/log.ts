/**
 * The one structured logger of both programs (router and controller manager): JSON lines on
 * stderr, four levels, fields. Product code never writes to the console directly; each
 * program builds one logger at start-up and hands it down, and tests pass
 * {@linkcode silentLogger} or a capturing {@linkcode createLogger}.
 *
 * A {@linkcode Logger} is called by level method (`log.warn("watch failed", { … })`, the
 * usual form) or, where the level is only known at run time, as a function
 * (`log(level, msg, fields)`): both forms were in use when the router's and the controller's
 * loggers were merged, and both stay valid so that neither side had to be rewritten.
 *
 * @module
 */

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** A severity, from the least to the most severe: `debug`, `info`, `warn`, `error`. */
export type LogLevel = keyof typeof LEVELS;

/** The levels, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(
  Object.keys(LEVELS) as LogLevel[],
);

/**
 * Whether `value` names a level (for flag parsing).
 *
 * @example
 * ```ts
 * import { isLogLevel } from "./log.ts";
 * isLogLevel("warn"); // true
 * isLogLevel("verbose"); // false
 * ```
 */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && Object.hasOwn(LEVELS, value);
}

/** Writes one log record: what every {@linkcode Logger} is built around. */
export type LogWriter = (level: LogLevel, msg: string, fields?: LogFields) => void;

/**
 * Where a component reports what it does. Callable as a {@linkcode LogWriter} too.
 *
 * @example
 * ```ts
 * import type { Logger } from "./log.ts";
 * function report(log: Logger, failed: boolean) {
 *   log.info("reloaded");
 *   log(failed ? "warn" : "debug", "reload result", { failed });
 * }
 * ```
 */
export interface Logger extends LogWriter {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * A logger over `write`, dropping records below `minimum`.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger((level, msg) => lines.push(`${level} ${msg}`), "info");
 * log.debug("dropped");
 * log.warn("kept");
 * lines; // ["warn kept"]
 * ```
 */
export function createLogger(write: LogWriter, minimum: LogLevel = "debug"): Logger {
  const min = LEVELS[minimum];
  const log: LogWriter = (level, msg, fields) => {
    if (LEVELS[level] >= min) write(level, msg, fields);
  };
  return Object.assign(log, {
    debug: (msg: string, fields?: LogFields) => log("debug", msg, fields),
    info: (msg: string, fields?: LogFields) => log("info", msg, fields),
    warn: (msg: string, fields?: LogFields) => log("warn", msg, fields),
    error: (msg: string, fields?: LogFields) => log("error", msg, fields),
  });
}

/**
 * One record as a JSON line (without the newline): `time`, `level` and `msg` first, then the
 * fields. A field cannot overwrite those three (they are what log pipelines index on).
 * Errors become their message and bigints their digits, so that a field never makes the
 * line fail to encode.
 *
 * @example
 * ```ts
 * import { formatLogLine } from "./log.ts";
 * formatLogLine("info", "ready", { port: 8080 }, new Date(0));
 * // '{"time":"1970-01-01T00:00:00.000Z","level":"info","msg":"ready","port":8080}'
 * ```
 */
export function formatLogLine(
  level: LogLevel,
  msg: string,
  fields?: LogFields,
  now: Date = new Date(),
): string {
  const time = now.toISOString();
  const record: LogFields = { time, level, msg, ...fields };
  // Re-set after the spread: keeps them first in the line and undoes a colliding field.
  Object.assign(record, { time, level, msg });
  const replacer = (_key: string, v: unknown) =>
    v instanceof Error ? v.message : typeof v === "bigint" ? v.toString() : v;
  try {
    return JSON.stringify(record, replacer);
  } catch (e) {
    // A circular field: keep the record, say why its fields are missing.
    return JSON.stringify({ time, level, msg, logError: (e as Error).message });
  }
}

const encoder = new TextEncoder();

/** Writes all of `bytes` to stderr (`writeSync` may write less than asked on a pipe). */
function writeStderr(bytes: Uint8Array): void {
  let rest = bytes;
  while (rest.length > 0) {
    const written = Deno.stderr.writeSync(rest);
    if (written <= 0) return; // a closed stderr: nowhere left to say anything
    rest = rest.subarray(written);
  }
}

/**
 * A logger writing one JSON object per line (see {@linkcode formatLogLine}) to stderr, or to
 * `write`, at `level` and above. Writes are synchronous so that the last lines before an exit
 * or a crash are not lost in a buffer.
 *
 * @example
 * ```ts
 * import { jsonLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = jsonLogger("warn", (line) => lines.push(line));
 * log.info("not written");
 * log.warn("watch restarted", { resource: "pods" });
 * lines.length; // 1
 * ```
 */
export function jsonLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => writeStderr(encoder.encode(line + "\n")),
): Logger {
  return createLogger((lvl, msg, fields) => write(formatLogLine(lvl, msg, fields)), level);
}

/**
 * A logger that drops everything (tests, and components given no logger).
 *
 * @example
 * ```ts
 * import { silentLogger } from "./log.ts";
 * silentLogger.error("nobody hears this");
 * silentLogger("warn", "nor this");
 * ```
 */
export const silentLogger: Logger = createLogger(() => {});
