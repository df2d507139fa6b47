/**
 * The router with its Kubernetes source on a real kube-apiserver: ModelServers, ModelRoutes and
 * Pods are created in the cluster (pods play Ready with the loopback IP and port of a real
 * simulator process), and chat completions are routed through every KV connector. Also: a PD
 * pair never crosses groups, route and pod changes take effect live, and the informers still
 * deliver after 60 s without any event.
 */
import { equal, ok } from "node:assert/strict";
import { KubeClient } from "@kthena/shared/k8s";
import { MODEL_ROUTE, MODEL_SERVER } from "@kthena/shared/api";
import { KubernetesSource } from "../../router/discovery/kubernetes_source.ts";
import { createLogger } from "../../router/log.ts";
import type { AccessLogEntry } from "../../router/http/access_log.ts";
import { createRouter, type RunningRouter, serveRouter } from "../../router/router.ts";
import { type SimulatorProcess, spawnSimulator } from "../sim/process.ts";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";
import { pdSimulatorArgs, post, until } from "./router_fleet.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CONNECTORS = ["http", "lmcache", "nixl", "mooncake", "sglang"] as const;
type Connector = typeof CONNECTORS[number];
const GROUPS = ["g0", "g1"];

/** Simulators, cluster objects and a router on the Kubernetes source. */
class K8sFleet {
  readonly sims = new Map<string, SimulatorProcess>();
  readonly log: AccessLogEntry[] = [];
  /** The discovery source's own log lines (`level msg`). */
  readonly sourceLog: string[] = [];
  router!: RunningRouter;
  source!: KubernetesSource;

  constructor(readonly client: KubeClient, readonly ns: string) {}

  /** Starts the two PD groups of one connector as simulator processes and their Pods. */
  async addPdEngines(connector: Connector): Promise<void> {
    for (const group of GROUPS) {
      const pdGroup = `${connector}-${group}`;
      const prefill = await spawnSimulator(pdSimulatorArgs(connector, pdGroup, "prefill"));
      this.sims.set(`${pdGroup}-prefill`, prefill);
      this.sims.set(
        `${pdGroup}-decode`,
        await spawnSimulator(
          pdSimulatorArgs(connector, pdGroup, "decode", prefill.sideChannelPort),
        ),
      );
      for (const role of ["prefill", "decode"]) {
        await this.addPod(`${connector}-${group}-${role}`, {
          app: connector,
          group: `${connector}-${group}`,
          role,
        });
      }
    }
  }

  /** Creates a Pod for a simulator and plays the kubelet: Running, Ready, IP 127.0.0.1. */
  async addPod(name: string, labels: Record<string, string>): Promise<void> {
    const sim = this.sims.get(name)!;
    await this.client.pods.create({
      metadata: {
        name,
        namespace: this.ns,
        labels,
        annotations: {
          "router.kthena.io/workload-port": String(sim.port),
          ...(sim.bootstrapPort ? { "sglang.ai/bootstrap-port": String(sim.bootstrapPort) } : {}),
        },
      },
      spec: { containers: [{ name: "engine", image: "vllm/vllm-openai" }] },
    });
    await this.client.pods.patchStatus(this.ns, name, {
      phase: "Running",
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: new Date().toISOString() }],
    });
  }

  async addServer(connector: Connector): Promise<void> {
    await this.client.resource(MODEL_SERVER).create({
      apiVersion: "networking.serving.volcano.sh/v1alpha1",
      kind: "ModelServer",
      metadata: { name: connector, namespace: this.ns },
      spec: {
        model: "Qwen/Qwen3-8B",
        inferenceEngine: connector === "sglang" ? "SGLang" : "vLLM",
        workloadSelector: {
          matchLabels: { app: connector },
          pdGroup: {
            groupKey: "group",
            prefillLabels: { role: "prefill" },
            decodeLabels: { role: "decode" },
          },
        },
        workloadPort: { port: 8000 },
        ...(connector === "sglang" ? {} : { kvConnector: { type: connector } }),
        trafficPolicy: { timeout: "20s" },
      },
    } as never);
  }

  async addRoute(name: string, model: string, server: string): Promise<void> {
    await this.client.resource(MODEL_ROUTE).create({
      apiVersion: "networking.serving.volcano.sh/v1alpha1",
      kind: "ModelRoute",
      metadata: { name, namespace: this.ns },
      spec: {
        modelName: model,
        rules: [{ name: "default", targetModels: [{ modelServerName: server }] }],
      },
    } as never);
  }

  async startRouter(): Promise<void> {
    this.source = new KubernetesSource({
      client: this.client,
      namespace: this.ns,
      log: createLogger((level, msg) => this.sourceLog.push(`${level} ${msg}`)),
    });
    this.router = await serveRouter(
      createRouter({ sources: [this.source], accessLog: (e) => this.log.push(e) }),
      { hostname: "127.0.0.1", port: 0 },
    );
  }

  async stop(): Promise<void> {
    await this.router?.shutdown();
    await Promise.all([...this.sims.values()].map((s) => s.stop()));
    this.client.close();
  }
}

