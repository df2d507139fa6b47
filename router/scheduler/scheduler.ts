/**
 * The scheduling cycle: filters in order, weighted scores, a picker; and prefill/decode pairing
 * (upstream §2.6): rank the decode pods, then for each of the best ones pick the best prefill pod
 * of the same PD group.
 *
 * @module
 */
import type { PdTopology } from "../datastore/datastore.ts";
import type { Endpoint } from "../datastore/endpoint.ts";
import type {
  Filter,
  Picker,
  Plugin,
  PostResponse,
  ResponseOutcome,
  SchedulingContext,
  SchedulingRequest,
  Scorer,
} from "./types.ts";

/** A configured set of plugins. */
export interface SchedulerProfile {
  /** Filters, run in order. */
  readonly filters: readonly Filter[];
  /** Scorers with their weights. */
  readonly scorers: readonly { readonly scorer: Scorer; readonly weight: number }[];
  /** The picker. */
  readonly picker: Picker;
  /** Post-response plugins. */
  readonly postResponse: readonly PostResponse[];
}

/** Called with the duration of every plugin call. */
export type PluginObserver = (
  ctx: SchedulingContext,
  plugin: Plugin,
  kind: "filter" | "score" | "pick",
  seconds: number,
) => void;

/** Ranked endpoints, or why there are none. */
export type RankResult =
  | { readonly ok: true; readonly endpoints: Endpoint[] }
  | { readonly ok: false; readonly reason: string };

/** A decode pod and a prefill pod of the same PD group. */
export interface PdPair {
  readonly decode: Endpoint;
  readonly prefill: Endpoint;
}

/** Ranked pairs, or why there are none. */
export type PairResult =
  | { readonly ok: true; readonly pairs: PdPair[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Runs scheduling cycles over a profile.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * import { MaxScorePicker } from "./plugins/max_score_picker.ts";
 * const s = new Scheduler({ filters: [], scorers: [], picker: new MaxScorePicker("max-score", {}), postResponse: [] });
 * ```
 */
export class Scheduler {
  /**
   * @param profile The plugins.
   * @param observer Receives plugin durations (metrics).
   */
  constructor(readonly profile: SchedulerProfile, private readonly observer?: PluginObserver) {}

  /** Filters, scores and orders `endpoints`, keeping at most `limit`. */
  rank(ctx: SchedulingContext, endpoints: readonly Endpoint[], limit: number): RankResult {
    if (endpoints.length === 0) return { ok: false, reason: "no endpoints" };
    const observe = this.observer;
    let candidates = endpoints;
    for (const filter of this.profile.filters) {
      const t0 = observe ? performance.now() : 0;
      candidates = filter.filter(ctx, candidates);
      if (observe) observe(ctx, filter, "filter", (performance.now() - t0) / 1000);
      if (candidates.length === 0) {
        return { ok: false, reason: `pods have all been filtered out by "${filter.name}"` };
      }
    }
    const totals = new Array<number>(candidates.length).fill(0);
    for (const { scorer, weight } of this.profile.scorers) {
      if (weight <= 0) continue;
      const t0 = observe ? performance.now() : 0;
      const scores = scorer.score(ctx, candidates);
      if (observe) observe(ctx, scorer, "score", (performance.now() - t0) / 1000);
      for (let i = 0; i < totals.length; i++) {
        const s = scores[i] ?? 0;
        totals[i]! += weight * (Number.isFinite(s) ? Math.min(1, Math.max(0, s)) : 0);
      }
    }
    const scored = candidates.map((endpoint, i) => ({ endpoint, score: totals[i]! }));
    const t0 = observe ? performance.now() : 0;
    const picked = this.profile.picker.pick(ctx, scored, limit);
    if (observe) observe(ctx, this.profile.picker, "pick", (performance.now() - t0) / 1000);
    return picked.length > 0 ? { ok: true, endpoints: picked } : { ok: false, reason: "no pick" };
  }

  /**
   * Pairs decode and prefill pods: the `limit` best decode pods, each with the best prefill pod
   * of its own PD group (decode pods whose group has no schedulable prefill pod are skipped).
   */
  pairs(
    request: SchedulingRequest,
    state: SchedulingContext["state"],
    pd: PdTopology,
    limit: number,
  ): PairResult {
    if (pd.decode.length === 0) return { ok: false, reason: "no decode pod found" };
    const cycle = new Map<string, unknown>();
    const decodes = this.rank({ request, state, role: "decode", cycle }, pd.decode, limit);
    if (!decodes.ok) return decodes;
    const prefillCtx: SchedulingContext = { request, state, role: "prefill", cycle };
    const pairs: PdPair[] = [];
    let lastReason = "no prefill pod in the decode pods' PD groups";
    for (const decode of decodes.endpoints) {
      const group = decode.pdGroup === undefined ? undefined : pd.groups.get(decode.pdGroup);
      if (!group || group.prefill.length === 0) continue;
      const prefill = this.rank(prefillCtx, group.prefill, 1);
      if (!prefill.ok) {
        lastReason = prefill.reason;
        continue;
      }
      pairs.push({ decode, prefill: prefill.endpoints[0]! });
    }
    return pairs.length > 0
      ? { ok: true, pairs }
      : { ok: false, reason: `no valid prefill-decode pod pairs found (${lastReason})` };
  }

  /** Tells post-response plugins how a request went. */
  postResponse(request: SchedulingRequest, outcome: ResponseOutcome): void {
    for (const plugin of this.profile.postResponse) plugin.postResponse(request, outcome);
  }
}
