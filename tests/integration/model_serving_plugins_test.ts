/**
 * `spec.plugins` on the real test cluster: a built-in scoped to workers changes the worker
 * pods only and does not make the controller recreate them, and an unknown plugin is reported
 * as a Warning event naming the field, with no pods created.
 */
import assert from "node:assert/strict";
import { Harness, opts, role } from "./model_serving_harness.ts";

Deno.test(
  "demo-pod-tweaks scoped to workers: env and annotation on worker pods only, no recreation",
  opts,
  async () => {
    const h = await Harness.start("ms-plugins");
    try {
      await h.apply("tweaks", {
        replicas: 1,
        plugins: [{
          name: "demo-pod-tweaks",
          type: "BuiltIn",
          config: { env: [{ name: "FOO", value: "bar" }], annotations: { a: "b" } },
          scope: { target: "Worker" },
        }],
        template: { roles: [role("default", 1, 2)] },
      });
      await h.waitReady("tweaks");
      const pods = await h.podMap();
      assert.deepEqual([...pods.keys()].sort(), [
        "tweaks-0-default-0-0",
        "tweaks-0-default-0-1",
        "tweaks-0-default-0-2",
      ]);
      for (const [name, p] of pods) {
        const isWorker = !name.endsWith("-0-0");
        const env = p.spec!.containers[0]!.env ?? [];
        const foo = env.filter((e) => e.name === "FOO");
        assert.deepEqual(foo.map((e) => e.value), isWorker ? ["bar"] : [], name);
        // Appended after the controller's own variables.
        if (isWorker) assert.equal(env.at(-1)?.name, "FOO", name);
        assert.equal(p.metadata!.annotations?.a, isWorker ? "b" : undefined, name);
      }

      // Plugin output is not part of the revision: the ready pods stay as they are.
      const uids = new Map([...pods].map(([n, p]) => [n, p.metadata!.uid]));
      await h.holds("the same pods", async () => {
        const now = await h.podMap();
        return now.size === uids.size &&
          [...now].every(([n, p]) => uids.get(n) === p.metadata!.uid);
      }, 2_000);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "an unknown plugin: a Warning event naming spec.plugins[i].name, and no pods",
  opts,
  async () => {
    const h = await Harness.start("ms-plugin-unknown");
    try {
      await h.apply("unknown", {
        replicas: 1,
        plugins: [
          { name: "lws-standard-labels", type: "BuiltIn" },
          { name: "no-such-plugin", type: "BuiltIn" },
        ],
        template: { roles: [role("default", 1, 1)] },
      });
      const ms = await h.get("unknown");
      const event = await h.waitFor("a Warning event about the plugin", async () => {
        const events = await h.events(ms);
        return events.find((e) => e.type === "Warning" && e.reason === "InvalidPlugin");
      });
      assert.match(
        event.message ?? "",
        /^spec\.plugins\[1\]\.name: unknown plugin "no-such-plugin"/,
      );
      await h.holds("no pods", async () => (await h.pods()).length === 0, 2_000);
    } finally {
      await h.close();
    }
  },
);
