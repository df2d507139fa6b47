import { equal } from "node:assert/strict";
import { weightedPick } from "./weighted_pick.ts";

Deno.test("weightedPick maps the random draw onto relative weights", () => {
  const items = [{ n: "a", w: 50 }, { n: "b", w: 30 }, { n: "z", w: 0 }];
  const cases: [number, string][] = [[0, "a"], [0.6249, "a"], [0.625, "b"], [0.9999, "b"]];
  for (const [draw, want] of cases) {
    equal(weightedPick(items, (i) => i.w, () => draw)?.n, want, `draw ${draw}`);
  }
});

Deno.test("weightedPick: weight 0 never wins, total 0 picks nothing", () => {
  equal(weightedPick([{ w: 0 }, { w: 0 }], (i) => i.w), undefined);
  equal(weightedPick([], () => 1), undefined);
  for (let i = 0; i < 200; i++) {
    equal(weightedPick(["a", "b"], (x) => (x === "a" ? 0 : 1))!, "b");
  }
});

Deno.test("weightedPick distribution over many draws is proportional (70/30 and 50/30)", () => {
  const cases: [number, number, number][] = [[70, 30, 0.7], [50, 30, 0.625]];
  for (const [wa, wb, expected] of cases) {
    let a = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      // A low-discrepancy sequence: deterministic and evenly spread.
      const draw = (i * 0.6180339887) % 1;
      if (weightedPick(["a", "b"], (x) => (x === "a" ? wa : wb), () => draw) === "a") a++;
    }
    equal(Math.abs(a / n - expected) < 0.01, true, `${wa}/${wb}: ${a / n}`);
  }
});
