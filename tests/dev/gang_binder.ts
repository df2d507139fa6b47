/**
 * A stand-in for Volcano's scheduler (dev tooling, not Volcano): binds pods whose
 * `schedulerName` is `volcano`, all pods of a PodGroup at once, and only when `minMember` of
 * them are waiting and all of them fit on the nodes together (resource requests — limits
 * when a resource has no request — against allocatable minus what bound pods request, and
 * `nodeSelector`). It sets the PodGroup's `status.phase` (`Pending` → `Running`). Pods
 * without a PodGroup are bound one by one. No queues, priorities, preemption or affinity.
 *
 * @module
 */
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { type Informer, type KubeClient, PODS } from "@kthena/shared/k8s";

const GROUP_ANNOTATION = "scheduling.k8s.io/group-name";

/** Options of {@linkcode GangBinder}. */
export interface GangBinderOptions {
  client: KubeClient;
  /** The scheduler name served. Default `volcano`. */
  schedulerName?: string;
  log?: (line: string) => void;
}

/**
 * Parses a Kubernetes quantity into a number (cores for cpu, bytes for memory, a count
 * otherwise).
 *
 * @example
 * ```ts
 * import { parseQuantity } from "./gang_binder.ts";
 * parseQuantity("500m"); // 0.5
 * parseQuantity("64Gi"); // 68719476736
 * ```
 */
export function parseQuantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === "number") return q;
  const m = String(q).trim().match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return 0;
  const n = Number(m[1]);
  const units: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return n * (units[m[2]!] ?? 1);
}

/** What a pod asks for: the sum over containers of requests (limits where no request). */
export function podRequests(pod: V1Pod): Record<string, number> {
  const out: Record<string, number> = { pods: 1 };
  for (const c of pod.spec?.containers ?? []) {
    const req = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [k, v] of Object.entries(req)) out[k] = (out[k] ?? 0) + parseQuantity(v);
  }
  return out;
}

/**
 * First-fit placement of pods onto nodes with `free` resources; undefined when one does not fit.
 *
 * @example
 * ```ts
 * import { placeAll } from "./gang_binder.ts";
 * placeAll([{ name: "p", requests: { gpu: 2 } }], [{ name: "n", free: { gpu: 1 }, labels: {} }]); // undefined
 * ```
 */
export function placeAll(
  pods: { name: string; requests: Record<string, number>; nodeSelector?: Record<string, string> }[],
  nodes: { name: string; free: Record<string, number>; labels: Record<string, string> }[],
): Map<string, string> | undefined {
  const free = nodes.map((n) => ({ ...n, free: { ...n.free } }));
  const out = new Map<string, string>();
  for (const p of pods) {
    const node = free.find((n) =>
      Object.entries(p.nodeSelector ?? {}).every(([k, v]) => n.labels[k] === v) &&
      Object.entries(p.requests).every(([k, v]) => v <= (n.free[k] ?? 0) + 1e-9)
    );
    if (!node) return undefined;
    for (const [k, v] of Object.entries(p.requests)) node.free[k] = (node.free[k] ?? 0) - v;
    out.set(p.name, node.name);
  }
  return out;
}

/**
 * Binds gangs of `schedulerName: volcano` pods until {@linkcode GangBinder.stop}.
 *
 * @example
 * ```ts ignore
 * const binder = new GangBinder({ client });
 * await binder.start();
 * ```
 */
export class GangBinder {
  readonly #client: KubeClient;
  readonly #opts: GangBinderOptions;
  #pods: Informer<V1Pod> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #busy = false;
  #again = false;
  #stopped = false;

  constructor(opts: GangBinderOptions) {
    this.#client = opts.client;
    this.#opts = opts;
  }

