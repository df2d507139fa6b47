/**
 * A node agent that plays the kubelet for Nodes it registers, with processes instead of
 * containers (dev tooling: never imported by product code).
 *
 * For each Node it registers (capacity as configured; by default one node with
 * `nvidia.com/gpu: 8` and one with `huawei.com/ascend-1980: 8`) it keeps the Node Ready and its
 * Lease in `kube-node-lease` renewed. For each pod bound to one of its nodes it:
 *
 * 1. allocates a loopback IP (`127.1.x.y`) and reports it as `status.podIP`;
 * 2. runs the init containers, in order; each finishes at once with exit code 0 (a model
 *    downloader has nothing to download);
 * 3. turns each container into a process: an engine (vLLM, vLLM-Ascend, SGLang, read by
 *    {@linkcode planContainer}) becomes a simulator (`tests/sim`) bound to the pod IP; any other
 *    image an idle process that serves the container's ports (`idle_container.ts`). An image
 *    whose name says it does not exist (`invalid`, `nonexistent`, `does-not-exist`,
 *    `bad-image`) is never started: the container waits with `ErrImagePull`;
 * 4. reports container statuses, the phase, and `Ready` from each container's readiness probe
 *    (httpGet / tcpSocket on the pod IP; the first probe runs at once and then every
 *    `min(periodSeconds, 1)` s: a simulator is ready long before vLLM would be);
 * 5. runs liveness probes as the kubelet does (`initialDelaySeconds`, `periodSeconds`,
 *    `failureThreshold`: then the process is killed);
 * 6. restarts a process that dies when `restartPolicy` says so (counting `restartCount`, with
 *    a back-off), else marks the pod Failed (or Succeeded on exit code 0);
 * 7. honours graceful deletion: SIGTERM, up to the grace period (capped at
 *    `maxGraceSeconds`), SIGKILL, then removes the pod object.
 *
 * Downward-API env (`status.podIP`, `metadata.name`, `metadata.namespace`, `spec.nodeName`,
 * `status.hostIP`, `metadata.labels[…]`, `metadata.annotations[…]`) is resolved, and `$(VAR)`
 * references in commands, so `HCCL_IF_IP` and `ENTRY_ADDRESS` work.
 *
 * @module
 */
import type { V1Container, V1Node, V1Pod, V1Probe } from "@kubernetes/client-node";
import { type Informer, type KubeClient, PODS } from "@kthena/shared/k8s";
import { spawnSimulator } from "../sim/process.ts";
import { expandEnvRefs, planContainer } from "./engine_command.ts";

/** One node the agent registers. */
export interface NodeSpec {
  name: string;
  /** Capacity (= allocatable), e.g. `{ cpu: "64", memory: "512Gi", "nvidia.com/gpu": "8" }`. */
  capacity: Record<string, string>;
  labels?: Record<string, string>;
}

/** The default nodes: one with 8 NVIDIA GPUs, one with 8 Ascend NPUs. */
export const DEFAULT_NODES: readonly NodeSpec[] = [
  {
    name: "gpu-node-0",
    capacity: { cpu: "64", memory: "512Gi", pods: "110", "nvidia.com/gpu": "8" },
    labels: { "kthena.io/accelerator": "nvidia" },
  },
  {
    name: "ascend-node-0",
    capacity: { cpu: "192", memory: "1536Gi", pods: "110", "huawei.com/ascend-1980": "8" },
    labels: { "kthena.io/accelerator": "ascend" },
  },
];

/** Options of {@linkcode NodeAgent}. */
export interface NodeAgentOptions {
  client: KubeClient;
  nodes?: readonly NodeSpec[];
  /** Simulator latency profile of engines. Default `fast`. */
  profile?: string;
  /** Extra simulator flags for every engine. */
  simArgs?: string[];
  /** Cap on a pod's termination grace period, seconds. Default 10. */
  maxGraceSeconds?: number;
  /** Lines about what the agent does. */
  log?: (line: string) => void;
}