async function chat(url: string, model: string, stream: boolean): Promise<string> {
  const res = await post(url, "/v1/chat/completions", {
    model,
    messages: [{ role: "user", content: `prefill and decode, ${stream ? "streamed" : "whole"}` }],
    max_tokens: 5,
    stream,
  });
  const text = await res.text();
  equal(res.status, 200, `${model}: ${text}`);
  ok(!text.includes('"error"'), text);
  if (stream) ok(text.trimEnd().endsWith("data: [DONE]"), text);
  return text;
}

Deno.test(
  "router on Kubernetes: every connector, streamed and not, pairs within a group",
  opts,
  async () => {
    const cluster = await testCluster();
    const ns = await uniqueNamespace(cluster, "router-k8s");
    const fleet = new K8sFleet(KubeClient.load({ path: cluster.kubeconfigPath }), ns);
    try {
      for (const c of CONNECTORS) {
        await fleet.addPdEngines(c);
        await fleet.addServer(c);
        await fleet.addRoute(c, `pd-${c}`, c);
      }
      await fleet.startRouter();
      // Discovery says what it did, through the router's logger.
      ok(fleet.sourceLog.some((l) => l.startsWith("info kubernetes discovery synced")));
      for (const c of CONNECTORS) {
        for (let i = 0; i < 3; i++) {
          await chat(fleet.router.url, `pd-${c}`, false);
          await chat(fleet.router.url, `pd-${c}`, true);
        }
      }
      for (const c of CONNECTORS) {
        const entries = fleet.log.filter((e) => e.model_name === `pd-${c}`);
        equal(entries.length, 6);
        for (const e of entries) {
          equal(e.kv_connector, c);
          equal(
            e.prefill_pod!.replace(/-prefill$/, ""),
            e.decode_pod!.replace(/-decode$/, ""),
            "same group",
          );
        }
      }
    } finally {
      await fleet.stop();
    }
  },
);

Deno.test(
  "router on Kubernetes: route and pod changes take effect live; events after 60 s idle",
  opts,
  async () => {
    const cluster = await testCluster();
    const ns = await uniqueNamespace(cluster, "router-live");
    const fleet = new K8sFleet(KubeClient.load({ path: cluster.kubeconfigPath }), ns);
    try {
      await fleet.addPdEngines("nixl");
      await fleet.addServer("nixl");
      await fleet.startRouter();

      // No route yet: 404. A new route works within moments, without a restart.
      const res = await post(fleet.router.url, "/v1/chat/completions", {
        model: "live",
        messages: [{ role: "user", content: "x" }],
      });
      equal(res.status, 404);
      await res.body?.cancel();
      await fleet.addRoute("live", "live", "nixl");
      await until("the new route", async () => {
        const r = await post(fleet.router.url, "/v1/chat/completions", {
          model: "live",
          messages: [{ role: "user", content: "x" }],
          max_tokens: 2,
        });
        await r.body?.cancel();
        return r.status === 200;
      });

      // Group g0's decode pod turns NotReady: every pair now comes from g1.
      await fleet.client.pods.patchStatus(ns, "nixl-g0-decode", {
        conditions: [{
          type: "Ready",
          status: "False",
          lastTransitionTime: new Date().toISOString(),
        }],
      });
      await until("g0 decode gone", async () => {
        fleet.log.length = 0;
        for (let i = 0; i < 4; i++) await chat(fleet.router.url, "live", false);
        return fleet.log.every((e) => e.decode_pod === "nixl-g1-decode");
      });

      // 60 s with no event at all on any of the router's watches, then a change must still arrive.
      await new Promise((r) => setTimeout(r, 62_000));
      await fleet.addRoute("after-idle", "after-idle", "nixl");
      const ms = await until("a route created after 60 s idle", async () => {
        const r = await post(fleet.router.url, "/v1/chat/completions", {
          model: "after-idle",
          messages: [{ role: "user", content: "x" }],
          max_tokens: 2,
        });
        await r.body?.cancel();
        return r.status === 200;
      }, 10_000);
      ok(ms < 10_000);
    } finally {
      await fleet.stop();
    }
  },
);
