/**
 * The router's own log (not the access log): the logger shared with the controller manager,
 * re-exported here so router modules keep importing it from one place beside them.
 * `stderrLogger` is the router's historical name of {@linkcode jsonLogger}.
 *
 * @example
 * ```ts
 * import { stderrLogger } from "./log.ts";
 * const log = stderrLogger("warn");
 * log("info", "not shown");
 * log.warn("shown");
 * ```
 *
 * @module
 */
export {
  createLogger,
  isLogLevel,
  jsonLogger,
  jsonLogger as stderrLogger,
  LOG_LEVELS,
  type LogFields,
  type Logger,
  type LogLevel,
  type LogWriter,
  silentLogger,
} from "@kthena/shared/log";
