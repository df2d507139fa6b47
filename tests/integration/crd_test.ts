/**
 * Our CRDs on a real kube-apiserver: the examples are accepted, invalid objects are rejected
 * with a message naming the field (by the API server and by the shared zod schemas alike), the
 * API server applies the same defaults as zod, and the schemas are structural.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseResource, ResourceValidationError } from "@kthena/shared/api";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";

const REPO = new URL("../../", import.meta.url);
const opts = { sanitizeOps: false, sanitizeResources: false };

async function exampleFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ["model-booster", "model-serving", "kthena-router"]) {
    for await (const e of Deno.readDir(new URL(`examples/${sub}/`, REPO))) {
      if (e.isFile && e.name.endsWith(".yaml")) out.push(`examples/${sub}/${e.name}`);
    }
  }
  return out.sort();
}

Deno.test(
  "every example passes kubectl apply --dry-run=server without warnings",
  opts,
  async () => {
    const cluster = await testCluster();
    // Some examples live in namespace "dev", as in the seed documents.
    await cluster.kubectl(["create", "namespace", "dev"]);
    for (const file of await exampleFiles()) {
      const r = await cluster.kubectl([
        "apply",
        "--dry-run=server",
        "-f",
        new URL(file, REPO).pathname,
      ]);
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /warning/i, `${file}: ${r.stderr}`);
    }
  },
);

Deno.test("the CRDs are structural and established", opts, async () => {
  const cluster = await testCluster();
  const r = await cluster.kubectl(["get", "crds", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const crds = JSON.parse(r.stdout).items as {
    metadata: { name: string };
    status: { conditions: { type: string; status: string; message: string }[] };
  }[];
  // Ours, Volcano's PodGroup and LeaderWorkerSet (both generated for the test cluster).
  const ours = crds.filter((c) =>
    c.metadata.name.endsWith(".volcano.sh") ||
    c.metadata.name === "leaderworkersets.leaderworkerset.x-k8s.io"
  );
  assert.equal(ours.length, 8);
  for (const crd of ours) {
    const conds = new Map(crd.status.conditions.map((c) => [c.type, c]));
    assert.equal(conds.get("Established")?.status, "True", crd.metadata.name);
    assert.equal(conds.get("NonStructuralSchema"), undefined, crd.metadata.name);
  }
  // Re-applying the CRDs reports no schema warnings either.
  const again = await cluster.kubectl([
    "apply",
    "--dry-run=server",
    "-f",
    new URL("manifests/crds/", REPO).pathname,
    "-f",
    new URL("manifests/testing/", REPO).pathname,
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /warning/i);
});

/** An invalid object, the field the rejection must name, and a part of its message. */
interface InvalidCase {
  name: string;
  object: Record<string, unknown>;
  /** The field the API server names (`<nil>` for rules on the object root). */
  field: string;
  message: RegExp;
  /** The field zod names, when it differs (zod can point into metadata; CEL cannot). */
  zodField?: string;
}

const meta = (name: string) => ({ name });
const podTemplate = { spec: { containers: [{ name: "c", image: "nginx" }] } };
const modelServing = (spec: Record<string, unknown>) => ({
  apiVersion: "workload.serving.volcano.sh/v1alpha1",
  kind: "ModelServing",
  metadata: meta("ms"),
  spec: {
    template: { roles: [{ name: "prefill", entryTemplate: podTemplate, workerReplicas: 0 }] },
    ...spec,
  },
});
const modelServer = (spec: Record<string, unknown>) => ({
  apiVersion: "networking.serving.volcano.sh/v1alpha1",
  kind: "ModelServer",
  metadata: meta("server"),
  spec: {
    inferenceEngine: "vLLM",
    workloadSelector: { matchLabels: { app: "x" } },
    workloadPort: { port: 8000 },
    ...spec,
  },
});
const modelRoute = (spec: Record<string, unknown>) => ({
  apiVersion: "networking.serving.volcano.sh/v1alpha1",
  kind: "ModelRoute",
  metadata: meta("route"),
  spec: { modelName: "m", rules: [{ targetModels: [{ modelServerName: "s" }] }], ...spec },
});
const policy = (spec: Record<string, unknown>) => ({
  apiVersion: "workload.serving.volcano.sh/v1alpha1",
  kind: "AutoscalingPolicy",
  metadata: meta("policy"),
  spec: { metrics: [{ name: "vllm:num_requests_waiting", targetValue: "10" }], ...spec },
});
const homogeneous = {
  minReplicas: 1,
  maxReplicas: 3,
  target: { targetRef: { kind: "ModelServing", name: "ms" } },
};

