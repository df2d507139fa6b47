/**
 * {@linkcode LeaderElector}: Lease-based leader election (coordination.k8s.io/v1), as
 * client-go's `leaderelection` package does it — client-node has none. Only the leader runs
 * the controllers; the other replicas wait, ready to take over.
 *
 * How it works (every `retryPeriod`, ±20 % jitter):
 *
 * - No Lease yet: create it with us as holder.
 * - Held by us: renew (`renewTime` = now), a PUT with the read resourceVersion.
 * - Held by another: take it over only once it has not changed for `leaseDuration`, measured
 *   on **our** clock from when we last saw it change — not from its `renewTime`, so clock skew
 *   between nodes cannot make two leaders. A takeover increments `leaseTransitions`.
 * - Every write is a compare-and-swap on resourceVersion: of two candidates racing for an
 *   expired Lease, one gets 409 and stays a follower.
 *
 * The leader keeps renewing; when it cannot renew for `renewDeadline` (API server down,
 * someone else took the Lease), it **has lost leadership**: `onStoppedLeading` runs and
 * {@linkcode LeaderElector.run} resolves with `"lost"`. Losing the lease is fatal for the
 * caller — the process must stop its controllers *and exit* (controller-runtime does the
 * same): after `leaseDuration` another replica may already be acting, and two controllers
 * writing the same objects is exactly what election prevents. Restarting is the only clean
 * way back to follower.
 *
 * `renewDeadline < leaseDuration` leaves the old leader time to notice and stop before a
 * follower may take over. Times are written as `V1MicroTime` (microseconds,
 * `2026-11-24T20:07:29.068000Z`): the API server rejects a JavaScript `Date`'s milliseconds.
 *
 * @module
 */
import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { sleep } from "./backoff.ts";
import type { KubeClient } from "./client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "./errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { RuntimeMetrics } from "./metrics.ts";

/** Options of a {@linkcode LeaderElector}. */
export interface LeaderElectionOptions {
  client: KubeClient;
  /** The Lease's namespace (upstream: the pod's namespace). */
  namespace: string;
  /** The Lease's name (upstream: `lease.kthena.controller-manager`). */
  name: string;
  /** This replica's identity. Default `{hostname}_{uuid}` (upstream's format). */
  identity?: string;
  /** How long a Lease is valid after its last change. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before giving up. Default 10 s. */
  renewDeadlineMs?: number;
  /** Time between attempts. Default 2 s. */
  retryPeriodMs?: number;
  /**
   * On {@linkcode LeaderElector.stop}, hand the Lease back (empty holder) so a follower takes
   * over at once instead of after `leaseDuration`. Default true.
   */
  releaseOnCancel?: boolean;
  /** Called when this replica becomes leader; the signal aborts when it stops leading. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called when this replica stops leading (lost or stopped). The process should exit. */
  onStoppedLeading(): void;
  /** Called when the observed leader changes (including to us). */
  onNewLeader?(identity: string): void;
  /** Default: the metrics of prom-client's global registry. */
  metrics?: RuntimeMetrics;
  logger?: Logger;
}

/** Why {@linkcode LeaderElector.run} ended. */
export type ElectionEnd = "stopped" | "lost";

/**
 * The `V1MicroTime` text of a date: RFC 3339 with exactly six fractional digits.
 *
 * @example
 * ```ts
 * import { formatMicroTime } from "./leader_election.ts";
 * formatMicroTime(new Date("2026-11-24T20:07:29.068Z")); // "2026-11-24T20:07:29.068000Z"
 * ```
 */
export function formatMicroTime(date: Date): string {
  return new V1MicroTime(date.getTime()).toISOString();
}

/** What the API returns for a MicroTime: a string at run time, whatever the typings say. */
function timeText(v: unknown): string {
  return v instanceof Date ? v.toISOString() : String(v ?? "");
}

