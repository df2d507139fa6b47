/**
 * A real Kubernetes control plane on loopback, for tests (envtest style): etcd,
 * kube-apiserver and kube-controller-manager (for garbage collection and namespace deletion),
 * with our CRDs installed and a kubeconfig that kubectl and `@kubernetes/client-node` both use.
 *
 * There is no kubelet: tests play it by patching pod status, or the node agent of
 * `tests/dev/` plays it for nodes it registers. With `scheduler: true` the real
 * kube-scheduler binds pods to nodes.
 *
 * Nothing here dials outside loopback: the API server routes to Services through their
 * endpoints (`--enable-aggregator-routing`), never to a ClusterIP, so a webhook or an
 * aggregated API registered by Service fails fast when nothing backs it (there is no
 * kube-proxy, and 10.96.0.0/16 is not on this machine). Register webhooks by `url` on
 * 127.0.0.1 instead.
 *
 * @module
 */
import { type ClusterBinaries, ensureBinaries } from "./binaries.ts";
import { makeCerts } from "./certs.ts";

const REPO_ROOT = new URL("../../", import.meta.url);

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Binaries to run; found or built by {@linkcode ensureBinaries} when absent. */
  binaries?: ClusterBinaries;
  /** Files or directories of manifests to apply once the apiserver is ready. */
  manifests?: string[];
  /** Start kube-controller-manager (garbage collector, namespaces). Default true. */
  controllerManager?: boolean;
  /**
   * Extra kube-controller-manager controllers besides garbage collection, namespaces and
   * service accounts, e.g. `["deployment-controller", "replicaset-controller"]`.
   */
  extraControllers?: string[];
  /** Start kube-scheduler (binds default-scheduler pods to nodes). Default false. */
  scheduler?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Keep the working directory (logs, etcd data) after stop. Default: `KTHENA_KEEP_CLUSTER_DIR`. */
  keepDir?: boolean;
}

/** Result of a kubectl call. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running test cluster. */
export interface Cluster {
  /** The apiserver's URL, `https://127.0.0.1:<port>`. */
  server: string;
  /** A kubeconfig with cluster-admin rights (bearer token, CA data). */
  kubeconfigPath: string;
  /** The cluster-admin bearer token. */
  token: string;
  /** The CA that signed the apiserver's certificate, PEM. */
  caCertPem: string;
  /** The working directory: logs, certificates, etcd data. */
  dir: string;
  /** Runs kubectl against this cluster. */
  kubectl(args: string[], stdin?: string): Promise<KubectlResult>;
  /** Stops every process and removes the working directory. */
  stop(): Promise<void>;
}

/** The default manifests installed into a test cluster: our CRDs and Volcano's PodGroup. */
export const DEFAULT_MANIFESTS: string[] = [
  new URL("manifests/crds/", REPO_ROOT).pathname,
  new URL("manifests/testing/", REPO_ROOT).pathname,
];

