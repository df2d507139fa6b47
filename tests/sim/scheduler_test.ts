import assert from "node:assert/strict";
import { type Schedulable, Scheduler } from "./scheduler.ts";

class Req implements Schedulable {
  admitted = 0;
  preempted = 0;
  constructor(
    readonly name: string,
    readonly lora: string | undefined = undefined,
    public fits = true,
  ) {}
  tryAllocate() {
    return this.fits;
  }
  onAdmitted() {
    this.admitted++;
  }
  onPreempted() {
    this.preempted++;
  }
}

Deno.test("at most maxNumSeqs run; the rest wait in FIFO order", () => {
  const s = new Scheduler<Req>({ maxNumSeqs: 2, maxLoras: 1 });
  const r = ["a", "b", "c", "d"].map((n) => new Req(n));
  r.forEach((x) => s.enqueue(x));
  assert.equal(s.numRunning, 2);
  assert.equal(s.numWaiting, 2);
  s.finish(r[0]!);
  assert.equal(r[2]!.admitted, 1);
  assert.equal(r[3]!.admitted, 0);
  s.finish(r[3]!); // cancelled while waiting
  assert.equal(s.numWaiting, 0);
});

Deno.test("KV shortage blocks the head of the queue", () => {
  const s = new Scheduler<Req>({ maxNumSeqs: 8, maxLoras: 1 });
  const big = new Req("big", undefined, false);
  const small = new Req("small");
  s.enqueue(big);
  s.enqueue(small);
  assert.equal(small.admitted, 0, "no overtaking on KV shortage");
  big.fits = true;
  s.schedule();
  assert.equal(big.admitted + small.admitted, 2);
});

Deno.test("requests for an adapter beyond maxLoras are skipped, later ones admitted", () => {
  const s = new Scheduler<Req>({ maxNumSeqs: 8, maxLoras: 1 });
  const a1 = new Req("a1", "a");
  const b1 = new Req("b1", "b");
  const a2 = new Req("a2", "a");
  const base = new Req("base");
  [a1, b1, a2, base].forEach((x) => s.enqueue(x));
  assert.deepEqual([a1, b1, a2, base].map((x) => x.admitted), [1, 0, 1, 1]);
  s.finish(a1);
  assert.equal(b1.admitted, 0, "a2 still runs adapter a");
  s.finish(a2);
  assert.equal(b1.admitted, 1);
});

Deno.test("preempt moves the newest running request to the front of the queue", () => {
  const s = new Scheduler<Req>({ maxNumSeqs: 2, maxLoras: 1 });
  const [a, b, c] = ["a", "b", "c"].map((n) => new Req(n));
  [a, b, c].forEach((x) => s.enqueue(x!));
  assert.equal(s.preempt(a!), b);
  assert.equal(b!.preempted, 1);
  assert.deepEqual(s.waiting.map((x) => x.name), ["b", "c"]);
  assert.equal(s.preemptions, 1);
  s.schedule();
  assert.equal(b!.admitted, 2, "readmitted first");
});
