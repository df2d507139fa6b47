/**
 * File-source changes take effect while the router runs: a route moved to another ModelServer,
 * pods added, made unready and removed; a stream in flight during the reload completes from the
 * engine it started on.
 */
import { equal, ok } from "node:assert/strict";
import { modelRoute, modelServer } from "../../router/testing/objects.ts";
import { type EngineSpec, post, startFleet, until } from "./router_fleet.ts";

const engine = (name: string, app: string, extra: string[] = []): EngineSpec => ({
  name,
  args: ["--model", "m", "--profile", "fast", ...extra],
  labels: { app },
});

const route = (server: string) =>
  modelRoute("m", { modelName: "m", rules: [{ targetModels: [{ modelServerName: server }] }] });
const servers = [
  modelServer("sa", { workloadSelector: { matchLabels: { app: "a" } } }),
  modelServer("sb", { workloadSelector: { matchLabels: { app: "b" } } }),
];

async function servedBy(url: string, log: { selected_pod?: string }[]): Promise<string> {
  const res = await post(url, "/v1/completions", { model: "m", prompt: "x", max_tokens: 1 });
  await res.body?.cancel();
  if (res.status !== 200) return `status ${res.status}`;
  return log.at(-1)!.selected_pod!;
}

Deno.test("file source: route, server and pod changes apply live without dropping a stream in flight", async () => {
  const fleet = await startFleet({
    engines: [
      engine("a-0", "a", ["--inter-token-latency-ms", "20"]),
      engine("b-0", "b"),
      engine("b-1", "b"),
    ],
    objects: [route("sa"), ...servers],
  });
  try {
    equal(await servedBy(fleet.url, fleet.log), "a-0");

    // A long stream from a-0 …
    const stream = await post(fleet.url, "/v1/completions", {
      model: "m",
      prompt: "long",
      max_tokens: 40,
      ignore_eos: true,
      stream: true,
    });
    const reader = stream.body!.getReader();
    await reader.read();

    // … while the route moves to sb.
    await fleet.write("objects.yaml", [route("sb"), ...servers]);
    await until(
      "the route to move",
      async () => (await servedBy(fleet.url, fleet.log)).startsWith("b-"),
    );

    let rest = "";
    const decoder = new TextDecoder();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += decoder.decode(r.value);
    }
    ok(rest.trimEnd().endsWith("data: [DONE]"), "the stream in flight completed");
    const streamed = fleet.log.find((e) => e.stream === true)!;
    equal(streamed.selected_pod, "a-0");
    equal(streamed.output_tokens, 40);

    // b-1 becomes unready: only b-0 serves; then b-0 disappears too: 503.
    await fleet.write("pods.yaml", [
      fleet.podOf("a-0"),
      fleet.podOf("b-0"),
      fleet.podOf("b-1", { ready: false }),
    ]);
    await until(
      "b-1 out",
      () => fleet.router.datastore.server("default/sb")!.endpoints.length === 1,
    );
    for (let i = 0; i < 5; i++) equal(await servedBy(fleet.url, fleet.log), "b-0");
    await fleet.write("pods.yaml", [fleet.podOf("a-0"), fleet.podOf("b-1", { ready: false })]);
    await until(
      "b-0 gone",
      () => fleet.router.datastore.server("default/sb")!.endpoints.length === 0,
    );
    equal(await servedBy(fleet.url, fleet.log), "status 503");

    // A pod is added back, with a label change moving a-0 into sb as well.
    await fleet.write("pods.yaml", [
      fleet.podOf("a-0", { labels: { app: "b" } }),
      fleet.podOf("b-1"),
    ]);
    await until(
      "two pods in sb",
      () => fleet.router.datastore.server("default/sb")!.endpoints.length === 2,
    );
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add(await servedBy(fleet.url, fleet.log));
    equal(seen.size, 2);

    // An invalid edit changes nothing.
    await Deno.writeTextFile(`${fleet.dir}/objects.yaml`, "kind: ModelRoute\nspec: {}\n");
    await new Promise((r) => setTimeout(r, 300));
    ok((await servedBy(fleet.url, fleet.log)).match(/^(a|b)-/));
  } finally {
    await fleet.stop();
  }
});
