/**
 * Failure injection: with probability `--failure-rate` a request gets one of
 * `--failure-kinds`, chosen uniformly by a seeded generator:
 *
 * - `5xx`: 500 with an OpenAI error body (`InternalServerError`);
 * - `429`: 429 with an OpenAI error body (`RateLimitError`) and `Retry-After: 1`;
 * - `drop-mid-stream`: the connection breaks after about half the output (streaming) or
 *   after the headers (non-streaming), without a terminating chunk;
 * - `stall`: the engine freezes with the connection open: after the headers and about half the
 *   output (streaming), or after the headers (non-streaming), nothing more is sent until the
 *   client goes away;
 * - `slow-start`: the first token comes `--slow-start-ms` later than the model says.
 *
 * A request can force a kind with the simulator-only header `x-sim-failure: <kind>` (tests use
 * it to be deterministic without a rate).
 *
 * @module
 */

import type { FailureKind } from "./options.ts";
import { type Random, seededRandom } from "./prng.ts";

/** Header that forces a failure kind on one request. */
export const FAILURE_HEADER = "x-sim-failure";

const KINDS: readonly FailureKind[] = ["5xx", "429", "drop-mid-stream", "stall", "slow-start"];

/**
 * Tells whether a string names a failure kind.
 *
 * @example
 * ```ts
 * import { isFailureKind } from "./faults.ts";
 * console.log(isFailureKind("429"), isFailureKind("404")); // true false
 * ```
 */
export function isFailureKind(value: string): value is FailureKind {
  return (KINDS as readonly string[]).includes(value);
}

/**
 * Decides which requests fail and how.
 *
 * @example
 * ```ts
 * import { FaultInjector } from "./faults.ts";
 * const always = new FaultInjector(1, ["429"], 1);
 * console.log(always.pick(null), new FaultInjector(0, ["5xx"], 1).pick("slow-start")); // "429" "slow-start"
 * ```
 */
export class FaultInjector {
  readonly #rate: number;
  readonly #kinds: readonly FailureKind[];
  readonly #random: Random;

  /**
   * @param rate Probability 0–1.
   * @param kinds Kinds to pick from.
   * @param seed Seed of the decisions.
   */
  constructor(rate: number, kinds: readonly FailureKind[], seed: number) {
    this.#rate = rate;
    this.#kinds = kinds.length > 0 ? kinds : ["5xx"];
    this.#random = seededRandom(seed);
  }

  /**
   * Picks the failure of one request.
   *
   * @param forced Value of the `x-sim-failure` header, if any.
   * @returns The kind, or undefined when the request runs normally.
   */
  pick(forced: string | null): FailureKind | undefined {
    if (forced !== null && isFailureKind(forced)) return forced;
    if (this.#rate <= 0 || this.#random() >= this.#rate) return undefined;
    return this.#kinds[Math.floor(this.#random() * this.#kinds.length)];
  }
}
