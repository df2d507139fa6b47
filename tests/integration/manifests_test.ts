/**
 * `kubectl apply -k manifests` on a real API server, and what the RBAC it installs allows:
 * the router and the controller can do their jobs and nothing else.
 */
import assert from "node:assert/strict";
import { testCluster } from "../cluster/mod.ts";

const REPO = new URL("../../", import.meta.url);
const opts = { sanitizeOps: false, sanitizeResources: false };

/** The webhook configuration of the kustomization points at a controller that does not run in
 * the test cluster; with failurePolicy Fail it would refuse every later ModelServing write. */
async function removeWebhookConfiguration(): Promise<void> {
  const cluster = await testCluster();
  await cluster.kubectl([
    "delete",
    "validatingwebhookconfiguration",
    "kthena-controller-manager-validating-webhook",
    "--ignore-not-found",
  ]);
}

Deno.test("kubectl apply -k manifests installs everything without warnings", opts, async () => {
  const cluster = await testCluster();
  const r = await cluster.kubectl(["apply", "-k", new URL("manifests", REPO).pathname]);
  await removeWebhookConfiguration();
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warning/i, r.stderr);
  for (
    const what of [
      "deployment/kthena-router",
      "deployment/kthena-controller-manager",
      "service/kthena-router",
      "service/kthena-controller-manager-webhook",
      "serviceaccount/kthena-router",
      "serviceaccount/kthena-controller-manager",
      "service/kthena-controller-manager-metrics",
    ]
  ) {
    const g = await cluster.kubectl(["get", "-n", "kthena-system", what]);
    assert.equal(g.code, 0, `${what}: ${g.stderr}`);
  }
});

/**
 * [verb, resource, namespace, expected, subresource?] as `kubectl auth can-i` takes them.
 * (`resource/x` names an object `x`; a subresource needs `--subresource`.)
 */
type Check = [string, string, string, boolean, string?];

const ROUTER_CHECKS: Check[] = [
  ["list", "pods", "default", true],
  ["watch", "pods", "dev", true],
  ["watch", "modelroutes.networking.serving.volcano.sh", "default", true],
  ["list", "modelservers.networking.serving.volcano.sh", "default", true],
  ["create", "pods", "default", false],
  ["update", "modelroutes.networking.serving.volcano.sh", "default", false],
  ["get", "secrets", "kthena-system", false],
  ["list", "modelservings.workload.serving.volcano.sh", "default", false],
];

const CONTROLLER_CHECKS: Check[] = [
  ["create", "pods", "default", true],
  ["deletecollection", "pods", "default", true],
  ["patch", "modelservings.workload.serving.volcano.sh", "default", true, "status"],
  ["create", "podgroups.scheduling.volcano.sh", "default", true],
  ["create", "controllerrevisions.apps", "default", true],
  ["watch", "leaderworkersets.leaderworkerset.x-k8s.io", "default", true],
  ["patch", "leaderworkersets.leaderworkerset.x-k8s.io", "default", true, "status"],
  ["update", "leaderworkersets.leaderworkerset.x-k8s.io", "default", false, "status"],
  ["update", "leaderworkersets.leaderworkerset.x-k8s.io", "default", false],
  ["update", "leaderworkersets.leaderworkerset.x-k8s.io", "default", true, "finalizers"],
  ["update", "modelservings.workload.serving.volcano.sh", "default", true, "finalizers"],
  ["delete", "leaderworkersets.leaderworkerset.x-k8s.io", "default", false],
  ["create", "leaderworkersets.leaderworkerset.x-k8s.io", "default", false],
  ["create", "modelroutes.networking.serving.volcano.sh", "default", true],
  ["create", "leases.coordination.k8s.io", "kthena-system", true],
  ["update", "leases.coordination.k8s.io/lease.kthena.controller-manager", "kthena-system", true],
  ["update", "leases.coordination.k8s.io/someone-else", "kthena-system", false],
  ["create", "leases.coordination.k8s.io", "default", false],
  ["get", "secrets", "default", false],
  ["create", "deployments.apps", "default", false],
  ["delete", "modelboosters.workload.serving.volcano.sh", "default", false],
  ["delete", "customresourcedefinitions.apiextensions.k8s.io", "", false],
];

for (
  const [who, checks] of [
    ["kthena-router", ROUTER_CHECKS],
    ["kthena-controller-manager", CONTROLLER_CHECKS],
  ] as const
) {
  Deno.test(`RBAC: ${who} may do its job and nothing more`, opts, async () => {
    const cluster = await testCluster();
    await cluster.kubectl(["apply", "-k", new URL("manifests", REPO).pathname]);
    await removeWebhookConfiguration();
    const as = `--as=system:serviceaccount:kthena-system:${who}`;
    for (const [verb, resource, ns, expected, subresource] of checks) {
      const args = ["auth", "can-i", verb, resource, as];
      if (ns) args.push("-n", ns);
      if (subresource) args.push(`--subresource=${subresource}`);
      const r = await cluster.kubectl(args);
      const allowed = r.stdout.trim() === "yes";
      const what = subresource ? `${resource}/${subresource}` : resource;
      assert.equal(allowed, expected, `${who} ${verb} ${what} in ${ns || "cluster"}`);
    }
  });
}
