/**
 * Prefill/decode disaggregation through real simulator processes, for every connector (http,
 * lmcache, nixl, mooncake, sglang): chat and completions, streamed and not; engines are started
 * with `--pd-group` and `--refuse-cross-group`, so a pair that crossed groups would fail.
 */
import { equal, ok } from "node:assert/strict";
import type { KvConnectorType } from "@kthena/shared/api";
import { modelRoute, modelServer } from "../../router/testing/objects.ts";
import { type EngineSpec, pdSimulatorArgs, post, scrape, startFleet } from "./router_fleet.ts";

const GROUPS = ["g0", "g1"];

function pdEngines(connector: KvConnectorType): EngineSpec[] {
  const specs: EngineSpec[] = [];
  for (const group of GROUPS) {
    const labels = (role: string) => ({ app: "pd", group, role });
    specs.push({
      name: `${group}-prefill`,
      args: pdSimulatorArgs(connector, group, "prefill"),
      labels: labels("prefill"),
    });
    specs.push({
      name: `${group}-decode`,
      args: (started) =>
        pdSimulatorArgs(
          connector,
          group,
          "decode",
          started.get(`${group}-prefill`)!.sideChannelPort,
        ),
      labels: labels("decode"),
    });
  }
  return specs;
}

function pdObjects(connector: KvConnectorType) {
  return [
    modelRoute("pd", { modelName: "pd", rules: [{ targetModels: [{ modelServerName: "pd" }] }] }),
    modelServer("pd", {
      model: "Qwen/Qwen3-8B",
      inferenceEngine: connector === "sglang" ? "SGLang" : "vLLM",
      workloadSelector: {
        matchLabels: { app: "pd" },
        pdGroup: {
          groupKey: "group",
          prefillLabels: { role: "prefill" },
          decodeLabels: { role: "decode" },
        },
      },
      ...(connector === "sglang" ? {} : { kvConnector: { type: connector } }),
      trafficPolicy: { timeout: "20s" },
    }),
  ];
}

const prompt = "Tell me a long story about prefill and decode engines sharing a KV cache";

for (const connector of ["http", "lmcache", "nixl", "mooncake", "sglang"] as const) {
  Deno.test(`PD over ${connector}: chat and completions, streamed and not, pairs within a group`, async () => {
    const fleet = await startFleet({
      engines: pdEngines(connector),
      objects: pdObjects(connector),
    });
    try {
      const requests = [];
      for (let i = 0; i < 4; i++) {
        for (const stream of [false, true]) {
          requests.push(
            post(fleet.url, "/v1/chat/completions", {
              model: "pd",
              messages: [{ role: "user", content: `${prompt} #${i}` }],
              max_tokens: 6,
              stream,
            }),
            post(fleet.url, "/v1/completions", {
              model: "pd",
              prompt: `${prompt} #${i}`,
              max_tokens: 6,
              stream,
            }),
          );
        }
      }
      const responses = await Promise.all(requests);
      for (const res of responses) {
        const text = await res.text();
        equal(res.status, 200, text);
        ok(!text.includes('"error"'), text);
        if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
          ok(text.trimEnd().endsWith("data: [DONE]"), text);
          ok(!text.includes('"usage":{'), "injected usage stripped");
        }
      }
      const pd = fleet.log.filter((e) => e.model_name === "pd");
      equal(pd.length, requests.length);
      for (const e of pd) {
        equal(e.kv_connector, connector);
        equal(
          e.prefill_pod!.split("-")[0],
          e.decode_pod!.split("-")[0],
          "pair within one PD group",
        );
        equal(e.output_tokens, 6);
      }
      const decodesUsed = new Set(pd.map((e) => e.decode_pod));
      equal(decodesUsed.size, 2, "both groups served");

      // The engines saw real KV handoffs and no refused (cross-group) transfer.
      let ok_ = 0;
      let refused = 0;
      for (const sim of fleet.sims.values()) {
        ok_ += await scrape(sim.url, "kthena_sim_kv_transfers_total", { result: "ok" });
        refused += await scrape(sim.url, "kthena_sim_kv_transfers_total", { result: "refused" });
      }
      equal(refused, 0);
      if (connector === "http") equal(ok_, 0);
      else {ok(
          ok_ >= requests.length / (connector === "lmcache" ? 2 : 1),
          `${ok_} transfers for ${requests.length} requests`,
        );}

      const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
      ok(metrics.includes("kthena_router_request_prefill_duration_seconds_count"));
      ok(metrics.includes("kthena_router_request_decode_duration_seconds_count"));
    } finally {
      await fleet.stop();
    }
  });
}