/**
 * Picks a free TCP port on 127.0.0.1.
 *
 * @example
 * ```ts
 * import { freePort } from "./cluster.ts";
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts a cluster and returns when the apiserver is ready and the CRDs are established.
 *
 * @example
 * ```ts
 * import { startCluster } from "./cluster.ts";
 * const cluster = await startCluster();
 * try {
 *   await cluster.kubectl(["get", "crds"]);
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? (() => {});
  const bins = opts.binaries ?? await ensureBinaries(log);
  const dir = await Deno.makeTempDir({ prefix: "kthena-cluster-" });
  const keepDir = opts.keepDir ?? Deno.env.get("KTHENA_KEEP_CLUSTER_DIR") === "1";
  const procs: Deno.ChildProcess[] = [];
  let reaper: Deno.ChildProcess | undefined;

  const stop = async () => {
    killQuietly(reaper);
    // Reverse order: the controller manager and apiserver go before etcd.
    for (const p of procs.reverse()) await terminate(p);
    if (!keepDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    const certs = await makeCerts(dir);
    const token = crypto.randomUUID().replaceAll("-", "");
    await Deno.writeTextFile(
      `${dir}/tokens.csv`,
      `${token},kthena-admin,kthena-admin,"system:masters"\n`,
    );

    const etcdPort = freePort();
    const etcdPeerPort = freePort();
    const etcd = spawn(bins.etcd, [
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      "--unsafe-no-fsync", // test data: durability buys nothing, fsync costs seconds
      "--log-level=warn",
    ], `${dir}/etcd.log`);
    procs.push(etcd);
    reaper = startReaper(procs);
    await waitFor(
      `etcd on :${etcdPort}`,
      async () => {
        const r = await fetch(`http://127.0.0.1:${etcdPort}/health`);
        await r.body?.cancel();
        return r.ok;
      },
      30_000,
      etcd,
      `${dir}/etcd.log`,
    );

    const apiPort = freePort();
    const apiserver = spawn(bins.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      // The "kubernetes" Service endpoints cannot point at loopback; nothing here needs them.
      "--endpoint-reconciler-type=none",
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${certs.serverCert}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--token-auth-file=${dir}/tokens.csv`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${certs.serviceAccountPub}`,
      `--service-account-signing-key-file=${certs.serviceAccountKey}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--allow-privileged=true",
      // Pods are created right after their namespace; the default ServiceAccount may not exist
      // yet, and no kubelet will ever mount a token anyway.
      "--disable-admission-plugins=ServiceAccount",
      "--enable-priority-and-fairness=false",
      // Services are reached through their endpoints, never their ClusterIP (an address that
      // would leave the machine): a webhook Service without endpoints fails at once.
      "--enable-aggregator-routing=true",
      "--profiling=false",
      `--cert-dir=${dir}/apiserver-certs`,
      "--v=0",
    ], `${dir}/kube-apiserver.log`);
    procs.push(apiserver);
    refreshReaper();

    const server = `https://127.0.0.1:${apiPort}`;
    const caCertPem = await Deno.readTextFile(certs.caCert);
    const client = Deno.createHttpClient({ caCerts: [caCertPem] });
    try {
      await waitFor(
        "kube-apiserver /readyz",
        async () => {
          const r = await fetch(`${server}/readyz`, {
            client,
            headers: { authorization: `Bearer ${token}` },
          });
          await r.body?.cancel();
          return r.ok;
        },
        90_000,
        apiserver,
        `${dir}/kube-apiserver.log`,
      );
    } finally {
      client.close();
    }

    const kubeconfigPath = `${dir}/kubeconfig`;
    await Deno.writeTextFile(kubeconfigPath, kubeconfig(server, caCertPem, token));

    const kubectl = (args: string[], stdin?: string) =>
      runKubectl(bins.kubectl, kubeconfigPath, args, stdin);

    for (const path of opts.manifests ?? DEFAULT_MANIFESTS) {
      const r = await kubectl(["apply", "-f", path]);
      if (r.code !== 0) throw new Error(`kubectl apply -f ${path} failed: ${r.stderr}`);
    }
    if ((opts.manifests ?? DEFAULT_MANIFESTS).length > 0) {
      const r = await kubectl([
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=60s",
      ]);
      if (r.code !== 0) throw new Error(`CRDs not established: ${r.stderr}`);
    }
    // After the CRDs: the garbage collector discovers resources when it starts and then only
    // every 30 s, so custom objects deleted before its next discovery would keep their
    // dependents for up to 30 s.
    if (opts.controllerManager ?? true) {
      procs.push(spawn(bins.kubeControllerManager, [
        `--kubeconfig=${kubeconfigPath}`,
        `--controllers=${
          [
            "garbage-collector-controller",
            "namespace-controller",
            "serviceaccount-controller",
            ...(opts.extraControllers ?? []),
          ].join(",")
        }`,
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=false",
        "--v=0",
      ], `${dir}/kube-controller-manager.log`));
      refreshReaper();
    }
    if (opts.scheduler) {
      procs.push(spawn(bins.kubeScheduler, [
        `--kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${freePort()}`,
        "--v=0",
      ], `${dir}/kube-scheduler.log`));
      refreshReaper();
    }

    log(`cluster ready at ${server} (kubeconfig ${kubeconfigPath})`);
    return { server, kubeconfigPath, token, caCertPem, dir, kubectl, stop };
  } catch (e) {
    await stop();
    throw e;
  }

  function refreshReaper(): void {
    killQuietly(reaper);
    reaper = startReaper(procs);
  }
}

/**
 * The kubeconfig YAML of a cluster: one context, bearer token, CA data.
 *
 * @example
 * ```ts
 * import { kubeconfig } from "./cluster.ts";
 * kubeconfig("https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----…", "token");
 * ```
 */
