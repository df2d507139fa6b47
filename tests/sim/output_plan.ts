/**
 * Plans a request's output before generation starts: which tokens, their text, and why it
 * ends. Planning up front keeps streaming simple (the stream replays the plan at the model's
 * pace) and makes stop strings exact.
 *
 * Random mode draws short words (≤ 4 letters, so each word is exactly one token and the text
 * re-tokenizes to the same ids) from a seeded generator; the natural length (where EOS is
 * emitted) is uniform in [outputLenMin, outputLenMax]. Echo mode repeats the prompt text.
 *
 * @module
 */

import { type Random, seededRandom } from "./prng.ts";
import { encode, pieceId } from "./tokenizer.ts";

/** One planned output token. */
export interface PlannedToken {
  /** Token id. */
  id: number;
  /** Text this token adds to the output (empty for EOS, possibly cut at a stop string). */
  text: string;
}

/** OpenAI finish reasons the simulator produces. */
export type FinishReason = "stop" | "length";

/** The whole output of a request. */
export interface OutputPlan {
  /** Tokens in order; `completion_tokens` is their count. */
  tokens: PlannedToken[];
  /** `stop` (EOS or stop string) or `length` (max tokens reached). */
  finishReason: FinishReason;
  /** The matched stop string, as vLLM reports it in `stop_reason`; else null. */
  stopReason: string | null;
}

/** Inputs of {@linkcode planOutput}. */
export interface PlanInput {
  /** Seed of the text. */
  seed: number;
  /** Maximum tokens to generate. */
  maxTokens: number;
  /** Never emit EOS (vLLM `ignore_eos`). */
  ignoreEos: boolean;
  /** Stop strings; output ends before the first match. */
  stop: readonly string[];
  /** `random` words or `echo` of `echoText`. */
  mode: "random" | "echo";
  /** Text echoed in echo mode. */
  echoText: string;
  /** Natural length range (random mode). */
  minLen: number;
  /** Natural length range (random mode). */
  maxLen: number;
  /** Id of the EOS token (`<|im_end|>` for chat, `</s>` for completions). */
  eosId: number;
}

const WORDS = [
  "the",
  "of",
  "and",
  "to",
  "in",
  "is",
  "you",
  "that",
  "it",
  "he",
  "was",
  "for",
  "on",
  "are",
  "as",
  "with",
  "his",
  "they",
  "at",
  "be",
  "this",
  "have",
  "from",
  "or",
  "one",
  "had",
  "by",
  "word",
  "but",
  "not",
  "what",
  "all",
  "were",
  "we",
  "when",
  "your",
  "can",
  "said",
  "use",
  "an",
  "each",
  "she",
  "do",
  "how",
  "if",
  "will",
  "up",
  "out",
  "many",
  "then",
  "them",
  "so",
  "some",
  "her",
  "make",
  "like",
  "him",
  "into",
  "time",
  "has",
  "look",
  "two",
  "more",
  "go",
  "see",
  "no",
  "way",
  "my",
  "than",
  "been",
  "call",
  "who",
  "oil",
  "its",
  "now",
  "find",
  "long",
  "down",
  "day",
  "did",
  "get",
  "come",
  "made",
  "may",
  "part",
  "over",
  "new",
  "sky",
  "blue",
  "tree",
  "road",
  "rain",
  "warm",
  "cold",
  "fast",
  "slow",
  "kind",
  "home",
  "city",
] as const;

function pick(random: Random): string {
  return WORDS[Math.floor(random() * WORDS.length)] ?? "the";
}

function randomTokens(random: Random, count: number): string[] {
  const out: string[] = [];
  let sentence = 0;
  for (let i = 0; i < count; i++) {
    if (sentence === 0) {
      const w = pick(random);
      out.push((i === 0 ? "" : " ") + w[0]!.toUpperCase() + w.slice(1));
    } else if (sentence > 4 && random() < 0.15) {
      out.push(".");
      sentence = -1;
    } else {
      out.push(" " + pick(random));
    }
    sentence++;
  }
  return out;
}

/**
 * Plans the output of one request.
 *
 * @param input Seed, limits, stop strings and mode.
 * @returns The planned tokens and finish reason.
 *
 * @example
 * ```ts
 * import { planOutput } from "./output_plan.ts";
 * const p = planOutput({
 *   seed: 7, maxTokens: 5, ignoreEos: true, stop: [], mode: "random", echoText: "",
 *   minLen: 16, maxLen: 16, eosId: 2,
 * });
 * console.log(p.tokens.length, p.finishReason); // 5 "length"
 * ```
 */
export function planOutput(input: PlanInput): OutputPlan {
  const random = seededRandom(input.seed);
  let texts: string[];
  let natural: number;
  if (input.mode === "echo") {
    texts = encode(input.echoText).pieces;
    if (texts.length === 0) texts = ["."];
    natural = texts.length + 1;
    if (input.ignoreEos) {
      const base = texts;
      texts = Array.from({ length: input.maxTokens }, (_, i) => base[i % base.length]!);
    }
  } else {
    natural = input.minLen + Math.floor(random() * (input.maxLen - input.minLen + 1));
    texts = randomTokens(
      random,
      input.ignoreEos ? input.maxTokens : Math.min(natural - 1, input.maxTokens),
    );
  }
  const eosWithin = !input.ignoreEos && natural <= input.maxTokens;
  const count = eosWithin ? natural : input.maxTokens;
  const tokens: PlannedToken[] = [];
  let text = "";
  for (let i = 0; i < count; i++) {
    const piece = texts[i];
    if (piece === undefined) {
      tokens.push({ id: input.eosId, text: "" });
      return { tokens, finishReason: "stop", stopReason: null };
    }
    const before = text.length;
    text += piece;
    tokens.push({ id: pieceId(piece), text: piece });
    const hit = firstStop(text, input.stop, before);
    if (hit !== undefined) {
      clipTo(tokens, hit.at);
      return { tokens, finishReason: "stop", stopReason: hit.stop };
    }
  }
  return { tokens, finishReason: "length", stopReason: null };
}

/** Cuts token texts so that their concatenation is `length` characters long. */
function clipTo(tokens: PlannedToken[], length: number): void {
  let used = 0;
  for (const t of tokens) {
    const keep = Math.max(0, Math.min(t.text.length, length - used));
    t.text = t.text.slice(0, keep);
    used += keep;
  }
}

/** Finds the earliest stop-string match that ends after `from` (only new text can match). */
function firstStop(
  text: string,
  stops: readonly string[],
  from: number,
): { at: number; stop: string } | undefined {
  let best: { at: number; stop: string } | undefined;
  for (const stop of stops) {
    if (stop === "") continue;
    const at = text.indexOf(stop, Math.max(0, from - stop.length + 1));
    if (at >= 0 && (best === undefined || at < best.at)) best = { at, stop };
  }
  return best;
}
