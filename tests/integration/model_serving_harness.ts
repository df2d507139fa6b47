/**
 * What the ModelServing integration tests share: a {@linkcode Harness} that runs the controller
 * (and, when asked, the LeaderWorkerSet controller) against the real test cluster
 * (kube-apiserver + kube-controller-manager for garbage collection) in a namespace of its own,
 * and plays the kubelet, which the cluster does not have.
 *
 * The kubelet stand-in is the only writer of pod status, so tests never race it: a test says
 * how a pod should look ({@linkcode PodHealth}, by pod UID or pod name) and the stand-in makes
 * the pod's status say so. It also plays the scheduler, binding every pod to a node, so that
 * deletion is graceful as on a real cluster: a deleted pod stays Terminating (with its name
 * taken) until the stand-in confirms it after {@linkcode Harness.terminationMs}. A controller
 * that forgot terminating pods (reused their names, counted them as available, spent a rollout
 * budget twice) fails here as it would in production.
 *
 * Assertions are on what upstream's e2e tests assert (kthena-controllers.md §7): exact
 * ordinals, names, UIDs, images, revision labels and status fields.
 *
 * @module
 */
import type { CoreV1Event, V1Pod, V1PodStatus, V1Service } from "@kubernetes/client-node";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import { customResource, jsonLogger, KubeClient, silentLogger } from "@kthena/shared/k8s";
import { MODEL_SERVING } from "@kthena/shared/api";
import { ModelServingController } from "../../controller/model_serving/controller.ts";
import { LeaderWorkerSetController } from "../../controller/leader_worker_set/controller.ts";
import { testCluster, uniqueNamespace } from "../cluster/mod.ts";

/** Deno test options for tests on the shared cluster (it outlives every test). */
export const opts = { sanitizeOps: false, sanitizeResources: false };

/** A loose ModelServing spec, as a user would write it. */
export type Spec = Record<string, unknown>;

/** A pod template with one container `c` of `image`; `spec` adds pod spec fields. */
export const container = (image = "nginx:1", spec: Spec = {}) => ({
  spec: { ...spec, containers: [{ name: "c", image }] },
});

/** A role; a worker template is added when it has workers. */
export const role = (name: string, replicas = 1, workerReplicas = 0, extra: Spec = {}) => ({
  name,
  replicas,
  workerReplicas,
  entryTemplate: container(),
  ...(workerReplicas > 0 ? { workerTemplate: container() } : {}),
  ...extra,
});

/** A role whose entry pods run `image`. */
export const roleWithImage = (
  name: string,
  image: string,
  replicas = 1,
  workerReplicas = 0,
  extra: Spec = {},
) => ({ ...role(name, replicas, workerReplicas, extra), entryTemplate: container(image) });

/** The node the scheduler stand-in binds pods to (it need not exist). */
const NODE = "kthena-test-node";

/** The key upstream's scale-down ordering reads. */
export const DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/**
 * How the kubelet stand-in reports a pod:
 * - `ready`: Running, Ready (the default for pods of good images);
 * - `notReady`: Running, Ready=False, no restarts (a readiness probe or gate not passing);
 * - `pending`: left Pending (the default for pods of {@linkcode Harness.badImages});
 * - `crashed`: Running, container restarted once, Ready=False (what upstream treats as failed).
 */
export type PodHealth = "ready" | "notReady" | "pending" | "crashed";

/** The ModelServing fields the tests read. */
export interface MsObject {
  metadata: { name: string; generation?: number; uid?: string };
  spec: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    currentReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    conditions?: { type: string; status: string }[];
  };
}

/** What else a {@linkcode Harness} runs. */
export interface HarnessOptions {
  /** Run the LeaderWorkerSet → ModelServing controller alongside. */
  leaderWorkerSet?: boolean;
}

/** A controller, a kubelet stand-in and helpers, in one namespace of the shared cluster. */
export class Harness {
  controller!: ModelServingController;
  running: Promise<void> | undefined;
  /** The LeaderWorkerSet controller, when {@linkcode HarnessOptions.leaderWorkerSet}. */
  lwsController: LeaderWorkerSetController | undefined;
  lwsRunning: Promise<void> | undefined;
  /** Images whose pods stay Pending (unless {@linkcode health} says otherwise). */
  readonly badImages = new Set<string>();
  /**
   * How particular pods are reported, keyed by pod UID (that incarnation only) or by pod name
   * (every incarnation of that name). UID wins.
   */
  readonly health = new Map<string, PodHealth>();
  /** How long a deleted pod stays Terminating before the kubelet confirms its deletion. */
  terminationMs = 1_000;
  /** When the kubelet first saw each terminating pod (by UID). */
  readonly #terminating = new Map<string, number>();
  #kubelet: ReturnType<typeof setInterval> | undefined;
  #busy = false;