  /** Starts watching pods. */
  async start(): Promise<void> {
    this.#pods = this.#client.informer(PODS, {});
    this.#pods.addHandler({
      onAdd: () => this.#kick(),
      onUpdate: () => this.#kick(),
      onDelete: () => this.#kick(),
    });
    this.#pods.start();
    await this.#pods.waitForSync(30_000);
    this.#kick();
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pods?.stop();
  }

  #kick(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#pass(), 100);
  }

  async #pass(): Promise<void> {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    try {
      // Gangs left waiting (no PodGroup yet, too few members, no room) are looked at again
      // in a second: PodGroup and Node changes are not watched.
      if (await this.#schedule() > 0 && !this.#stopped) {
        this.#timer = setTimeout(() => this.#pass(), 1000);
      }
    } catch (e) {
      this.#opts.log?.(`gang binder: ${e}`);
      this.#timer = setTimeout(() => this.#pass(), 2000);
    } finally {
      this.#busy = false;
      if (this.#again) {
        this.#again = false;
        this.#kick();
      }
    }
  }

  /** One pass; returns how many gangs are still waiting. */
  async #schedule(): Promise<number> {
    const name = this.#opts.schedulerName ?? "volcano";
    const all = this.#pods!.store.list();
    const live = (p: V1Pod) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
    const waiting = all.filter((p) =>
      p.spec?.schedulerName === name && !p.spec?.nodeName && !p.metadata?.deletionTimestamp
    );
    if (waiting.length === 0) return 0;
    let left = 0;
    const t = this.#client.transport;
    const nodeList = await t.json<{ items: V1Node[] }>("/api/v1/nodes");
    const nodes = nodeList.items.filter((n) =>
      !n.spec?.unschedulable &&
      n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
    ).map((n) => {
      const free: Record<string, number> = {};
      for (const [k, v] of Object.entries(n.status?.allocatable ?? {})) free[k] = parseQuantity(v);
      for (const p of all) {
        if (p.spec?.nodeName !== n.metadata?.name || !live(p)) continue;
        for (const [k, v] of Object.entries(podRequests(p))) free[k] = (free[k] ?? 0) - v;
      }
      return { name: n.metadata?.name ?? "", free, labels: n.metadata?.labels ?? {} };
    });
    // Gangs: by namespace and PodGroup name; pods without a group are gangs of one.
    const gangs = new Map<string, V1Pod[]>();
    for (const p of waiting) {
      const g = p.metadata?.annotations?.[GROUP_ANNOTATION];
      const key = g ? `${p.metadata?.namespace}/${g}` : `pod:${p.metadata?.uid}`;
      gangs.set(key, [...(gangs.get(key) ?? []), p]);
    }
    for (const [key, pods] of gangs) {
      let minMember = 1;
      let groupPath: string | undefined;
      let phase: string | undefined;
      if (!key.startsWith("pod:")) {
        const [ns, g] = key.split("/") as [string, string];
        groupPath = `/apis/scheduling.volcano.sh/v1beta1/namespaces/${ns}/podgroups/${g}`;
        const res = await t.request(groupPath);
        if (!res.ok) {
          await res.body?.cancel();
          left++;
          continue; // the PodGroup comes first; Volcano waits for it too
        }
        const pg = await res.json() as {
          spec?: { minMember?: number };
          status?: { phase?: string };
        };
        phase = pg.status?.phase;
        minMember = pg.spec?.minMember ?? 1;
        const bound = all.filter((p) =>
          p.metadata?.namespace === ns && p.spec?.nodeName && live(p) &&
          p.metadata?.annotations?.[GROUP_ANNOTATION] === g
        ).length;
        if (pods.length + bound < minMember) {
          if (phase !== "Pending") {
            await this.#setPhase(groupPath, "Pending", `${pods.length + bound}/${minMember} pods`);
          }
          left++;
          continue;
        }
      }
      const placement = placeAll(
        pods.map((p) => ({
          name: p.metadata?.uid ?? "",
          requests: podRequests(p),
          nodeSelector: p.spec?.nodeSelector,
        })),
        nodes,
      );
      if (!placement) {
        if (groupPath && phase !== "Pending") {
          await this.#setPhase(groupPath, "Pending", "resources do not fit");
        }
        left++;
        continue;
      }
      for (const p of pods) {
        const node = placement.get(p.metadata?.uid ?? "")!;
        const res = await t.request(
          `/api/v1/namespaces/${p.metadata?.namespace}/pods/${p.metadata?.name}/binding`,
          {
            method: "POST",
            body: {
              apiVersion: "v1",
              kind: "Binding",
              metadata: { name: p.metadata?.name, uid: p.metadata?.uid },
              target: { apiVersion: "v1", kind: "Node", name: node },
            },
          },
        );
        await res.body?.cancel();
        const n = nodes.find((x) => x.name === node)!;
        for (const [k, v] of Object.entries(podRequests(p))) n.free[k] = (n.free[k] ?? 0) - v;
      }
      if (groupPath) await this.#setPhase(groupPath, "Running", "");
      this.#opts.log?.(`gang binder: bound ${pods.length} pod(s) of ${key}`);
    }
    return left;
  }

  async #setPhase(path: string, phase: string, message: string): Promise<void> {
    const res = await this.#client.transport.request(`${path}/status`, {
      method: "PATCH",
      contentType: "application/merge-patch+json",
      body: {
        status: {
          phase,
          conditions: [{
            type: phase === "Running" ? "Scheduled" : "Unschedulable",
            status: "True",
            reason: phase === "Running"
              ? "tasks in gang are ready to be scheduled"
              : "NotEnoughResources",
            message,
            transitionID: crypto.randomUUID(),
            lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
          }],
        },
      },
    });
    await res.body?.cancel();
  }
}