const IDLE = new URL("./idle_container.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);
const BAD_IMAGE =
  /(^|[/:_.-])(invalid|nonexistent|non-existent|does-not-exist|bad-image)([/:_.-]|$)/i;

/** A running process of a container. */
interface Proc {
  pid: number;
  exited: Promise<Deno.CommandStatus>;
  stop(): Promise<void>;
}

interface ContainerState {
  spec: V1Container;
  proc?: Proc;
  state: "waiting" | "running" | "terminated";
  reason?: string;
  message?: string;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  restartCount: number;
  ready: boolean;
  /** Start it again when it exits, whatever the restart policy (its spec changed). */
  respawn?: boolean;
  /** When the liveness probe last ran (ms), and its failures in a row. */
  livenessAt?: number;
  livenessFailures?: number;
  last?: { exitCode: number; reason: string; startedAt?: string; finishedAt: string };
}

/**
 * Plays the kubelet for its nodes until {@linkcode NodeAgent.stop}.
 *
 * @example
 * ```ts ignore
 * import { KubeClient } from "@kthena/shared/k8s";
 * import { NodeAgent } from "./node_agent.ts";
 * const agent = new NodeAgent({ client: KubeClient.load({ path: "/tmp/kubeconfig" }) });
 * await agent.start();
 * // … pods bound to gpu-node-0 / ascend-node-0 now run as processes …
 * await agent.stop();
 * ```
 */
export class NodeAgent {
  readonly #client: KubeClient;
  readonly #nodes: readonly NodeSpec[];
  readonly #opts: NodeAgentOptions;
  readonly #pods = new Map<string, PodRunner>();
  readonly #informers: Informer<V1Pod>[] = [];
  #nextIp = 1;
  #leaseTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(opts: NodeAgentOptions) {
    this.#client = opts.client;
    this.#nodes = opts.nodes ?? DEFAULT_NODES;
    this.#opts = opts;
  }

  /** The names of the agent's nodes. */
  get nodeNames(): string[] {
    return this.#nodes.map((n) => n.name);
  }

  /** PIDs of every process the agent runs now (for the egress check). */
  pids(): number[] {
    const out: number[] = [];
    for (const r of this.#pods.values()) {
      for (const c of r.containers) if (c.proc) out.push(c.proc.pid);
    }
    return out;
  }

  /** The processes of a pod's containers, by container name. */
  processes(namespace: string, name: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#pods.values()) {
      if (r.pod.metadata?.namespace !== namespace || r.pod.metadata?.name !== name) continue;
      for (const c of r.containers) if (c.proc) out[c.spec.name] = c.proc.pid;
    }
    return out;
  }

  /** Registers the nodes, starts renewing their Leases and watching their pods. */
  async start(): Promise<void> {
    for (const n of this.#nodes) await this.#registerNode(n);
    await this.#renewLeases();
    this.#leaseTimer = setInterval(() => {
      this.#renewLeases().catch((e) => this.#log(`lease renewal failed: ${e}`));
    }, 10_000);
    for (const n of this.#nodes) {
      const inf = this.#client.informer(PODS, { fieldSelector: `spec.nodeName=${n.name}` });
      inf.addHandler({
        onAdd: (p) => this.#sync(p),
        onUpdate: (_o, p) => this.#sync(p),
        onDelete: (p) => this.#gone(p),
      });
      inf.start();
      this.#informers.push(inf);
    }
    await Promise.all(this.#informers.map((i) => i.waitForSync(30_000)));
  }

  /** Stops every process (SIGTERM, then SIGKILL) and the watches. Pods stay as they are. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#leaseTimer);
    await Promise.all(this.#informers.map((i) => i.stop()));
    await Promise.all([...this.#pods.values()].map((r) => r.kill(2)));
  }

  #log(line: string): void {
    this.#opts.log?.(line);
  }

  #sync(pod: V1Pod): void {
    if (this.#stopped) return;
    const uid = pod.metadata?.uid ?? "";
    let r = this.#pods.get(uid);
    if (!r) {
      if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") {
        if (pod.metadata?.deletionTimestamp) this.#deleteObject(pod).catch(() => {});
        return;
      }
      r = new PodRunner(
        this.#client,
        pod,
        this.#allocateIp(),
        this.#opts,
        (line) => this.#log(line),
      );
      this.#pods.set(uid, r);
      r.run().catch((e) => this.#log(`pod ${r!.key}: ${e}`));
    }
    r.pod = pod;
    if (!pod.metadata?.deletionTimestamp) r.updateSpecs(pod);
    if (pod.metadata?.deletionTimestamp && !r.terminating) {
      r.terminating = true;
      const grace = Math.min(
        pod.metadata.deletionGracePeriodSeconds ?? 30,
        this.#opts.maxGraceSeconds ?? 10,
      );
      r.kill(grace).then(() => this.#deleteObject(pod)).catch((e) =>
        this.#log(`deleting ${r!.key}: ${e}`)
      ).finally(() => this.#pods.delete(uid));
    }
  }

  #gone(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? "";
    const r = this.#pods.get(uid);
    if (!r) return;
    this.#pods.delete(uid);
    r.terminating = true;
    r.kill(0).catch(() => {});
  }

  async #deleteObject(pod: V1Pod): Promise<void> {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    const res = await this.#client.transport.request(`/api/v1/namespaces/${ns}/pods/${name}`, {
      method: "DELETE",
      body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
    });
    await res.body?.cancel();
  }

  #allocateIp(): string {
    const n = this.#nextIp++;
    return `127.1.${(n >> 8) & 255}.${n & 255}`;
  }

  async #registerNode(n: NodeSpec): Promise<void> {
    const body: V1Node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: n.name,
        labels: {
          "kubernetes.io/hostname": n.name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
          ...n.labels,
        },
      },
      spec: {},
    };
    const t = this.#client.transport;
    const res = await t.request("/api/v1/nodes", { method: "POST", body });
    await res.body?.cancel();
    if (!res.ok && res.status !== 409) {
      throw new Error(`cannot register node ${n.name}: ${res.status}`);
    }
    await t.json(`/api/v1/nodes/${n.name}/status`, {
      method: "PATCH",
      contentType: "application/merge-patch+json",
      body: { status: nodeStatus(n) },
    });
    this.#log(`node ${n.name} registered (${JSON.stringify(n.capacity)})`);
  }

  async #renewLeases(): Promise<void> {
    const t = this.#client.transport;
    const now = microTime(new Date());
    for (const n of this.#nodes) {
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n.name}`;
      const spec = { holderIdentity: n.name, leaseDurationSeconds: 40, renewTime: now };
      const res = await t.request(path, {
        method: "PATCH",
        contentType: "application/merge-patch+json",
        body: { spec },
      });
      await res.body?.cancel();
      if (res.status === 404) {
        const c = await t.request(
          "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
          {
            method: "POST",
            body: {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name: n.name },
              spec,
            },
          },
        );
        await c.body?.cancel();
      }
      const s = await t.request(`/api/v1/nodes/${n.name}/status`, {
        method: "PATCH",
        contentType: "application/merge-patch+json",
        body: { status: { conditions: nodeStatus(n).conditions } },
      });
      await s.body?.cancel();
    }
  }
}

function nodeStatus(n: NodeSpec) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const cond = (type: string, status: string, reason: string) => ({
    type,
    status,
    reason,
    message: "kthena node agent",
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return {
    capacity: n.capacity,
    allocatable: n.capacity,
    addresses: [{ type: "InternalIP", address: "127.0.0.1" }, {
      type: "Hostname",
      address: n.name,
    }],
    conditions: [
      cond("Ready", "True", "KubeletReady"),
      cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
      cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
      cond("PIDPressure", "False", "KubeletHasSufficientPID"),
    ],
    nodeInfo: {
      machineID: n.name,
      systemUUID: n.name,
      bootID: n.name,
      kernelVersion: "loopback",
      osImage: "kthena node agent",
      containerRuntimeVersion: "process://1",
      kubeletVersion: "v1.37.2",
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: "amd64",
    },
  };
}

function microTime(d: Date): string {
  return d.toISOString().replace(/Z$/, "000Z");
}

const rfc3339 = (d = new Date()) => d.toISOString().replace(/\.\d+Z$/, "Z");

/** The environment of a container, downward API resolved. */
export function containerEnv(pod: V1Pod, c: V1Container, podIp: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = expandEnvRefs(e.value, env);
    else if (e.valueFrom?.fieldRef) {
      env[e.name] = fieldRef(pod, e.valueFrom.fieldRef.fieldPath, podIp);
    } else env[e.name] = "";
  }
  return env;
}