/** Competes for a Lease and reports leadership changes. */
export class LeaderElector {
  /** This replica's identity. */
  readonly identity: string;
  readonly #o: LeaderElectionOptions;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #retryMs: number;
  readonly #log: Logger;
  readonly #metrics: RuntimeMetrics;
  readonly #stop = new AbortController();
  #release: boolean;
  #leading = false;
  #leader: string | undefined;
  /** The last Lease spec we saw, and when (our clock) it last changed. */
  #observed = "";
  #observedAt = 0;
  #running: Promise<ElectionEnd> | undefined;

  /**
   * @throws {Error} unless leaseDuration > renewDeadline > 1.2 × retryPeriod.
   * @example
   * ```ts ignore
   * import { LeaderElector } from "./leader_election.ts";
   * const elector = new LeaderElector({
   *   client,
   *   namespace: "kthena-system",
   *   name: "lease.kthena.controller-manager",
   *   onStartedLeading: () => void controllers.run(),
   *   onStoppedLeading: () => Deno.exit(1), // fatal: another replica may lead now
   * });
   * await elector.run();
   * ```
   */
  constructor(opts: LeaderElectionOptions) {
    this.#o = opts;
    this.identity = opts.identity ?? `${hostname()}_${crypto.randomUUID()}`;
    this.#leaseMs = opts.leaseDurationMs ?? 15_000;
    this.#renewMs = opts.renewDeadlineMs ?? 10_000;
    this.#retryMs = opts.retryPeriodMs ?? 2_000;
    if (!(this.#leaseMs > this.#renewMs && this.#renewMs > 1.2 * this.#retryMs)) {
      throw new Error("leader election needs leaseDuration > renewDeadline > 1.2 × retryPeriod");
    }
    this.#release = opts.releaseOnCancel ?? true;
    this.#log = opts.logger ?? silentLogger;
    this.#metrics = opts.metrics ?? RuntimeMetrics.of();
  }

  /**
   * Whether this replica currently leads.
   *
   * @example
   * ```ts ignore
   * if (elector.isLeader()) console.log("leading");
   * ```
   */
  isLeader(): boolean {
    return this.#leading;
  }

  /**
   * The holder of the Lease as last observed (`undefined` before the first read).
   *
   * @example
   * ```ts ignore
   * elector.leader(); // "host-a_4f1c…"
   * ```
   */
  leader(): string | undefined {
    return this.#leader;
  }

  /**
   * Campaigns until leading, leads until the lease is lost or `stop()` is called, then calls
   * `onStoppedLeading` (if it led) and resolves with why it ended.
   *
   * @example
   * ```ts ignore
   * const end = await elector.run();
   * if (end === "lost") Deno.exit(1);
   * ```
   */
  run(): Promise<ElectionEnd> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /**
   * Stops campaigning or leading. A leader hands the Lease back unless `release` (default:
   * the `releaseOnCancel` option) is false — false simulates a crash in tests.
   *
   * @example
   * ```ts ignore
   * await elector.stop();
   * ```
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (opts.release !== undefined) this.#release = opts.release;
    this.#stop.abort();
    await this.#running;
  }

  async #run(): Promise<ElectionEnd> {
    const stop = this.#stop.signal;
    const gauge = { name: this.#o.name };
    this.#metrics.leaderElectionMasterStatus.set(gauge, 0);
    // Campaign.
    while (!stop.aborted && !(await this.#tryAcquireOrRenew())) {
      await sleep(this.#jittered(), stop);
    }
    if (stop.aborted) return "stopped";

    this.#leading = true;
    this.#metrics.leaderElectionMasterStatus.set(gauge, 1);
    this.#log.info("became leader", { lease: this.#o.name, identity: this.identity });
    const leadership = new AbortController();
    Promise.resolve()
      .then(() => this.#o.onStartedLeading(leadership.signal))
      .catch((e) => this.#log.error("onStartedLeading failed", { error: String(e) }));

    // Lead: renew every retryPeriod; give up after renewDeadline without a success.
    let lastRenew = performance.now();
    let end: ElectionEnd = "stopped";
    while (!stop.aborted) {
      await sleep(this.#retryMs, stop);
      if (stop.aborted) break;
      const left = this.#renewMs - (performance.now() - lastRenew);
      if (left > 0 && await this.#tryAcquireOrRenew(left)) {
        lastRenew = performance.now();
        continue;
      }
      if (performance.now() - lastRenew >= this.#renewMs) {
        end = "lost";
        break;
      }
    }

    this.#leading = false;
    this.#metrics.leaderElectionMasterStatus.set(gauge, 0);
    leadership.abort();
    if (end === "lost") {
      this.#log.error("leadership lost", { lease: this.#o.name, identity: this.identity });
    } else if (this.#release) {
      await this.#releaseLease();
    }
    try {
      this.#o.onStoppedLeading();
    } catch (e) {
      this.#log.error("onStoppedLeading failed", { error: String(e) });
    }
    return end;
  }

  #jittered(): number {
    return this.#retryMs * (1 + 0.2 * Math.random());
  }

  /** One attempt; true when we hold the Lease afterwards. Failures are logged, not thrown. */
  async #tryAcquireOrRenew(timeoutMs = this.#renewMs): Promise<boolean> {
    try {
      return await withTimeout(this.#attempt(), timeoutMs);
    } catch (e) {
      this.#log.warn("lease attempt failed", {
        lease: this.#o.name,
        error: e instanceof Error ? e.message : String(e),
      });
      return false;
    }
  }

  async #attempt(): Promise<boolean> {
    const { client, namespace, name } = this.#o;
    const leaseSeconds = Math.ceil(this.#leaseMs / 1000);
    const now = new Date();
    let lease: V1Lease;
    try {
      lease = await client.leases.get(namespace, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        const created = await client.leases.create({
          metadata: { name, namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: new V1MicroTime(now.getTime()),
            renewTime: new V1MicroTime(now.getTime()),
            leaseTransitions: 0,
          },
        });
        this.#observe(created);
        return true;
      } catch (e2) {
        if (isAlreadyExists(e2)) return false; // another candidate created it first
        throw e2;
      }
    }
    this.#observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const heldByOther = holder !== "" && holder !== this.identity;
    if (heldByOther && this.#observedAt + this.#leaseMs > performance.now()) return false;

    const ours = holder === this.identity;
    const next: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: leaseSeconds,
        renewTime: new V1MicroTime(now.getTime()),
        acquireTime: ours && spec.acquireTime
          ? new V1MicroTime(Date.parse(timeText(spec.acquireTime)))
          : new V1MicroTime(now.getTime()),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
    try {
      this.#observe(await client.leases.replace(next));
      return true;
    } catch (e) {
      if (isConflict(e)) return false; // lost a race: someone wrote the Lease since our read
      throw e;
    }
  }

  /** Notes the Lease as seen now when it differs from what we saw last. */
  #observe(lease: V1Lease): void {
    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity ?? "",
      timeText(spec.renewTime),
      spec.leaseTransitions ?? 0,
    ]);
    if (record !== this.#observed) {
      this.#observed = record;
      this.#observedAt = performance.now();
    }
    const holder = spec.holderIdentity ?? "";
    if (holder !== this.#leader) {
      this.#leader = holder;
      if (holder !== "") this.#o.onNewLeader?.(holder);
    }
  }

  /** Hands the Lease back: empty holder, so followers need not wait for it to expire. */
  async #releaseLease(): Promise<void> {
    const { client, namespace, name } = this.#o;
    try {
      const lease = await withTimeout(client.leases.get(namespace, name), this.#renewMs);
      if (lease.spec?.holderIdentity !== this.identity) return;
      const spec = lease.spec;
      await withTimeout(
        client.leases.replace({
          ...lease,
          spec: {
            ...spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            renewTime: new V1MicroTime(Date.now()),
            acquireTime: spec.acquireTime
              ? new V1MicroTime(Date.parse(timeText(spec.acquireTime)))
              : undefined,
          },
        }),
        this.#renewMs,
      );
      this.#log.info("lease released", { lease: name, identity: this.identity });
    } catch (e) {
      this.#log.warn("cannot release lease", { lease: name, error: String(e) });
    }
  }
}

/** Rejects when `p` takes longer than `ms` (the call itself may still complete). */
function withTimeout<R>(p: Promise<R>, ms: number): Promise<R> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
