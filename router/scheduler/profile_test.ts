import { deepEqual, equal, throws } from "node:assert/strict";
import { parseRouterConfig } from "../config/router_config.ts";
import { buildProfile } from "./profile.ts";
import { PluginRegistry } from "./registry.ts";

const registry = PluginRegistry.withBuiltins();

Deno.test("buildProfile reads upstream's chart configuration; enabled plugins not built yet are refused by name", () => {
  const chart = (score: string) =>
    parseRouterConfig(`
scheduler:
  pluginConfig:
  - name: least-request
    args: { maxWaitingRequests: 10 }
  - name: least-latency
    args: { TTFTTPOTWeightFactor: 0.5 }
  plugins:
    Filter:
      enabled: [least-request]
      disabled: [lora-affinity]
    Score:
      enabled:
      - { name: least-request, weight: 1 }
${score}
`);
  const { profile, warnings } = buildProfile(chart("").scheduler!, registry);
  deepEqual(profile.filters.map((f) => f.name), ["least-request"]);
  deepEqual(profile.scorers.map((s) => [s.scorer.name, s.weight]), [["least-request", 1]]);
  equal(profile.picker.name, "max-score");
  equal(warnings.length, 0);
  // One instance per plugin name, shared by its roles.
  equal(profile.filters[0], profile.scorers[0]!.scorer as unknown);
  for (const planned of ["gpu-usage", "least-latency", "prefix-cache", "kvcache-aware"]) {
    throws(
      () => buildProfile(chart(`      - { name: ${planned}, weight: 1 }`).scheduler!, registry),
      new RegExp(`scheduler plugin "${planned}" is not implemented yet`),
    );
  }
});

Deno.test("buildProfile table: weights, duplicates, errors", () => {
  const ok: [string, [string, number][]][] = [
    ["Score: {enabled: [{name: random, weight: 2}]}", [["random", 2]]],
    ["Score: {enabled: [{name: random}]}", [["random", 1]]],
    ["Score: {enabled: [{name: random, weight: -3}]}", [["random", 0]]],
    ["Score: {enabled: [{name: random, weight: 1}, {name: random, weight: 5}]}", [["random", 5]]],
  ];
  for (const [yaml, want] of ok) {
    const config = parseRouterConfig(`scheduler:\n  plugins:\n    ${yaml}\n`);
    const { profile } = buildProfile(config.scheduler!, registry);
    deepEqual(profile.scorers.map((s) => [s.scorer.name, s.weight]), want, yaml);
  }
  const bad: [string, RegExp][] = [
    ["Score: {enabled: [{name: nope}]}", /unknown scheduler plugin "nope"/],
    ["Filter: {enabled: [random]}", /"random" is not a filter/],
    ["Pick: {enabled: [random]}", /"random" is not a picker/],
  ];
  for (const [yaml, want] of bad) {
    const config = parseRouterConfig(`scheduler:\n  plugins:\n    ${yaml}\n`);
    throws(() => buildProfile(config.scheduler!, registry), want, yaml);
  }
  throws(
    () =>
      buildProfile(
        parseRouterConfig(
          "scheduler:\n  pluginConfig: [{name: least-request, args: {maxWaitingRequests: -1}}]\n  plugins: {Filter: {enabled: [least-request]}}\n",
        ).scheduler!,
        registry,
      ),
    /least-request/,
  );
});

Deno.test("parseRouterConfig names the invalid field, and reads a ConfigMap", () => {
  throws(
    () => parseRouterConfig("scheduler:\n  plugins:\n    Score:\n      enabled: [{weight: 1}]\n"),
    /scheduler\.plugins\.Score\.enabled\[0\]\.name/,
  );
  const fromConfigMap = parseRouterConfig(`
apiVersion: v1
kind: ConfigMap
metadata: { name: kthena-router-config }
data:
  routerConfiguration: |
    scheduler:
      plugins:
        Score:
          enabled: [{name: random, weight: 1}]
`);
  equal(fromConfigMap.scheduler?.plugins?.Score?.enabled[0]?.name, "random");
});