  constructor(
    readonly client: KubeClient,
    readonly ns: string,
    readonly options: HarnessOptions = {},
  ) {}

  static async start(prefix: string, options: HarnessOptions = {}): Promise<Harness> {
    const cluster = await testCluster();
    const ns = await uniqueNamespace(cluster, prefix);
    const client = KubeClient.load({ path: cluster.kubeconfigPath });
    const h = new Harness(client, ns, options);
    h.startController();
    h.#kubelet = setInterval(() => h.#playKubelet(), 150);
    return h;
  }

  startController(): void {
    const logger = Deno.env.get("KTHENA_TEST_LOG") ? jsonLogger("debug") : silentLogger;
    this.controller = new ModelServingController({ client: this.client, workers: 4, logger });
    this.running = this.controller.run();
    if (this.options.leaderWorkerSet) {
      this.lwsController = new LeaderWorkerSetController({ client: this.client, logger });
      this.lwsRunning = this.lwsController.run();
    }
  }

  async stopController(): Promise<void> {
    await this.lwsController?.stop();
    await this.lwsRunning;
    await this.controller.stop();
    await this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.#kubelet);
    await this.stopController();
    this.client.close();
  }

  /** The health a pod should have. */
  wantHealth(p: V1Pod): PodHealth {
    const byUid = this.health.get(p.metadata?.uid ?? "");
    if (byUid) return byUid;
    const byName = this.health.get(p.metadata?.name ?? "");
    if (byName) return byName;
    return this.badImages.has(p.spec?.containers[0]?.image ?? "") ? "pending" : "ready";
  }

  /**
   * One round of scheduler and kubelet: bind new pods to a node, bring every pod's status in
   * line with {@linkcode wantHealth}, and finish the deletion of pods that have been
   * terminating for {@linkcode terminationMs}.
   */
  async #playKubelet(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const pods = (await this.client.pods.list({ namespace: this.ns })).items;
      const now = Date.now();
      const seen = new Set(pods.map((p) => p.metadata!.uid!));
      for (const uid of this.#terminating.keys()) if (!seen.has(uid)) this.#terminating.delete(uid);
      await Promise.all(pods.map(async (p) => {
        const name = p.metadata!.name!;
        const uid = p.metadata!.uid!;
        if (p.metadata?.deletionTimestamp) {
          const since = this.#terminating.get(uid) ?? now;
          this.#terminating.set(uid, since);
          if (now - since < this.terminationMs) return;
          await this.client.pods.delete(this.ns, name, { uid, gracePeriodSeconds: 0 })
            .catch(() => {});
          return;
        }
        if (!p.spec?.nodeName) {
          await this.client.core.createNamespacedPodBinding({
            name,
            namespace: this.ns,
            body: { metadata: { name }, target: { kind: "Node", name: NODE } },
          }).catch(() => {});
        }
        const want = this.wantHealth(p);
        if (want === "pending" || healthOf(p) === want) return;
        await this.client.pods.patchStatus(this.ns, name, podStatus(p, want)).catch(() => {});
      }));
    } catch {
      /* the next tick tries again */
    } finally {
      this.#busy = false;
    }
  }

  async apply(name: string, spec: Spec): Promise<void> {
    await this.client.resource(MODEL_SERVING).apply({
      apiVersion: "workload.serving.volcano.sh/v1alpha1",
      kind: "ModelServing",
      metadata: { name, namespace: this.ns },
      spec,
    } as never, { fieldManager: "test" });
  }

  async get(name: string): Promise<MsObject> {
    return await this.client.resource(MODEL_SERVING).get(this.ns, name) as MsObject;
  }

  /** The pods that are not being deleted. */
  async pods(): Promise<V1Pod[]> {
    return (await this.client.pods.list({ namespace: this.ns })).items
      .filter((p) => !p.metadata?.deletionTimestamp);
  }

  /** The live pods by name. */
  async podMap(): Promise<Map<string, V1Pod>> {
    return new Map((await this.pods()).map((p) => [p.metadata!.name!, p]));
  }

  /** The sorted names of the live pods. */
  async podNames(): Promise<string[]> {
    return (await this.pods()).map((p) => p.metadata!.name!).sort();
  }

  async services(): Promise<V1Service[]> {
    return (await this.client.services.list({ namespace: this.ns })).items
      .filter((s) => !s.metadata?.deletionTimestamp);
  }

  /** The Events recorded on a ModelServing. */
  async events(ms: MsObject): Promise<CoreV1Event[]> {
    return (await this.client.events.list({ namespace: this.ns })).items
      .filter((e) =>
        e.involvedObject.kind === "ModelServing" && e.involvedObject.uid === ms.metadata.uid
      );
  }

  /** Annotates pods with a `pod-deletion-cost`. */
  async setCost(cost: (p: V1Pod) => number): Promise<void> {
    for (const p of await this.pods()) {
      await this.client.pods.patch(this.ns, p.metadata!.name!, {
        metadata: { annotations: { [DELETION_COST]: String(cost(p)) } },
      });
    }
  }

  /** Waits for upstream's notion of ready: observed generation, replicas, available. */
  async waitReady(name: string, timeoutMs = 45_000): Promise<MsObject> {
    return await this.waitFor(`${name} ready`, async () => {
      const ms = await this.get(name);
      return isReady(ms) ? ms : undefined;
    }, timeoutMs);
  }

  /** Polls `probe` until it returns something other than undefined/false. */
  async waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 45_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await probe();
        if (v !== undefined && v !== false) return v;
        last = undefined;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
  }

  /**
   * Checks `probe` over and over for `ms` milliseconds: a state that must hold for a while
   * (a rollout that must stay stopped) cannot be waited for, only watched.
   *
   * @throws the first failed check, with what was expected.
   */
  async holds(what: string, probe: () => Promise<boolean>, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!(await probe())) throw new Error(`${what} stopped holding`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Records the worst `status.replicas - status.availableReplicas` of every status the API
   * server holds for a ModelServing from now on (a watch sees each write).
   */
  watchUnavailable(name: string): { worst: () => number; stop: () => Promise<void> } {
    let worst = 0;
    const informer = this.client.informer(customResource(MODEL_SERVING), { namespace: this.ns });
    const record = (o: unknown) => {
      const ms = o as MsObject;
      if (ms.metadata.name !== name) return;
      const s = ms.status ?? {};
      worst = Math.max(worst, (s.replicas ?? 0) - (s.availableReplicas ?? 0));
    };
    informer.addHandler({ onAdd: record, onUpdate: (_, o) => record(o) });
    informer.start();
    return { worst: () => worst, stop: () => informer.stop() };
  }
}