const INVALID: InvalidCase[] = [
  {
    name: "negative replicas",
    object: modelServing({ replicas: -1 }),
    field: "spec.replicas",
    message: /greater than or equal to 0|non-negative/,
  },
  {
    name: "wrong type",
    object: modelServing({ replicas: "three" }),
    field: "spec.replicas",
    message: /integer|number/,
  },
  {
    name: "unknown enum value",
    object: modelServer({ inferenceEngine: "TGI" }),
    field: "spec.inferenceEngine",
    message: /Unsupported value|Invalid option/,
  },
  {
    name: "missing required field",
    object: modelServer({ workloadPort: undefined }),
    field: "spec.workloadPort",
    message: /Required|expected object/,
  },
  {
    name: "both of two mutually exclusive fields",
    object: modelRoute({
      rules: [{ targetModels: [{ modelServerName: "s", externalModelProviderName: "p" }] }],
    }),
    field: "spec.rules[0].targetModels[0]",
    message: /exactly one of modelServerName or externalModelProviderName/,
  },
  {
    name: "neither of two mutually exclusive fields",
    object: modelRoute({ rules: [{ targetModels: [{ weight: 10 }] }] }),
    field: "spec.rules[0].targetModels[0]",
    message: /exactly one of modelServerName or externalModelProviderName/,
  },
  {
    name: "binding with both targets",
    object: {
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "AutoscalingPolicyBinding",
      metadata: meta("binding"),
      spec: {
        policyRef: { name: "p" },
        homogeneousTarget: homogeneous,
        heterogeneousTarget: { params: [{ ...homogeneous, cost: 1 }] },
      },
    },
    field: "spec",
    message: /Either heterogeneousTarget or homogeneousTarget must be set, but not both/,
  },
  {
    name: "route with neither modelName nor loraAdapters",
    object: modelRoute({ modelName: undefined }),
    field: "spec",
    message: /ModelName and LoraAdapters cannot both be empty/,
  },
  {
    name: "worker replicas without a worker template",
    object: modelServing({
      template: { roles: [{ name: "decode", entryTemplate: podTemplate, workerReplicas: 2 }] },
    }),
    field: "spec.template.roles[0].workerTemplate",
    message: /workerTemplate is required when workerReplicas > 0/,
  },
  {
    name: "duplicate role names",
    object: modelServing({
      template: {
        roles: [
          { name: "prefill", entryTemplate: podTemplate, workerReplicas: 0 },
          { name: "prefill", entryTemplate: podTemplate, workerReplicas: 0 },
        ],
      },
    }),
    field: "spec.template.roles",
    message: /roles name must be unique/,
  },
  {
    name: "role name that is not a DNS-1035 label",
    object: modelServing({
      template: { roles: [{ name: "Prefill", entryTemplate: podTemplate, workerReplicas: 0 }] },
    }),
    field: "spec.template.roles[0].name",
    message: /should match|DNS-1035/,
  },
  {
    name: "role partition without RoleRollingUpdate",
    object: modelServing({
      template: {
        roles: [{ name: "prefill", entryTemplate: podTemplate, workerReplicas: 0, partition: 1 }],
      },
    }),
    field: "spec.template.roles",
    message: /partition is only allowed with rolloutStrategy.type RoleRollingUpdate/,
  },
  {
    name: "ModelServing name that is not a DNS-1035 label",
    object: { ...modelServing({}), metadata: meta("1-sample") },
    field: "<nil>",
    message: /metadata.name must be a DNS-1035 label/,
    zodField: "metadata.name",
  },
  {
    name: "ModelServing name too long for its pod names",
    object: { ...modelServing({}), metadata: meta(`s${"x".repeat(50)}`) },
    field: "<nil>",
    message: /metadata.name is too long/,
    zodField: "metadata.name",
  },
  {
    name: "maxUnavailable that resolves to 0",
    object: modelServing({
      replicas: 1,
      rolloutStrategy: { rollingUpdateConfiguration: { maxUnavailable: "10%" } },
    }),
    field: "spec.rolloutStrategy.rollingUpdateConfiguration.maxUnavailable",
    message: /maxUnavailable cannot be 0/,
  },
  {
    name: "role maxUnavailable above the role's replicas",
    object: modelServing({
      rolloutStrategy: { type: "RoleRollingUpdate" },
      template: {
        roles: [{
          name: "prefill",
          replicas: 2,
          maxUnavailable: 3,
          entryTemplate: podTemplate,
          workerReplicas: 0,
        }],
      },
    }),
    field: "spec.template.roles",
    message: /maxUnavailable must resolve to between 1 and its replicas/,
  },
  {
    name: "negative metric target",
    object: policy({ metrics: [{ name: "cpu", targetValue: "-100m" }] }),
    field: "spec.metrics[0].targetValue",
    message: /metric target value must be greater than 0/,
  },
  {
    name: "duplicate metric names",
    object: policy({
      metrics: [{ name: "cpu", targetValue: "1" }, { name: "cpu", targetValue: "2" }],
    }),
    field: "spec.metrics",
    message: /duplicate metric name/,
  },
  {
    name: "two autoscaling targets at once",
    object: policy({
      homogeneousTarget: homogeneous,
      heterogeneousTarget: { params: [{ ...homogeneous, cost: 1 }] },
    }),
    field: "spec",
    message: /at most one of homogeneousTarget, heterogeneousTarget or disaggregatedTarget/,
  },
  {
    name: "malformed duration",
    object: modelServer({ trafficPolicy: { timeout: "10 seconds" } }),
    field: "spec.trafficPolicy.timeout",
    message: /should match|duration/,
  },
  {
    name: "empty workload selector",
    object: modelServer({ workloadSelector: {} }),
    field: "spec.workloadSelector.matchLabels",
    message: /matchLabels must have at least one label/,
  },
  {
    name: "vLLM ModelBooster with two workers",
    object: {
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "ModelBooster",
      metadata: meta("booster"),
      spec: {
        backend: {
          name: "b",
          type: "vLLM",
          modelURI: "hf://Qwen/Qwen3-0.6B",
          workers: [{ type: "server" }, { type: "server" }],
        },
      },
    },
    field: "spec.backend.workers",
    message: /a vLLM backend needs exactly one worker, of type server/,
  },
];

