/**
 * Weighted random choice among a rule's targets. Weights are relative (50 and 30 give 62.5 % and
 * 37.5 %); weight 0 gets nothing; a total of 0 picks nothing.
 *
 * @module
 */

/**
 * Picks one item with probability proportional to its weight.
 *
 * @param items Candidates.
 * @param weightOf Weight of a candidate (negative counts as 0).
 * @param random A function returning a number in [0, 1).
 * @returns The chosen item, or `undefined` when the total weight is 0.
 *
 * @example
 * ```ts
 * import { weightedPick } from "./weighted_pick.ts";
 * weightedPick(["a", "b"], (x) => (x === "a" ? 70 : 30), () => 0.75); // "b"
 * ```
 */
export function weightedPick<T>(
  items: readonly T[],
  weightOf: (item: T) => number,
  random: () => number = Math.random,
): T | undefined {
  let total = 0;
  for (const item of items) total += Math.max(0, weightOf(item));
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const item of items) {
    const w = Math.max(0, weightOf(item));
    if (w === 0) continue;
    if (r < w) return item;
    r -= w;
  }
  // Floating-point leftovers: the last item with weight.
  for (let i = items.length - 1; i >= 0; i--) {
    if (weightOf(items[i]!) > 0) return items[i];
  }
  return undefined;
}
