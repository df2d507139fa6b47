/**
 * `random` (scorer): a uniform score in [0, 1) per pod. Alone it spreads load evenly; with a
 * small weight next to other scorers it breaks their ties. (Upstream silently drops `random`
 * when another scorer is configured; here weights decide.)
 *
 * @module
 */
import type { Endpoint } from "../../datastore/endpoint.ts";
import type { SchedulingContext, Scorer } from "../types.ts";

/**
 * The `random` plugin.
 *
 * @example
 * ```ts
 * import { RandomScorer } from "./random.ts";
 * const p = new RandomScorer("random", {}, () => 0.5);
 * p.score({} as never, [{} as never]); // [0.5]
 * ```
 */
export class RandomScorer implements Scorer {
  /** Registered type. */
  static readonly TYPE = "random";
  readonly type = RandomScorer.TYPE;

  /**
   * @param name Instance name.
   * @param _args Unused.
   * @param random Random source in [0, 1).
   */
  constructor(
    readonly name: string,
    _args: unknown,
    private readonly random: () => number = Math.random,
  ) {}

  score(_ctx: SchedulingContext, endpoints: readonly Endpoint[]): readonly number[] {
    return endpoints.map(() => this.random());
  }
}
