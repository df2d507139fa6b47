/**
 * The per-token latency model, after llm-d-inference-sim's `per-token` calculator:
 *
 * ```
 * load      = 1 + (timeFactorUnderLoad − 1) × (running − 1) / (maxNumSeqs − 1)
 * prefill   = (prefillOverhead + uncachedPromptTokens × prefillTimePerToken) × load
 * transfer  = kvTransferLatency + transferredTokens × kvTransferTimePerToken   (not load-scaled)
 * TTFT      = prefill + transfer (+ slow-start when injected)
 * ITL       = interTokenLatency × load                                          (per output token)
 * ```
 *
 * `running` is read when each term starts, so a request slows down as others join its batch.
 * With jitter `j`, each term is multiplied by `1 + N(0, j)` clamped to [0.3, 1.7] (llm-d caps
 * the std-dev at 30 % and the deviation at ±70 %). Finally every term is multiplied by
 * `timeScale` (0 = no waiting at all).
 *
 * @module
 */

import { gaussian, type Random, seededRandom } from "./prng.ts";
import type { SimOptions } from "./options.ts";

/** The parameters the model reads. */
export type LatencyParams = Pick<
  SimOptions,
  | "prefillOverheadMs"
  | "prefillTimePerTokenMs"
  | "interTokenLatencyMs"
  | "kvTransferTimePerTokenMs"
  | "kvTransferLatencyMs"
  | "timeFactorUnderLoad"
  | "maxNumSeqs"
  | "jitter"
  | "timeScale"
>;

/**
 * Computes simulated delays in wall-clock milliseconds (time scale applied).
 *
 * @example
 * ```ts
 * import { LatencyModel } from "./latency.ts";
 * const m = new LatencyModel({
 *   prefillOverheadMs: 10, prefillTimePerTokenMs: 1, interTokenLatencyMs: 5,
 *   kvTransferTimePerTokenMs: 0.1, kvTransferLatencyMs: 0, timeFactorUnderLoad: 2,
 *   maxNumSeqs: 11, jitter: 0, timeScale: 1,
 * });
 * console.log(m.prefillMs(100, 1), m.prefillMs(100, 11), m.interTokenMs(6)); // 110 220 7.5
 * ```
 */
export class LatencyModel {
  readonly #p: LatencyParams;
  readonly #random: Random;

  /**
   * @param params Latency parameters.
   * @param seed Seed of the jitter generator.
   */
  constructor(params: LatencyParams, seed = 0x5eed) {
    this.#p = params;
    this.#random = seededRandom(seed);
  }

  /** The time scale applied to every delay. */
  get timeScale(): number {
    return this.#p.timeScale;
  }

  /**
   * Load factor for a batch of `running` requests (1 when alone, `timeFactorUnderLoad` when
   * full, linear in between).
   */
  loadFactor(running: number): number {
    const { timeFactorUnderLoad: f, maxNumSeqs: max } = this.#p;
    if (max <= 1) return 1;
    const clamped = Math.min(Math.max(running, 1), max);
    return 1 + (f - 1) * (clamped - 1) / (max - 1);
  }

  /** Prefill time of `uncachedTokens` prompt tokens with `running` requests in the batch. */
  prefillMs(uncachedTokens: number, running: number): number {
    const base = this.#p.prefillOverheadMs + uncachedTokens * this.#p.prefillTimePerTokenMs;
    return this.#scaled(base * this.loadFactor(running));
  }

  /** KV transfer time of `tokens` tokens (0 tokens = no transfer = 0 ms). */
  transferMs(tokens: number): number {
    if (tokens <= 0) return 0;
    return this.#scaled(this.#p.kvTransferLatencyMs + tokens * this.#p.kvTransferTimePerTokenMs);
  }

  /** Time until the next output token with `running` requests in the batch. */
  interTokenMs(running: number): number {
    return this.#scaled(this.#p.interTokenLatencyMs * this.loadFactor(running));
  }

  /** Scales a fixed delay (e.g. slow-start) by the time scale. */
  fixedMs(ms: number): number {
    return ms * this.#p.timeScale;
  }

  #scaled(ms: number): number {
    if (this.#p.timeScale === 0 || ms === 0) return 0;
    let value = ms;
    if (this.#p.jitter > 0) {
      const factor = 1 + gaussian(this.#random) * this.#p.jitter;
      value *= Math.min(1.7, Math.max(0.3, factor));
    }
    return value * this.#p.timeScale;
  }
}