/** Upstream's "ready" (`WaitForModelServingReady`). */
export function isReady(ms: MsObject): boolean {
  const s = ms.status ?? {};
  const want = ms.spec.replicas ?? 1;
  return s.observedGeneration === ms.metadata.generation && s.replicas === want &&
    s.availableReplicas === want;
}

/** The health a pod's status shows. */
export function healthOf(p: V1Pod): PodHealth {
  const s = p.status;
  if (!s?.phase || s.phase === "Pending") return "pending";
  const ready = s.conditions?.find((c) => c.type === "Ready")?.status === "True";
  const restarted = (s.containerStatuses ?? []).some((c) => (c.restartCount ?? 0) > 0);
  if (ready) return "ready";
  return restarted ? "crashed" : "notReady";
}

/** The status a kubelet would report for a pod of that health. */
function podStatus(p: V1Pod, health: Exclude<PodHealth, "pending">): V1PodStatus {
  const ready = health === "ready";
  const now = new Date().toISOString();
  return {
    phase: "Running",
    conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now }],
    containerStatuses: (p.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? "",
      imageID: "",
      ready,
      restartCount: health === "crashed" ? 1 : 0,
      started: true,
      state: { running: { startedAt: now } },
    })),
  } as unknown as V1PodStatus;
}

/** A pod's serving group ordinal. */
export const groupOf = (p: V1Pod) => Number(p.metadata!.labels![L.groupName]!.split("-").pop());
/** A pod's role replica ordinal. */
export const roleIdxOf = (p: V1Pod) => Number(p.metadata!.labels![L.roleId]!.split("-").pop());
/** The sorted group ordinals of some pods. */
export const ordinals = (pods: V1Pod[]) => [...new Set(pods.map(groupOf))].sort((a, b) => a - b);
/** The image of a pod's first container. */
export const imageOf = (p: V1Pod | undefined) => p?.spec?.containers[0]?.image;
/** The revision label of a pod. */
export const revisionOf = (p: V1Pod | undefined) => p?.metadata?.labels?.[L.revision];
