/**
 * `max-score` (picker): orders endpoints by total score, highest first, breaking ties at random,
 * and keeps the first `limit`: the pick and its fallbacks for retries.
 *
 * @module
 */
import type { Endpoint } from "../../datastore/endpoint.ts";
import type { Picker, SchedulingContext, ScoredEndpoint } from "../types.ts";

/**
 * The `max-score` picker.
 *
 * @example
 * ```ts
 * import { MaxScorePicker } from "./max_score_picker.ts";
 * const p = new MaxScorePicker("max-score", {});
 * const a = { key: "a" } as never, b = { key: "b" } as never;
 * p.pick({} as never, [{ endpoint: a, score: 0.2 }, { endpoint: b, score: 0.9 }], 1); // [b]
 * ```
 */
export class MaxScorePicker implements Picker {
  /** Registered type. */
  static readonly TYPE = "max-score";
  readonly type = MaxScorePicker.TYPE;

  /**
   * @param name Instance name.
   * @param _args Unused.
   * @param random Random source for tie-breaking.
   */
  constructor(
    readonly name: string,
    _args: unknown,
    private readonly random: () => number = Math.random,
  ) {}

  pick(_ctx: SchedulingContext, scored: readonly ScoredEndpoint[], limit: number): Endpoint[] {
    const keyed = scored.map((s) => ({ s, tie: this.random() }));
    keyed.sort((x, y) => y.s.score - x.s.score || x.tie - y.tie);
    return keyed.slice(0, Math.max(0, limit)).map((k) => k.s.endpoint);
  }
}
