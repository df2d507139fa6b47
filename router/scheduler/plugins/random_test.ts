import { deepEqual, equal } from "node:assert/strict";
import { context, endpoint } from "../../testing/scheduler.ts";
import { RandomScorer } from "./random.ts";

Deno.test("random score table: one draw per endpoint, in order", () => {
  const cases: { draws: number[]; want: number[] }[] = [
    { draws: [0.1, 0.9], want: [0.1, 0.9] },
    { draws: [0, 0.5, 0.999], want: [0, 0.5, 0.999] },
  ];
  for (const c of cases) {
    const draws = [...c.draws];
    const plugin = new RandomScorer("random", {}, () => draws.shift()!);
    const eps = c.want.map((_, i) => endpoint(`p${i}`));
    deepEqual(plugin.score(context(), eps), c.want);
  }
});

Deno.test("random scores stay in [0, 1) and spread", () => {
  const plugin = new RandomScorer("random", {});
  const scores = plugin.score(context(), Array.from({ length: 1000 }, (_, i) => endpoint(`p${i}`)));
  equal(scores.every((s) => s >= 0 && s < 1), true);
  equal(scores.filter((s) => s < 0.5).length > 400, true);
});