export function kubeconfig(server: string, caPem: string, token: string): string {
  const ca = btoa(caPem);
  return `apiVersion: v1
kind: Config
clusters:
  - name: kthena-test
    cluster:
      server: ${server}
      certificate-authority-data: ${ca}
users:
  - name: kthena-admin
    user:
      token: ${token}
contexts:
  - name: kthena-test
    context:
      cluster: kthena-test
      user: kthena-admin
      namespace: default
current-context: kthena-test
`;
}

/**
 * Runs a kubectl binary with a kubeconfig and returns its exit code and output.
 *
 * @example
 * ```ts
 * import { runKubectl } from "./cluster.ts";
 * await runKubectl("kubectl", "/tmp/kubeconfig", ["get", "pods"]);
 * ```
 */
export async function runKubectl(
  bin: string,
  kubeconfigPath: string,
  args: string[],
  stdin?: string,
): Promise<KubectlResult> {
  const child = new Deno.Command(bin, {
    args: [`--kubeconfig=${kubeconfigPath}`, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts a process with its output appended to a log file. */
function spawn(bin: string, args: string[], logPath: string): Deno.ChildProcess {
  return spawnLogged(bin, args, logPath).child;
}

/**
 * Starts a process with stdout and stderr appended to one log file; `logged` settles once both
 * streams have ended and the file is closed.
 *
 * @example
 * ```ts ignore
 * import { spawnLogged } from "./cluster.ts";
 * const { child, logged } = spawnLogged("etcd", [], "/tmp/etcd.log");
 * ```
 */
export function spawnLogged(
  bin: string,
  args: string[],
  logPath: string,
): { child: Deno.ChildProcess; logged: Promise<unknown> } {
  const logFile = Deno.openSync(logPath, { create: true, append: true });
  const child = new Deno.Command(bin, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  // Both streams go to one file; the file closes when both have ended.
  let open = 2;
  const sink = () =>
    new WritableStream<Uint8Array>({
      write: (chunk) => {
        logFile.writeSync(chunk);
      },
      close: () => {
        if (--open === 0) logFile.close();
      },
      abort: () => {
        if (--open === 0) logFile.close();
      },
    });
  const logged = Promise.all([
    child.stdout.pipeTo(sink()).catch(() => {}),
    child.stderr.pipeTo(sink()).catch(() => {}),
  ]);
  return { child, logged };
}

function killQuietly(p: Deno.ChildProcess | undefined): void {
  try {
    p?.kill("SIGKILL");
  } catch { /* already exited */ }
}

async function terminate(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch {
    return; // already exited
  }
  const timer = setTimeout(() => {
    try {
      p.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }, 5_000);
  await p.status;
  clearTimeout(timer);
}

/**
 * A small shell process that kills the cluster's processes if this process dies without
 * stopping them (a crashed test, SIGKILL): nothing outlives the test run.
 */
function startReaper(procs: Deno.ChildProcess[]): Deno.ChildProcess {
  const pids = procs.map((p) => p.pid).join(" ");
  const script = `while kill -0 ${Deno.pid} 2>/dev/null; do sleep 1; done; ` +
    `kill -TERM ${pids} 2>/dev/null; sleep 3; kill -KILL ${pids} 2>/dev/null; exit 0`;
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return child;
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  proc: Deno.ChildProcess,
  logPath: string,
): Promise<void> {
  let exited = false;
  proc.status.then(() => exited = true);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (exited) {
      // Let the log pipe drain, then quote its end: that is where the reason is.
      await new Promise((r) => setTimeout(r, 200));
      const tail = (await Deno.readTextFile(logPath).catch(() => "")).slice(-3000);
      throw new Error(`${what}: the process exited. End of ${logPath}:\n${tail}`);
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms: ${last}`);
}
