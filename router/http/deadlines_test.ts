import { deepEqual } from "node:assert/strict";
import { Deadlines } from "./deadlines.ts";

Deno.test("Deadlines fire once, after their time, and moving one postpones it", async () => {
  const fired: string[] = [];
  const d = new Deadlines<string>(10, (item) => fired.push(item));
  d.set("soon", 30);
  d.set("moved", 30);
  d.set("gone", 30);
  d.set("never", 0);
  d.delete("gone");
  await new Promise((r) => setTimeout(r, 15));
  d.set("moved", 100);
  await new Promise((r) => setTimeout(r, 60));
  deepEqual(fired, ["soon"]);
  await new Promise((r) => setTimeout(r, 100));
  deepEqual(fired, ["soon", "moved"]);
  d.close();
});
