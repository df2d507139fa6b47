/**
 * The whole platform on one machine, on loopback: the test cluster (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler) with our CRDs, the controller manager
 * (`controller/main.ts`, its admission webhook registered by `url` on 127.0.0.1), the node
 * agent (pods run as simulator processes), the Volcano stand-in (gang binder) and the router
 * in Kubernetes mode. `deno task dev` and the end-to-end tests start it.
 *
 * @module
 */
import { KubeClient } from "@kthena/shared/k8s";
import { ensureBinaries } from "../cluster/binaries.ts";
import { type Cluster, freePort, spawnLogged, startCluster } from "../cluster/cluster.ts";
import { generateWebhookCerts } from "../../controller/webhook/certs.ts";
import { GangBinder } from "./gang_binder.ts";
import { NodeAgent, type NodeSpec } from "./node_agent.ts";

const ROOT = new URL("../../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);

/** Options of {@linkcode startStack}. */
export interface StackOptions {
  /** Router port on 127.0.0.1; 0 picks a free one. Default 8080. */
  routerPort?: number;
  /** Nodes of the agent (default: one GPU node, one Ascend node). */
  nodes?: NodeSpec[];
  /** Simulator latency profile of the engines. Default `fast`. */
  profile?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** A child process of the stack (controller manager, router). */
export interface StackProcess {
  child: Deno.ChildProcess;
  /** Where its stdout and stderr go. */
  logPath: string;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** A running stack. */
export interface Stack {
  cluster: Cluster;
  /** kubectl, for people. */
  kubectlPath: string;
  client: KubeClient;
  agent: NodeAgent;
  binder: GangBinder;
  /** The controller manager; {@linkcode Stack.restartController} replaces it. */
  controller: StackProcess;
  router: StackProcess;
  /** The router's base URL. */
  routerUrl: string;
  /** Kills the controller manager (SIGKILL) and starts a new one. */
  restartController(): Promise<void>;
  /** Stops everything; nothing is left running. */
  stop(): Promise<void>;
}

/**
 * Starts the stack and returns when the router answers.
 *
 * @example
 * ```ts ignore
 * import { startStack } from "./stack.ts";
 * const stack = await startStack({ routerPort: 0 });
 * try {
 *   await stack.cluster.kubectl(["apply", "-f", "examples/model-serving/qwen3-0.6b-gpu-pd.yaml"]);
 * } finally {
 *   await stack.stop();
 * }
 * ```
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? (() => {});
  // The router's port first: a taken one fails now, not after the cluster has started.
  const routerPort = opts.routerPort === 0 ? freePort() : opts.routerPort ?? 8080;
  try {
    Deno.listen({ hostname: "127.0.0.1", port: routerPort }).close();
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(`port ${routerPort} is taken; try: deno task dev --port ${routerPort + 1}`);
    }
    throw e;
  }
  const binaries = await ensureBinaries(log);
  const cluster = await startCluster({
    binaries,
    scheduler: true,
    // Deployments and ReplicaSets: the router's upstream e2e scenarios run engines in them.
    extraControllers: [
      "deployment-controller",
      "replicaset-controller",
      // Lifts the not-ready taint the API server puts on new Nodes once they report Ready.
      "node-lifecycle-controller",
    ],
    log,
  });
  const cleanups: (() => Promise<void>)[] = [() => cluster.stop()];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const client = KubeClient.load({ path: cluster.kubeconfigPath });
    cleanups.push(() => Promise.resolve(client.close()));

    // The webhook's certificate names 127.0.0.1: the API server calls it by url, never by
    // Service (whose ClusterIP is not on this machine).
    const certs = await generateWebhookCerts({
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    await Deno.writeTextFile(`${cluster.dir}/webhook.crt`, certs.cert);
    await Deno.writeTextFile(`${cluster.dir}/webhook.key`, certs.key);
    const webhookPort = freePort();
    const healthPort = freePort();
    const controllerArgs = [
      "run",
      "-A",
      `--config=${path("deno.json")}`,
      path("controller/main.ts"),
      `--kubeconfig=${cluster.kubeconfigPath}`,
      "--bind-address=127.0.0.1",
      `--health-port=${healthPort}`,
      `--metrics-port=${freePort()}`,
      `--webhook-port=${webhookPort}`,
      `--tls-cert-file=${cluster.dir}/webhook.crt`,
      `--tls-private-key-file=${cluster.dir}/webhook.key`,
    ];
    const startController = async () => {
      const p = spawnDeno(controllerArgs, `${cluster.dir}/controller-manager.log`);
      await waitHttp(`http://127.0.0.1:${healthPort}/healthz`, 60_000, p, "controller manager");
      return p;
    };
    let controller = await startController();
    cleanups.push(() => controller.stop());
    log("controller manager running");
    const webhook = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "kthena-controller-manager-validating-webhook" },
      webhooks: [{
        name: "validate-workload-ai-v1alpha1-modelserving.volcano.sh",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: "Fail",
        timeoutSeconds: 10,
        clientConfig: {
          url: `https://127.0.0.1:${webhookPort}/validate-workload-ai-v1alpha1-modelserving`,
          caBundle: btoa(certs.caCert),
        },
        rules: [{
          apiGroups: ["workload.serving.volcano.sh"],
          apiVersions: ["v1alpha1"],
          operations: ["CREATE", "UPDATE"],
          resources: ["modelservings"],
        }],
      }],
    };
    const w = await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(webhook));
    if (w.code !== 0) throw new Error(`cannot register the webhook: ${w.stderr}`);

    const agent = new NodeAgent({
      client,
      nodes: opts.nodes,
      profile: opts.profile ?? "fast",
      log: (l) => log(`agent: ${l}`),
    });
    await agent.start();
    cleanups.push(() => agent.stop());
    const binder = new GangBinder({ client, log });
    await binder.start();
    cleanups.push(() => binder.stop());
    log(`node agent serving ${agent.nodeNames.join(", ")}; gang binder for schedulerName volcano`);

    const router = spawnDeno([
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      `--config=${path("deno.json")}`,
      path("router/main.ts"),
      "--source=kubernetes",
      `--kubeconfig=${cluster.kubeconfigPath}`,
      "--host=127.0.0.1",
      `--port=${routerPort}`,
      "--log-level=warn",
    ], `${cluster.dir}/router.log`);
    cleanups.push(() => router.stop());
    const routerUrl = `http://127.0.0.1:${routerPort}`;
    await waitHttp(`${routerUrl}/readyz`, 60_000, router, "router");
    log(`router on ${routerUrl}`);

    // If this process dies without stopping the stack (SIGKILL, a crash), a reaper kills what
    // it started: the cluster has its own; this one reads the PIDs written here every second.
    const pidFile = `${cluster.dir}/stack.pids`;
    const writePids = () =>
      Deno.writeTextFile(
        pidFile,
        [controller.child.pid, router.child.pid, ...agent.pids()].join(" "),
      ).catch(() => {});
    await writePids();
    const pidTimer = setInterval(writePids, 1000);
    Deno.unrefTimer(pidTimer);
    const reaper = startReaper(pidFile);
    cleanups.push(() => {
      clearInterval(pidTimer);
      try {
        reaper.kill("SIGKILL");
      } catch { /* gone */ }
      return Promise.resolve();
    });

    return {
      cluster,
      kubectlPath: binaries.kubectl,
      client,
      agent,
      binder,
      get controller() {
        return controller;
      },
      router,
      routerUrl,
      async restartController() {
        try {
          controller.child.kill("SIGKILL");
        } catch { /* gone */ }
        await controller.child.status;
        controller = await startController();
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** A shell that waits for this process to end, then kills the PIDs listed in `pidFile`. */
function startReaper(pidFile: string): Deno.ChildProcess {
  const script = `while kill -0 ${Deno.pid} 2>/dev/null; do sleep 1; done; ` +
    `P=$(cat '${pidFile}' 2>/dev/null); [ -n "$P" ] || exit 0; ` +
    `kill -TERM $P 2>/dev/null; sleep 3; kill -KILL $P 2>/dev/null; exit 0`;
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return child;
}

/** Spawns `deno <args>` with stdout and stderr appended to a log file. */
function spawnDeno(args: string[], logPath: string): StackProcess {
  const { child, logged: done } = spawnLogged(Deno.execPath(), args, logPath);
  let exited = false;
  child.status.then(() => exited = true);
  return {
    child,
    logPath,
    async stop() {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        const t = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        await child.status;
        clearTimeout(t);
      }
      await done;
    },
  };
}

async function waitHttp(
  url: string,
  timeoutMs: number,
  p: StackProcess,
  what: string,
): Promise<void> {
  let exited = false;
  p.child.status.then(() => exited = true);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) {
      await new Promise((r) => setTimeout(r, 200)); // let the log pipe drain
      const tail = (await Deno.readTextFile(p.logPath).catch(() => "")).slice(-1500);
      throw new Error(`${what} exited while starting; end of ${p.logPath}:\n${tail}`);
    }
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    await r?.body?.cancel();
    if (r?.ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not healthy at ${url} after ${timeoutMs} ms`);
}
