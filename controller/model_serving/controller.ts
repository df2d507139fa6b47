/**
 * The ModelServing controller: informers on ModelServings and their children, a work queue,
 * and `reconcile(key)`, which reads the cache, computes a {@linkcode planModelServing plan}
 * and writes it.
 *
 * Level-triggered and idempotent: the reconcile does not know why it runs (a spec change, a
 * pod event, a resync), only what the cluster looks like now. Child events reach it through
 * their controller owner reference.
 *
 * @module
 */
import type { V1ControllerRevision, V1Pod, V1Service } from "@kubernetes/client-node";
import type { ReconcilerOptions } from "../reconciler_options.ts";
import { ApiextensionsV1Api } from "@kubernetes/client-node";
import { z } from "zod";
import {
  MODEL_SERVING,
  ModelServing,
  type ModelServingStatus,
  POD_GROUP,
  PodGroup,
  Role,
} from "@kthena/shared/api";
import { ModelServingLabels as L } from "@kthena/shared/labels";
import {
  Controller,
  CONTROLLER_REVISIONS,
  controllerOf,
  customResource,
  EventRecorder,
  type Informer,
  isAlreadyExists,
  isConflict,
  isNotFound,
  keyOf,
  type KubeClient,
  type KubeObject,
  type Logger,
  PODS,
  type ReconcileOutcome,
  type ResourceClient,
  SERVICES,
  silentLogger,
  TerminalError,
} from "@kthena/shared/k8s";
import { type Plan, planModelServing } from "./plan.ts";
import { Expectations } from "./expectations.ts";
import { buildPluginChain, type PluginChain, PluginError, podCreateRequest } from "./plugins.ts";

/** The field manager of server-side applies (PodGroups). */
export const FIELD_MANAGER = "kthena-modelserving-controller";

/** Options of {@linkcode ModelServingController}. */
export interface ModelServingControllerOptions extends ReconcilerOptions {
  /** Concurrent reconciles. Default 5 (upstream's `--workers`). */
  workers?: number;
  /** The clock (tests); default `Date.now`. */
  now?: () => number;
  /** How often to look for Volcano's PodGroup CRD while it is missing. Default 30 s. */
  volcanoCheckIntervalMs?: number;
}

type RawModelServing = KubeObject & { spec?: unknown; status?: ModelServingStatus };

const RoleList = z.array(Role);

/** The index of every child cache: `namespace/modelServingName` from the name label. */
const byModelServing = (obj: KubeObject): string[] => {
  const name = obj.metadata?.labels?.[L.name];
  return name ? [keyOf(obj.metadata?.namespace, name)] : [];
};

/** Writes in flight per reconcile: enough to create a serving group's pods together. */
const WRITE_CONCURRENCY = 16;

/**
 * The ModelServing controller. `run()` starts the informers and workers and resolves when
 * stopped; `ready()` is true once every cache has synced.
 *
 * @example
 * ```ts ignore
 * import { KubeClient } from "@kthena/shared/k8s";
 * import { ModelServingController } from "./controller.ts";
 * const c = new ModelServingController({ client: KubeClient.load() });
 * const done = c.run();
 * // …
 * await c.stop();
 * await done;
 * ```
 */
export class ModelServingController {
  readonly modelServings: Informer<RawModelServing>;
  readonly pods: Informer<V1Pod>;
  readonly services: Informer<V1Service>;
  readonly revisions: Informer<V1ControllerRevision>;
  /** Started once Volcano's PodGroup CRD is found. */
  podGroups: Informer<KubeObject> | undefined;
  readonly controller: Controller<RawModelServing>;

