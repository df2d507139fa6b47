/**
 * `least-request` (filter and scorer), after upstream's plugin.
 *
 * - Filter: keeps pods whose engine reports fewer than `maxWaitingRequests` waiting requests
 *   (default 10; 0 means 10). Pods without engine metrics are kept.
 * - Score: `base = inFlight + 100 · max(inFlight − running, 0)` (the second term only when the
 *   engine's running count is known), `score = (maxBase − base) / maxBase`, 1 for every pod when
 *   `maxBase` is 0. `inFlight` is the router's own count, so the score reacts to the request
 *   scheduled a microsecond ago.
 *
 * @module
 */
import { z } from "zod";
import type { Endpoint } from "../../datastore/endpoint.ts";
import type { Filter, SchedulingContext, Scorer } from "../types.ts";

/**
 * Arguments of `least-request`.
 *
 * @example
 * ```ts
 * import { LeastRequestArgs } from "./least_request.ts";
 * LeastRequestArgs.parse(undefined).maxWaitingRequests; // 10
 * ```
 */
export const LeastRequestArgs = z.object({
  maxWaitingRequests: z.number().int().min(0).default(10),
}).default({ maxWaitingRequests: 10 });

/**
 * The `least-request` plugin.
 *
 * @example
 * ```ts
 * import { LeastRequest } from "./least_request.ts";
 * const p = new LeastRequest("least-request", {});
 * p.type; // "least-request"
 * ```
 */
export class LeastRequest implements Filter, Scorer {
  /** Registered type. */
  static readonly TYPE = "least-request";
  readonly type = LeastRequest.TYPE;
  readonly #maxWaiting: number;

  /**
   * @param name Instance name.
   * @param args `{ maxWaitingRequests }`.
   */
  constructor(readonly name: string, args: unknown) {
    const parsed = LeastRequestArgs.parse(args ?? undefined);
    this.#maxWaiting = parsed.maxWaitingRequests || 10;
  }

  filter(ctx: SchedulingContext, endpoints: readonly Endpoint[]): readonly Endpoint[] {
    return endpoints.filter((e) => {
      const waiting = ctx.state.engineMetrics(e.key)?.waiting;
      return waiting === undefined || waiting < this.#maxWaiting;
    });
  }

  score(ctx: SchedulingContext, endpoints: readonly Endpoint[]): readonly number[] {
    const base = endpoints.map((e) => {
      const inFlight = ctx.state.inFlight(e.key);
      const running = ctx.state.engineMetrics(e.key)?.running;
      return running === undefined ? inFlight : inFlight + 100 * Math.max(inFlight - running, 0);
    });
    const max = Math.max(0, ...base);
    return max === 0 ? base.map(() => 1) : base.map((b) => (max - b) / max);
  }
}
