/**
 * The test cluster as test files see it.
 *
 * `deno task test` starts one cluster for the whole run and passes it down through environment
 * variables (`KTHENA_TEST_KUBECONFIG`, `KTHENA_TEST_KUBECTL`); a test file run on its own
 * (`deno test -A tests/integration/crd_test.ts`) starts a private one on first use and stops
 * it when the process exits. Either way each test works in namespaces of its own.
 *
 * Tests that use the cluster must turn off Deno's op and resource sanitizers: the cluster
 * outlives any single test.
 *
 * @module
 */
import { type Cluster, runKubectl, startCluster } from "./cluster.ts";
import { ensureBinaries } from "./binaries.ts";

export { type Cluster, freePort, type KubectlResult, startCluster } from "./cluster.ts";
export { ensureBinaries } from "./binaries.ts";

/** The part of a cluster tests use. */
export type TestCluster = Pick<Cluster, "kubeconfigPath" | "kubectl" | "server">;

let shared: Promise<TestCluster> | undefined;

/**
 * The cluster of this test run.
 *
 * @example
 * ```ts
 * import { testCluster } from "./mod.ts";
 * const cluster = await testCluster();
 * await cluster.kubectl(["get", "namespaces"]);
 * ```
 */
export function testCluster(): Promise<TestCluster> {
  shared ??= connectOrStart();
  return shared;
}

async function connectOrStart(): Promise<TestCluster> {
  const kubeconfigPath = Deno.env.get("KTHENA_TEST_KUBECONFIG");
  const kubectlBin = Deno.env.get("KTHENA_TEST_KUBECTL");
  if (kubeconfigPath && kubectlBin) {
    const text = await Deno.readTextFile(kubeconfigPath);
    const server = text.match(/server: (\S+)/)?.[1] ?? "";
    return {
      kubeconfigPath,
      server,
      kubectl: (args, stdin) => runKubectl(kubectlBin, kubeconfigPath, args, stdin),
    };
  }
  const cluster = await startCluster({ binaries: await ensureBinaries() });
  globalThis.addEventListener("unload", () => {
    // unload handlers cannot await; the reaper process finishes the job if this is cut short.
    cluster.stop();
  });
  return cluster;
}

/**
 * Creates a namespace with a unique name for one test and returns its name.
 *
 * @example
 * ```ts
 * import { testCluster, uniqueNamespace } from "./mod.ts";
 * const ns = await uniqueNamespace(await testCluster(), "crd");
 * ```
 */
export async function uniqueNamespace(cluster: TestCluster, prefix: string): Promise<string> {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const r = await cluster.kubectl(["create", "namespace", name]);
  if (r.code !== 0) throw new Error(`cannot create namespace ${name}: ${r.stderr}`);
  return name;
}