  readonly #client: KubeClient;
  readonly #msClient: ResourceClient<RawModelServing>;
  readonly #pgClient: ResourceClient<KubeObject>;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #expect = new Expectations();
  /** Role replicas last seen running per key, for RoleRunning transition events only. */
  readonly #running = new Map<string, Set<string>>();
  /** Keys already told that gang scheduling is unavailable. */
  readonly #warnedNoVolcano = new Set<string>();
  #volcano: { installed: boolean; subGroupPolicy: boolean } = {
    installed: false,
    subGroupPolicy: false,
  };
  #volcanoTimer: ReturnType<typeof setInterval> | undefined;
  readonly #volcanoCheckMs: number;

  constructor(opts: ModelServingControllerOptions) {
    const client = opts.client;
    this.#client = client;
    this.#log = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
    this.#volcanoCheckMs = opts.volcanoCheckIntervalMs ?? 30_000;
    this.#events = opts.events ??
      new EventRecorder(client, { component: "modelserving-controller", logger: this.#log });
    this.#msClient = client.resource<RawModelServing>(MODEL_SERVING);
    this.#pgClient = client.resource<KubeObject>(POD_GROUP);

    this.modelServings = client.informer(customResource<RawModelServing>(MODEL_SERVING), {
      logger: this.#log,
    });
    // Children carry the group-name label (upstream's filter): other pods are not cached.
    const childOpts = { labelSelector: L.groupName, indexers: { ms: byModelServing } };
    this.pods = client.informer(PODS, { ...childOpts, logger: this.#log });
    this.services = client.informer(SERVICES, { ...childOpts, logger: this.#log });
    this.revisions = client.informer(CONTROLLER_REVISIONS, {
      labelSelector: L.name,
      indexers: { ms: byModelServing },
      logger: this.#log,
    });

    // Expectations are met by what the pod cache shows, whatever triggers the reconcile.
    this.pods.addHandler({
      onAdd: (p) => this.#expect.observeAdd(ownerOf(p), p.metadata?.name ?? ""),
      onDelete: (p) => this.#expect.observeDelete(ownerOf(p), p.metadata?.uid ?? ""),
    });

    this.controller = new Controller<RawModelServing>({
      name: "modelserving",
      informer: this.modelServings,
      owns: [this.pods, this.services, this.revisions],
      workers: opts.workers ?? 5,
      resyncPeriodMs: opts.resyncPeriodMs,
      // Status-only updates (ours included) need no reconcile; spec changes bump the generation.
      // Metadata changes matter too (the queue annotation feeds PodGroups, upstream misses it).
      updatePredicate: (a, b) =>
        a.metadata?.generation !== b.metadata?.generation ||
        JSON.stringify(a.metadata?.annotations ?? {}) !==
          JSON.stringify(b.metadata?.annotations ?? {}) ||
        !!b.metadata?.deletionTimestamp,
      reconcile: (key) => this.reconcile(key),
      metrics: opts.metrics,
      logger: this.#log,
    });
  }

  /** Starts the informers, the Volcano detector and the workers; resolves when stopped. */
  async run(): Promise<void> {
    await this.#detectVolcano();
    if (!this.#volcano.installed) {
      this.#volcanoTimer = setInterval(() => this.#detectVolcano(), this.#volcanoCheckMs);
    }
    for (const i of [this.modelServings, this.pods, this.services, this.revisions]) i.start();
    await this.controller.run();
  }

  /** Stops workers and informers. */
  async stop(): Promise<void> {
    clearInterval(this.#volcanoTimer);
    await this.controller.stop();
    for (
      const i of [this.modelServings, this.pods, this.services, this.revisions, this.podGroups]
    ) {
      await i?.stop();
    }
  }

  /** Every cache has synced. */
  ready(): boolean {
    return [this.modelServings, this.pods, this.services, this.revisions, this.podGroups]
      .every((i) => !i || i.hasSynced());
  }

  /**
   * Looks for Volcano's PodGroup CRD; when found, caches PodGroups. A missing CRD is not an
   * error: ModelServings with `schedulerName: volcano` get a Warning event and pods without
   * gang scheduling, and the check repeats until the CRD appears.
   */
  async #detectVolcano(): Promise<void> {
    if (this.#volcano.installed) return;
    try {
      const api = this.#client.kubeConfig.makeApiClient(ApiextensionsV1Api);
      const crd = await api.readCustomResourceDefinition({
        name: "podgroups.scheduling.volcano.sh",
      });
      const version = crd.spec.versions.find((v) => v.name === "v1beta1") ?? crd.spec.versions[0];
      const props = version?.schema?.openAPIV3Schema?.properties?.spec?.properties ?? {};
      this.#volcano = { installed: true, subGroupPolicy: "subGroupPolicy" in props };
      clearInterval(this.#volcanoTimer);
      this.podGroups = this.#client.informer(customResource<KubeObject>(POD_GROUP), {
        indexers: { ms: byModelServing },
        logger: this.#log,
      });
      this.podGroups.addHandler({
        onAdd: (o) => this.#enqueueOwner(o),
        onUpdate: (_, o) => this.#enqueueOwner(o),
        onDelete: (o) => this.#enqueueOwner(o),
      });
      this.podGroups.start();
      this.#log.info("Volcano PodGroup CRD found", {
        subGroupPolicy: this.#volcano.subGroupPolicy,
      });
      // ModelServings planned without gang scheduling get their PodGroups now.
      for (const key of this.modelServings.store.keys()) this.controller.queue.add(key);
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code !== 404) {
        this.#log.warn("cannot look for Volcano's PodGroup CRD", { error: String(e) });
      }
    }
  }

  #enqueueOwner(obj: KubeObject): void {
    const key = ownerOf(obj);
    if (key) this.controller.queue.add(key);
  }

  /**
   * Reconciles one ModelServing: plan from the cache, write, report status.
   *
   * @throws {TerminalError} when the object does not parse (it is not retried).
   */
  async reconcile(key: string): Promise<ReconcileOutcome | void> {
    const raw = this.modelServings.store.get(key);
    if (!raw) {
      // Deleted: its children go through garbage collection (owner references).
      this.#expect.drop(key);
      this.#running.delete(key);
      this.#warnedNoVolcano.delete(key);
      return;
    }
    if (raw.metadata?.deletionTimestamp) return;
    // Writes of the last reconcile not visible in the cache yet: planning now would repeat
    // them. The pod events that make them visible requeue this key.
    if (!this.#expect.satisfied(key)) return { requeueAfter: 1_000 };

    const parsed = ModelServing.safeParse(raw);
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      await this.#events.event(raw, "Warning", "InvalidSpec", msg).catch(() => {});
      throw new TerminalError(`${key} does not parse: ${msg}`);
    }
    const ms = parsed.data;
    const uid = ms.metadata.uid ?? "";
    const owned = <T extends KubeObject>(objs: T[]) =>
      objs.filter((o) => controllerOf(o)?.uid === uid);

    const pods = owned(this.pods.store.byIndex("ms", key));
    const services = new Set(
      owned(this.services.store.byIndex("ms", key)).map((s) => s.metadata!.name!),
    );
    const revisions = new Map<string, Role[]>();
    for (const cr of owned(this.revisions.store.byIndex("ms", key))) {
      const rev = cr.metadata?.labels?.[L.revision];
      const roles = RoleList.safeParse((cr.data as { data?: unknown } | undefined)?.data);
      if (rev && roles.success) revisions.set(rev, roles.data);
    }
    const wantsGang = ms.spec.schedulerName === "volcano";
    const gang = wantsGang && this.#volcano.installed;
    const podGroups = new Map<string, PodGroup>();
    if (this.podGroups) {
      for (const pg of owned(this.podGroups.store.byIndex("ms", key))) {
        const p = PodGroup.safeParse(pg);
        if (p.success) podGroups.set(pg.metadata!.name!, p.data);
      }
    }
    if (wantsGang && !gang && !this.#warnedNoVolcano.has(key)) {
      this.#warnedNoVolcano.add(key);
      await this.#events.event(
        raw,
        "Warning",
        "GangSchedulingUnavailable",
        "schedulerName is volcano but Volcano's PodGroup CRD is not installed: pods are created " +
          "without gang scheduling until it is",
      ).catch(() => {});
    }

    const plan = planModelServing({
      ms,
      pods,
      services,
      podGroups,
      revisions,
      gang,
      subGroupPolicy: this.#volcano.subGroupPolicy,
      now: this.#now(),
    });
    await this.#runPlugins(raw, ms, plan);
    await this.#write(key, raw, plan);
    await this.#reportRunning(key, raw, plan);
    if (!sameStatus(raw.status, plan.status)) {
      await this.#msClient.patchStatus(
        ms.metadata.namespace ?? "default",
        ms.metadata.name!,
        plan.status,
      );
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfter: plan.requeueAfterMs } : undefined;
  }

  /**
   * Runs `spec.plugins` on the pods the plan creates, before anything is written, so a
   * failing plugin leaves no half-done step behind. A chain that cannot be built (unknown
   * name, bad config) is reported as a Warning event naming the field; it fails the reconcile
   * (retried with backoff) only when there are pods to create, so status and scale-down go on
   * for a ModelServing whose pods all exist.
   */
  async #runPlugins(raw: RawModelServing, ms: ModelServing, plan: Plan): Promise<void> {
    if (!ms.spec.plugins?.length) return;
    let chain: PluginChain;
    try {
      chain = buildPluginChain(ms.spec.plugins);
    } catch (e) {
      if (!(e instanceof PluginError)) throw e;
      await this.#events.event(raw, "Warning", "InvalidPlugin", e.message).catch(() => {});
      if (plan.createPods.length === 0) return;
      throw e;
    }
    for (const pod of plan.createPods) chain.onPodCreate(podCreateRequest(ms, pod));
  }

  /** Executes a plan's writes, in the order the plan requires. */
  async #write(key: string, owner: RawModelServing, plan: Plan): Promise<void> {
    const ns = owner.metadata?.namespace ?? "default";
    const c = this.#client;
    if (plan.controllerRevision) {
      await c.controllerRevisions.create(plan.controllerRevision as never).catch(
        ignore(isAlreadyExists),
      );
    }
    // PodGroups before pods: Volcano holds pods whose PodGroup does not exist yet.
    await limited(
      plan.applyPodGroups,
      (pg) => this.#pgClient.apply(pg as never, { fieldManager: FIELD_MANAGER }).then(() => {}),
    );

    this.#expect.expect(
      key,
      plan.createPods.map((p) => p.metadata!.name!),
      plan.deletePods.map((d) => d.uid ?? "").filter(Boolean),
    );
    await limited(plan.deletePods, async (d) => {
      try {
        await c.pods.delete(ns, d.name, d.uid ? { uid: d.uid } : {});
      } catch (e) {
        if (d.uid) this.#expect.forgetDelete(key, d.uid);
        // Gone already, or replaced by a newer pod of that name: nothing to do.
        if (!isNotFound(e) && !isConflict(e)) throw e;
      }
    });
    await limited(plan.createPods, async (pod) => {
      try {
        await c.pods.create(pod as never);
      } catch (e) {
        this.#expect.forgetCreate(key, pod.metadata!.name!);
        // Already there: the cache will show it. If it belongs to an older ModelServing of the
        // same name, garbage collection removes it and the pod event brings us back.
        if (!isAlreadyExists(e)) throw e;
      }
    });
    await limited(
      plan.createServices,
      (s) => c.services.create(s as never).then(() => {}, ignore(isAlreadyExists)),
    );
    await limited(
      plan.deleteServices,
      (name) => c.services.delete(ns, name).catch(ignore(isNotFound)),
    );
    await limited(
      plan.deletePodGroups,
      (name) => this.#pgClient.delete(ns, name).catch(ignore(isNotFound)),
    );
    for (const e of plan.events) {
      await this.#events.event(owner, e.type, e.reason, e.message).catch(() => {});
    }
  }

  /** Emits RoleRunning for role replicas that became ready since the last reconcile. */
  async #reportRunning(key: string, owner: RawModelServing, plan: Plan): Promise<void> {
    const before = this.#running.get(key) ?? new Set<string>();
    const now = new Set(plan.runningRoleReplicas);
    this.#running.set(key, now);
    for (const id of now) {
      if (before.has(id)) continue;
      const [group, rid] = id.split("/");
      const role = rid?.replace(/-\d+$/, "");
      await this.#events.event(
        owner,
        "Normal",
        "RoleRunning",
        `Role ${role}/${rid} in ServingGroup ${group} is now Running`,
      ).catch(() => {});
    }
  }
}

/** The ModelServing key a child belongs to (its controller owner reference). */
function ownerOf(obj: KubeObject): string {
  const ref = controllerOf(obj);
  return ref?.kind === "ModelServing" ? keyOf(obj.metadata?.namespace, ref.name ?? "") : "";
}

/** Status equality that ignores what the API server adds or normalises. */
function sameStatus(a: ModelServingStatus | undefined, b: ModelServingStatus): boolean {
  return JSON.stringify(canonical(a ?? {})) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).filter(([, x]) => x !== undefined).sort(([x], [y]) => x.localeCompare(y))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/** Runs `fn` over items with at most {@linkcode WRITE_CONCURRENCY} in flight; first error wins. */
async function limited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
}

/** A catch handler that swallows errors matching `pred`. */
function ignore(pred: (e: unknown) => boolean): (e: unknown) => void {
  return (e) => {
    if (!pred(e)) throw e;
  };
}