function fieldRef(pod: V1Pod, path: string, podIp: string): string {
  const m = path.match(/^metadata\.(labels|annotations)\['(.+)'\]$/);
  if (m) return (pod.metadata?.[m[1] as "labels" | "annotations"] ?? {})[m[2]!] ?? "";
  switch (path) {
    case "status.podIP":
      return podIp;
    case "status.podIPs":
      return podIp;
    case "status.hostIP":
      return "127.0.0.1";
    case "metadata.name":
      return pod.metadata?.name ?? "";
    case "metadata.namespace":
      return pod.metadata?.namespace ?? "";
    case "metadata.uid":
      return pod.metadata?.uid ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    default:
      return "";
  }
}

/** The ports a container's probes and declared ports use. */
function portsOf(c: V1Container): number[] {
  const out = new Set<number>();
  for (const p of c.ports ?? []) out.add(p.containerPort);
  for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
    const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
    const n = resolvePort(c, port);
    if (n) out.add(n);
  }
  return [...out];
}

function resolvePort(c: V1Container, port: unknown): number | undefined {
  if (typeof port === "number") return port;
  if (typeof port === "string") {
    if (/^\d+$/.test(port)) return Number(port);
    return c.ports?.find((p) => p.name === port)?.containerPort;
  }
  return undefined;
}

