import { deepEqual } from "node:assert/strict";
import { context, endpoint } from "../../testing/scheduler.ts";
import { MaxScorePicker } from "./max_score_picker.ts";

Deno.test("max-score picker table: highest first, limit, ties by the random draw", () => {
  const [a, b, c] = [endpoint("a"), endpoint("b"), endpoint("c")];
  const cases: { scores: number[]; limit: number; ties: number[]; want: string[] }[] = [
    { scores: [0.1, 0.9, 0.5], limit: 3, ties: [0, 0, 0], want: ["b", "c", "a"] },
    { scores: [0.1, 0.9, 0.5], limit: 1, ties: [0, 0, 0], want: ["b"] },
    { scores: [1, 1, 0], limit: 2, ties: [0.9, 0.1, 0.5], want: ["b", "a"] },
    { scores: [1, 1, 1], limit: 3, ties: [0.3, 0.2, 0.1], want: ["c", "b", "a"] },
    { scores: [1, 1, 1], limit: 0, ties: [0, 0, 0], want: [] },
  ];
  for (const t of cases) {
    const ties = [...t.ties];
    const picker = new MaxScorePicker("max-score", {}, () => ties.shift()!);
    const scored = [a, b, c].map((endpoint, i) => ({ endpoint, score: t.scores[i]! }));
    deepEqual(
      picker.pick(context(), scored, t.limit).map((e) => e.name),
      t.want,
      JSON.stringify(t),
    );
  }
});
