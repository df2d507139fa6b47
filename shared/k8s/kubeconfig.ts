/**
 * Loading the Kubernetes client configuration the way upstream's `--kubeconfig`/`--master`
 * flags do: an explicit kubeconfig file, else `$KUBECONFIG`, else the pod's service account
 * (in-cluster), else `~/.kube/config`. client-node's `KubeConfig` does the parsing and the
 * authentication (tokens, token files, client certificates, exec plugins); this module only
 * picks the source and checks that the result is usable.
 *
 * @module
 */
import { KubeConfig } from "@kubernetes/client-node";

/** Where to take the configuration from. */
export interface LoadKubeConfigOptions {
  /** A kubeconfig file (upstream `--kubeconfig`). */
  path?: string;
  /** The context to use instead of the file's current one. */
  context?: string;
  /** The API server URL, replacing the cluster's (upstream `--master`). */
  server?: string;
  /** Use the pod's service account even when `$KUBECONFIG` is set. */
  inCluster?: boolean;
}

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/**
 * Loads a KubeConfig: `path`, else `$KUBECONFIG`, else in-cluster (when
 * `KUBERNETES_SERVICE_HOST` is set), else `~/.kube/config`.
 *
 * @throws {Error} when no source gives a cluster with a server URL.
 * @example
 * ```ts ignore
 * import { loadKubeConfig } from "./kubeconfig.ts";
 * const kc = loadKubeConfig({ path: "/tmp/kubeconfig" });
 * kc.getCurrentCluster()?.server; // "https://127.0.0.1:6443"
 * ```
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const env = (name: string) => Deno.env.get(name) ?? "";
  if (opts.inCluster) {
    kc.loadFromCluster();
  } else if (opts.path) {
    kc.loadFromFile(opts.path);
  } else if (env("KUBECONFIG") !== "") {
    kc.loadFromDefault();
  } else if (env("KUBERNETES_SERVICE_HOST") !== "") {
    kc.loadFromCluster();
  } else {
    // ~/.kube/config; client-node falls back to http://localhost:8080, which we reject below.
    kc.loadFromDefault();
  }
  if (opts.context) kc.setCurrentContext(opts.context);
  if (opts.server) {
    const current = kc.getCurrentCluster();
    if (current) {
      kc.clusters = kc.clusters.map((c) =>
        c.name === current.name ? { ...c, server: opts.server ?? c.server } : c
      );
    }
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server || cluster.server === "http://localhost:8080" && !opts.server) {
    throw new Error(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod",
    );
  }
  return kc;
}

/**
 * The namespace the configuration points at: the current context's namespace, else the pod's
 * own namespace (in-cluster), else `default`.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "@kubernetes/client-node";
 * import { currentNamespace } from "./kubeconfig.ts";
 * const kc = new KubeConfig();
 * kc.loadFromOptions({
 *   clusters: [{ name: "c", server: "https://127.0.0.1:6443" }],
 *   users: [{ name: "u", token: "t" }],
 *   contexts: [{ name: "x", cluster: "c", user: "u", namespace: "dev" }],
 *   currentContext: "x",
 * });
 * currentNamespace(kc); // "dev"
 * ```
 */
export function currentNamespace(kc: KubeConfig): string {
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (ctx?.namespace) return ctx.namespace;
  try {
    const ns = Deno.readTextFileSync(SA_NAMESPACE_FILE).trim();
    if (ns !== "") return ns;
  } catch { /* not in a pod */ }
  return "default";
}