/** One pod on the agent: its processes and the status it reports. */
class PodRunner {
  pod: V1Pod;
  readonly ip: string;
  readonly containers: ContainerState[];
  readonly inits: ContainerState[];
  terminating = false;
  #phase = "Pending";
  #startTime = rfc3339();
  #initialized = false;
  #lastStatus = "";
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #pendingWrite = false;
  readonly #conditions = new Map<string, { status: string; at: string }>();

  constructor(
    readonly client: KubeClient,
    pod: V1Pod,
    ip: string,
    readonly opts: NodeAgentOptions,
    readonly log: (line: string) => void,
  ) {
    this.pod = pod;
    this.ip = ip;
    const mk = (spec: V1Container): ContainerState => ({
      spec,
      state: "waiting",
      reason: "PodInitializing",
      restartCount: 0,
      ready: false,
    });
    this.containers = (pod.spec?.containers ?? []).map(mk);
    this.inits = (pod.spec?.initContainers ?? []).map(mk);
  }

  get key(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  async run(): Promise<void> {
    await this.#report();
    for (const c of this.inits) {
      if (this.terminating) return;
      const now = rfc3339();
      Object.assign(c, {
        state: "terminated",
        reason: "Completed",
        exitCode: 0,
        startedAt: now,
        finishedAt: now,
      });
    }
    this.#initialized = true;
    if (this.terminating) return;
    for (const c of this.containers) c.reason = "ContainerCreating";
    await this.#report();
    await Promise.all(this.containers.map((c) => this.#startContainer(c)));
    this.#updatePhase();
    await this.#report();
    this.#probeTimer = setInterval(() => this.#probeAll(), 1000);
    this.#probeAll();
  }

  async #startContainer(c: ContainerState): Promise<void> {
    if (this.terminating) return;
    const image = c.spec.image ?? "";
    if (BAD_IMAGE.test(image)) {
      Object.assign(c, {
        state: "waiting",
        reason: "ErrImagePull",
        message: `failed to pull image "${image}": not found (node agent: unpullable by name)`,
      });
      return;
    }
    const env = containerEnv(this.pod, c.spec, this.ip);
    const plan = planContainer(c.spec, env);
    try {
      let proc: Proc;
      if (plan.kind === "engine") {
        const group = this.pod.metadata?.labels?.["modelserving.volcano.sh/group-name"];
        const sim = await spawnSimulator([
          "--profile",
          this.opts.profile ?? "fast",
          ...(this.opts.simArgs ?? []),
          ...plan.simArgs,
          "--host",
          this.ip,
          ...(group ? ["--pd-group", `${this.pod.metadata?.namespace}/${group}`] : []),
        ], { waitForReady: false, timeoutMs: 60_000 });
        proc = { pid: sim.pid, exited: sim.exited, stop: () => sim.stop() };
        this.log(
          `${this.key}/${c.spec.name}: ${plan.engine} simulator ${plan.model} on ${this.ip}:${plan.port}`,
        );
      } else {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            `--config=${decodeURIComponent(CONFIG.pathname)}`,
            decodeURIComponent(IDLE.pathname),
            "--host",
            this.ip,
            ...portsOf(c.spec).flatMap((p) => ["--port", String(p)]),
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        const exited = child.status;
        proc = {
          pid: child.pid,
          exited,
          stop: async () => {
            try {
              child.kill("SIGTERM");
            } catch { /* gone */ }
            await exited;
          },
        };
      }
      if (this.terminating) {
        await proc.stop();
        return;
      }
      c.proc = proc;
      Object.assign(c, {
        state: "running",
        startedAt: rfc3339(),
        reason: undefined,
        message: undefined,
      });
      proc.exited.then((s) => this.#exited(c, proc, s.code));
    } catch (e) {
      this.#exited(c, undefined, 1, String(e).slice(0, 500));
    }
  }

  #exited(c: ContainerState, proc: Proc | undefined, code: number, message?: string): void {
    if (this.terminating || (proc && c.proc !== proc)) return;
    c.proc = undefined;
    const finishedAt = rfc3339();
    const reason = code === 0 ? "Completed" : "Error";
    c.ready = false;
    const policy = this.pod.spec?.restartPolicy ?? "Always";
    if (c.respawn || policy === "Always" || (policy === "OnFailure" && code !== 0)) {
      c.respawn = false;
      c.last = { exitCode: code, reason, startedAt: c.startedAt, finishedAt };
      c.restartCount++;
      Object.assign(c, { state: "waiting", reason: "CrashLoopBackOff", message });
      const backoff = Math.min(10_000, 500 * 2 ** Math.min(c.restartCount, 5));
      this.log(
        `${this.key}/${c.spec.name} exited ${code}; restart #${c.restartCount} in ${backoff} ms`,
      );
      setTimeout(() => {
        this.#startContainer(c).then(() => this.#report());
      }, backoff);
    } else {
      Object.assign(c, { state: "terminated", reason, exitCode: code, finishedAt, message });
    }
    this.#updatePhase();
    this.#report();
  }

  #updatePhase(): void {
    const cs = this.containers;
    if (cs.every((c) => c.state === "terminated")) {
      this.#phase = cs.every((c) => c.exitCode === 0) ? "Succeeded" : "Failed";
    } else if (cs.some((c) => c.state === "running") || cs.some((c) => c.restartCount > 0)) {
      this.#phase = "Running";
    } else {
      this.#phase = "Pending";
    }
  }

  async #probeAll(): Promise<void> {
    if (this.terminating) return;
    let changed = false;
    await Promise.all(this.containers.map(async (c) => {
      const ready = c.state === "running" && await this.#probe(c.spec, c.spec.readinessProbe);
      if (ready !== c.ready) {
        c.ready = ready;
        changed = true;
      }
      await this.#liveness(c);
    }));
    if (changed) await this.#report();
  }