Deno.test("invalid custom resources are rejected, naming the field", opts, async (t) => {
  const cluster = await testCluster();
  const ns = await uniqueNamespace(cluster, "invalid");
  for (const c of INVALID) {
    await t.step(c.name, async () => {
      const r = await cluster.kubectl(
        ["create", "--dry-run=server", "-n", ns, "-f", "-"],
        JSON.stringify(c.object),
      );
      assert.notEqual(r.code, 0, `the API server accepted it: ${r.stdout}`);
      const line = apiServerErrors(r.stderr).find((e) =>
        e.startsWith(`${c.field}:`) && c.message.test(e)
      );
      assert.ok(line, `expected "${c.field}: …${c.message.source}…" in:\n${r.stderr}`);

      // The shared schema rejects it too, naming the same field.
      const zodField = c.zodField ?? c.field;
      let problems: string[] = [];
      try {
        parseResource(c.object);
      } catch (e) {
        assert.ok(e instanceof ResourceValidationError, String(e));
        problems = e.problems;
      }
      assert.ok(
        problems.some((p) =>
          p.startsWith(`${zodField}:`) || (zodField === "spec" && /^spec/.test(p))
        ),
        `zod named other fields: ${problems.join("; ")}`,
      );
    });
  }
});

Deno.test("the API server applies the same defaults as the shared schemas", opts, async () => {
  const cluster = await testCluster();
  const ns = await uniqueNamespace(cluster, "defaults");
  const objects = [
    modelServing({
      rolloutStrategy: { rollingUpdateConfiguration: {} },
      template: {
        gangPolicy: { minRoleReplicas: { prefill: 1 } },
        networkTopology: { groupPolicy: {} },
        roles: [{ name: "prefill", entryTemplate: podTemplate }],
      },
    }),
    modelServer({ trafficPolicy: { retry: { attempts: 2 } }, kvConnector: {} }),
    modelRoute({ rateLimit: { inputTokensPerUnit: 10 } }),
    policy({ behavior: { scaleUp: { stablePolicy: {}, panicPolicy: { period: "1s" } } } }),
  ];
  for (const object of objects) {
    const r = await cluster.kubectl(
      ["create", "-n", ns, "-o", "json", "-f", "-"],
      stringify(object),
    );
    assert.equal(r.code, 0, r.stderr);
    const stored = JSON.parse(r.stdout);
    const parsed = parseResource(object).object;
    assert.deepEqual(
      stripPodSpecs(stored.spec),
      stripPodSpecs(parsed.spec),
      `${object.kind}: API server and zod defaults differ`,
    );
  }
});

