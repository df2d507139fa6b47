/**
 * Cancellation through real simulator processes: a client that disconnects aborts every engine
 * leg (aggregated, and both PD legs, during the prefill and during the decode stream); when one
 * PD leg fails the other is cancelled at once and the client gets one answer.
 *
 * Timing bounds are generous (the machine is shared); the measured latencies are printed.
 */
import { equal, ok } from "node:assert/strict";
import { modelRoute, modelServer } from "../../router/testing/objects.ts";
import { type EngineSpec, type Fleet, post, scrape, startFleet, until } from "./router_fleet.ts";

// deno-lint-ignore no-console
const note = (line: string) => console.log(`    ${line}`);

const BOUND_MS = 2000;

function running(fleet: Fleet, name: string, engine: "vllm" | "sglang" = "vllm"): Promise<number> {
  const metric = engine === "vllm" ? "vllm:num_requests_running" : "sglang:num_running_reqs";
  return scrape(fleet.sims.get(name)!.url, metric);
}

/** Starts a stream, waits for `chunks` chunks, then aborts the client; returns when it aborted. */
async function abortAfter(url: string, body: unknown, chunks: number): Promise<number> {
  const client = new AbortController();
  const res = await post(url, "/v1/chat/completions", body, { signal: client.signal });
  equal(res.status, 200);
  const reader = res.body!.getReader();
  for (let i = 0; i < chunks; i++) await reader.read();
  client.abort();
  await reader.cancel().catch(() => {});
  return performance.now();
}

const chat = (model: string, maxTokens: number, stream = true) => ({
  model,
  messages: [{ role: "user", content: "a long answer please" }],
  max_tokens: maxTokens,
  ignore_eos: true,
  stream,
});

Deno.test("client disconnect aborts the engine stream (aggregated)", async () => {
  const fleet = await startFleet({
    engines: [{
      name: "e-0",
      args: ["--model", "m", "--profile", "fast", "--inter-token-latency-ms", "50"],
      labels: { app: "e" },
    }],
    objects: [
      modelRoute("m", { modelName: "m", rules: [{ targetModels: [{ modelServerName: "e" }] }] }),
      modelServer("e", { workloadSelector: { matchLabels: { app: "e" } } }),
    ],
  });
  try {
    const aborted = await abortAfter(fleet.url, chat("m", 500), 3);
    await until("the engine to stop", async () => (await running(fleet, "e-0")) === 0, BOUND_MS);
    const ms = performance.now() - aborted;
    note(
      `engine request ended ${ms.toFixed(0)} ms after the client left (includes the metrics poll)`,
    );
    ok(ms < BOUND_MS);
    await until("the access log", () => fleet.log.length === 1);
    equal(fleet.log[0]!.error?.type, "client_closed");
    equal(await scrape(fleet.url, "kthena_router_active_upstream_requests"), 0);
  } finally {
    await fleet.stop();
  }
});

const nixlEngines = (prefillExtra: string[] = [], decodeExtra: string[] = []): EngineSpec[] => {
  const common = [
    "--model",
    "m",
    "--profile",
    "fast",
    "--kv-connector",
    "nixl",
    "--pd-group",
    "g0",
    "--refuse-cross-group",
  ];
  return [
    {
      name: "prefill",
      args: [...common, "--role", "prefill", ...prefillExtra],
      labels: { app: "pd", group: "g0", role: "prefill" },
    },
    {
      name: "decode",
      args: [...common, "--role", "decode", ...decodeExtra],
      labels: { app: "pd", group: "g0", role: "decode" },
    },
  ];
};

const pdObjects = (engine: "vLLM" | "SGLang", connector?: "nixl") => [
  modelRoute("pd", { modelName: "pd", rules: [{ targetModels: [{ modelServerName: "pd" }] }] }),
  modelServer("pd", {
    model: "m",
    inferenceEngine: engine,
    workloadSelector: {
      matchLabels: { app: "pd" },
      pdGroup: {
        groupKey: "group",
        prefillLabels: { role: "prefill" },
        decodeLabels: { role: "decode" },
      },
    },
    ...(connector ? { kvConnector: { type: connector } } : {}),
  }),
];