  /**
   * The liveness probe, as the kubelet runs it: after `initialDelaySeconds`, every
   * `periodSeconds`; `failureThreshold` failures in a row kill the process, which then restarts
   * by the pod's policy.
   */
  async #liveness(c: ContainerState): Promise<void> {
    const probe = c.spec.livenessProbe;
    const proc = c.proc;
    if (!probe || !proc || c.state !== "running" || !c.startedAt) return;
    const now = Date.now();
    const since = now - Date.parse(c.startedAt);
    if (since < (probe.initialDelaySeconds ?? 0) * 1000) return;
    if (now - (c.livenessAt ?? 0) < (probe.periodSeconds ?? 10) * 1000 - 50) return;
    c.livenessAt = now;
    if (await this.#probe(c.spec, probe)) {
      c.livenessFailures = 0;
      return;
    }
    c.livenessFailures = (c.livenessFailures ?? 0) + 1;
    if (c.livenessFailures < (probe.failureThreshold ?? 3)) return;
    c.livenessFailures = 0;
    this.log(`${this.key}/${c.spec.name}: liveness probe failed; killing`);
    c.message = "Container failed liveness probe, will be restarted";
    try {
      Deno.kill(proc.pid, "SIGKILL");
    } catch { /* gone */ }
  }

  async #probe(c: V1Container, probe: V1Probe | undefined): Promise<boolean> {
    if (!probe) return true;
    try {
      if (probe.httpGet) {
        const port = resolvePort(c, probe.httpGet.port);
        const res = await fetch(`http://${this.ip}:${port}${probe.httpGet.path ?? "/"}`, {
          signal: AbortSignal.timeout(Math.max(1, probe.timeoutSeconds ?? 1) * 1000),
        });
        await res.body?.cancel();
        return res.status >= 200 && res.status < 400;
      }
      if (probe.tcpSocket) {
        const conn = await Deno.connect({
          hostname: this.ip,
          port: resolvePort(c, probe.tcpSocket.port) ?? 0,
        });
        conn.close();
        return true;
      }
      return true; // exec and grpc probes: the process runs, that is all we can say
    } catch {
      return false;
    }
  }

  /**
   * A container whose image changed (the one field of a pod's containers an update may
   * change) is killed and started again from the new spec, as the kubelet does; that counts
   * as a restart.
   */
  updateSpecs(pod: V1Pod): void {
    for (const c of this.containers) {
      const next = pod.spec?.containers.find((x) => x.name === c.spec.name);
      if (!next || next.image === c.spec.image) continue;
      this.log(`${this.key}/${c.spec.name}: image ${c.spec.image} → ${next.image}; restarting`);
      c.spec = next;
      const p = c.proc;
      if (p) {
        c.respawn = true; // its exit starts it again from the new spec
        p.stop().catch(() => {});
      } else if (c.state === "waiting" && c.reason === "ErrImagePull") {
        this.#startContainer(c).then(() => {
          this.#updatePhase();
          return this.#report();
        });
      }
    }
  }

  /** Stops every process: SIGTERM, then SIGKILL after `graceSeconds`. */
  async kill(graceSeconds: number): Promise<void> {
    this.terminating = true;
    clearInterval(this.#probeTimer);
    await Promise.all(this.containers.map(async (c) => {
      const p = c.proc;
      if (!p) return;
      c.proc = undefined;
      const hard = setTimeout(() => {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch { /* gone */ }
      }, graceSeconds * 1000);
      await p.stop().catch(() => {});
      clearTimeout(hard);
    }));
  }

  #status(): Record<string, unknown> {
    const status = (c: ContainerState, init: boolean) => {
      const state = c.state === "running"
        ? { running: { startedAt: c.startedAt } }
        : c.state === "terminated"
        ? {
          terminated: {
            exitCode: c.exitCode ?? 0,
            reason: c.reason,
            startedAt: c.startedAt,
            finishedAt: c.finishedAt,
            ...(c.message ? { message: c.message } : {}),
          },
        }
        : {
          waiting: {
            reason: c.reason ?? "ContainerCreating",
            ...(c.message ? { message: c.message } : {}),
          },
        };
      return {
        name: c.spec.name,
        image: c.spec.image,
        imageID: c.state === "waiting" && c.reason === "ErrImagePull"
          ? ""
          : `process://${c.spec.image}`,
        containerID: c.startedAt ? `process://${this.pod.metadata?.uid}/${c.spec.name}` : undefined,
        ready: init ? c.state === "terminated" && c.exitCode === 0 : c.ready,
        started: c.state === "running",
        restartCount: c.restartCount,
        state,
        lastState: c.last ? { terminated: c.last } : {},
      };
    };
    const now = rfc3339();
    const allReady = this.containers.length > 0 && this.containers.every((c) => c.ready);
    const cond = (type: string, ok: boolean) => {
      const status = ok ? "True" : "False";
      const prev = this.#conditions.get(type);
      if (prev?.status !== status) this.#conditions.set(type, { status, at: now });
      return { type, status, lastTransitionTime: this.#conditions.get(type)!.at };
    };
    return {
      phase: this.#phase,
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: this.ip,
      podIPs: [{ ip: this.ip }],
      startTime: this.#startTime,
      conditions: [
        cond("PodReadyToStartContainers", true),
        cond("Initialized", this.#initialized),
        cond("Ready", allReady && this.#phase === "Running"),
        cond("ContainersReady", allReady),
        cond("PodScheduled", true),
      ],
      initContainerStatuses: this.inits.map((c) => status(c, true)),
      containerStatuses: this.containers.map((c) => status(c, false)),
    };
  }

  /** Writes the status (one write at a time; the last state wins). */
  #report(): Promise<void> {
    if (this.#pendingWrite) return this.#writing;
    this.#pendingWrite = true;
    this.#writing = this.#writing.then(async () => {
      this.#pendingWrite = false;
      const status = this.#status();
      const key = JSON.stringify(status);
      if (key === this.#lastStatus) return;
      const ns = this.pod.metadata?.namespace ?? "default";
      const name = this.pod.metadata?.name ?? "";
      const res = await this.client.transport.request(
        `/api/v1/namespaces/${ns}/pods/${name}/status`,
        {
          method: "PATCH",
          contentType: "application/merge-patch+json",
          body: { metadata: { uid: this.pod.metadata?.uid }, status },
        },
      ).catch(() => undefined);
      await res?.body?.cancel();
      if (res?.ok) this.#lastStatus = key;
    }).catch(() => {});
    return this.#writing;
  }
}