Deno.test("transition rules: modelName and minRoleReplicas are immutable", opts, async () => {
  const cluster = await testCluster();
  const ns = await uniqueNamespace(cluster, "immutable");
  const route = modelRoute({});
  let r = await cluster.kubectl(["create", "-n", ns, "-f", "-"], JSON.stringify(route));
  assert.equal(r.code, 0, r.stderr);
  r = await cluster.kubectl([
    "patch",
    "-n",
    ns,
    "modelroute",
    "route",
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { modelName: "other" } }),
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spec.modelName: Invalid value: "other": modelName is immutable/);

  const ms = modelServing({
    template: {
      gangPolicy: { minRoleReplicas: { prefill: 1 } },
      roles: [{ name: "prefill", entryTemplate: podTemplate, workerReplicas: 0 }],
    },
  });
  r = await cluster.kubectl(["create", "-n", ns, "-f", "-"], JSON.stringify(ms));
  assert.equal(r.code, 0, r.stderr);
  r = await cluster.kubectl([
    "patch",
    "-n",
    ns,
    "modelserving",
    "ms",
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { template: { gangPolicy: { minRoleReplicas: { prefill: 0 } } } } }),
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /minRoleReplicas is immutable/);
});

/**
 * Splits an API server rejection into its field errors:
 * `The X "n" is invalid: [spec.a: Invalid value: …, spec.b: Required value]` → two strings.
 */
function apiServerErrors(stderr: string): string[] {
  const body = stderr.slice(stderr.indexOf("is invalid: ") + "is invalid: ".length).trim();
  // Several errors come as "* field: message" lines, or as "[a: …, b: …]" on one line.
  if (body.includes("* ")) {
    return body.split("\n").filter((l) => l.startsWith("* ")).map((l) => l.slice(2).trim());
  }
  return body.replace(/^\[/, "").replace(/\]$/, "")
    .split(/, (?=(?:spec|metadata|status)[.:[])/)
    .map((e) => e.trim());
}

/** Pod templates are the API server's own business (it adds e.g. port protocols). */
function stripPodSpecs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPodSpecs);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === "entryTemplate" || k === "workerTemplate" ? "<pod template>" : stripPodSpecs(v),
    ]),
  );
}