Deno.test("client disconnect aborts PD legs: during the decode stream and during the prefill", async () => {
  const fleet = await startFleet({
    engines: nixlEngines(["--prefill-overhead-ms", "3000"], ["--inter-token-latency-ms", "50"]),
    objects: pdObjects("vLLM", "nixl"),
  });
  try {
    // During the prefill: it takes 3 s; the client leaves after 300 ms.
    const client = new AbortController();
    const pending = post(fleet.url, "/v1/chat/completions", chat("pd", 100), {
      signal: client.signal,
    }).catch(() => undefined);
    await until("the prefill to run", async () => (await running(fleet, "prefill")) === 1);
    await new Promise((r) => setTimeout(r, 300));
    client.abort();
    const left = performance.now();
    await pending;
    await until(
      "the prefill to stop",
      async () => (await running(fleet, "prefill")) === 0,
      BOUND_MS,
    );
    note(`prefill leg ended ${(performance.now() - left).toFixed(0)} ms after the client left`);
    equal(await running(fleet, "decode"), 0, "no decode was sent");
    await until(
      "router legs closed",
      async () => (await scrape(fleet.url, "kthena_router_active_upstream_requests")) === 0,
      BOUND_MS,
    );
  } finally {
    await fleet.stop();
  }

  const fast = await startFleet({
    engines: nixlEngines([], ["--inter-token-latency-ms", "50"]),
    objects: pdObjects("vLLM", "nixl"),
  });
  try {
    const aborted = await abortAfter(fast.url, chat("pd", 500), 3);
    await until("the decode to stop", async () => (await running(fast, "decode")) === 0, BOUND_MS);
    note(`decode leg ended ${(performance.now() - aborted).toFixed(0)} ms after the client left`);
    await until(
      "router legs closed",
      async () => (await scrape(fast.url, "kthena_router_active_upstream_requests")) === 0,
      BOUND_MS,
    );
    await until("the access log", () => fast.log.length === 1);
    equal(fast.log[0]!.error?.type, "client_closed");
  } finally {
    await fast.stop();
  }
});

const sglangEngines = (prefillExtra: string[], decodeExtra: string[]): EngineSpec[] => {
  const common = [
    "--engine",
    "sglang",
    "--model",
    "m",
    "--profile",
    "fast",
    "--kv-connector",
    "sglang",
    "--pd-group",
    "g0",
  ];
  return [
    {
      name: "prefill",
      args: [...common, "--role", "prefill", ...prefillExtra],
      labels: { app: "pd", group: "g0", role: "prefill" },
    },
    {
      name: "decode",
      args: [...common, "--role", "decode", ...decodeExtra],
      labels: { app: "pd", group: "g0", role: "decode" },
    },
  ];
};

for (
  const [which, prefillExtra, decodeExtra] of [
    ["prefill", ["--failure-rate", "1", "--failure-kinds", "5xx"], []],
    ["decode", [], ["--failure-rate", "1", "--failure-kinds", "5xx"]],
  ] as const
) {
  Deno.test(`SGLang PD: a failing ${which} cancels the other leg, and the client gets one answer`, async () => {
    const fleet = await startFleet({
      engines: sglangEngines([...prefillExtra], [...decodeExtra]),
      objects: pdObjects("SGLang"),
    });
    try {
      for (const stream of [false, true]) {
        const t0 = performance.now();
        const res = await post(fleet.url, "/v1/chat/completions", chat("pd", 8, stream));
        const text = await res.text();
        const ms = performance.now() - t0;
        note(`${which} failure (stream=${stream}): answered ${res.status} in ${ms.toFixed(0)} ms`);
        ok(res.status >= 500, text);
        ok(text.startsWith("{") && text.trimEnd().endsWith("}"), "a single JSON error body");
        ok(ms < 10_000, "well before the 30 s bootstrap timeout");
        await until(
          "both legs closed in the router",
          async () => (await scrape(fleet.url, "kthena_router_active_upstream_requests")) === 0,
          BOUND_MS,
        );
      }
      // One pair, so the default policy tries once per request; the failed leg is counted.
      ok(await scrape(fleet.url, "kthena_router_upstream_failures_total", { leg: which }) >= 2);
    } finally {
      await fleet.stop();
    }
  });
}
