/**
 * Prometheus metrics of the runtime, under controller-runtime's names so existing dashboards
 * and alerts work unchanged:
 *
 * | metric | labels |
 * |---|---|
 * | `controller_runtime_reconcile_total` | controller, result (`success`, `error`, `requeue`, `requeue_after`) |
 * | `controller_runtime_reconcile_errors_total` | controller |
 * | `controller_runtime_terminal_reconcile_errors_total` | controller |
 * | `controller_runtime_reconcile_time_seconds` | controller |
 * | `controller_runtime_active_workers` | controller |
 * | `controller_runtime_max_concurrent_reconciles` | controller |
 * | `workqueue_depth`, `workqueue_adds_total`, `workqueue_retries_total` | name, controller |
 * | `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds` | name, controller |
 * | `leader_election_master_status` | name |
 *
 * Metrics live in a prom-client `Registry` (prom-client's global one unless told otherwise);
 * {@linkcode RuntimeMetrics.of} returns one set per registry, since a registry refuses a
 * metric name twice.
 *
 * @module
 */
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from "prom-client";
import type { WorkQueueMetrics } from "./work_queue.ts";

/** The outcome of one reconcile, as the `result` label has it. */
export type ReconcileResult = "success" | "error" | "requeue" | "requeue_after";

const RECONCILE_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
  1,
  1.25,
  1.5,
  1.75,
  2,
  2.5,
  3,
  3.5,
  4,
  4.5,
  5,
  6,
  7,
  8,
  9,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  60,
];
/** controller-runtime's workqueue buckets: 10 ns · 10^n, n = 0…11. */
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

const cache = new WeakMap<Registry, RuntimeMetrics>();

/** The runtime's metrics in one registry. */
export class RuntimeMetrics {
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly terminalReconcileErrors: Counter<"controller">;
  readonly reconcileTime: Histogram<"controller">;
  readonly activeWorkers: Gauge<"controller">;
  readonly maxConcurrentReconciles: Gauge<"controller">;
  readonly workqueueDepth: Gauge<"name" | "controller">;
  readonly workqueueAdds: Counter<"name" | "controller">;
  readonly workqueueRetries: Counter<"name" | "controller">;
  readonly workqueueQueueDuration: Histogram<"name" | "controller">;
  readonly workqueueWorkDuration: Histogram<"name" | "controller">;
  readonly leaderElectionMasterStatus: Gauge<"name">;

  /**
   * Registers the metrics in `registry`; prefer {@linkcode RuntimeMetrics.of}.
   *
   * @example
   * ```ts
   * import { Registry } from "prom-client";
   * import { RuntimeMetrics } from "./metrics.ts";
   * const m = new RuntimeMetrics(new Registry());
   * m.reconcileTotal.inc({ controller: "modelserving", result: "success" });
   * ```
   */
  constructor(readonly registry: Registry) {
    const registers = [registry];
    const c = ["controller"] as const;
    const q = ["name", "controller"] as const;
    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"] as const,
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: c,
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller",
      labelNames: c,
      registers,
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: c,
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: c,
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: c,
      registers,
    });
    this.workqueueDepth = new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames: q,
      registers,
    });
    this.workqueueAdds = new Counter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames: q,
      registers,
    });
    this.workqueueRetries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames: q,
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames: q,
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes",
      labelNames: q,
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.leaderElectionMasterStatus = new Gauge({
      name: "leader_election_master_status",
      help: "Gauge of if the reporting system is master of the relevant lease, " +
        "0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease",
      labelNames: ["name"] as const,
      registers,
    });
  }

  /**
   * The metrics of a registry (created on first use). Default: prom-client's global registry.
   *
   * @example
   * ```ts
   * import { Registry } from "prom-client";
   * import { RuntimeMetrics } from "./metrics.ts";
   * const registry = new Registry();
   * RuntimeMetrics.of(registry) === RuntimeMetrics.of(registry); // true
   * ```
   */
  static of(registry: Registry = globalRegistry): RuntimeMetrics {
    let m = cache.get(registry);
    if (!m) cache.set(registry, m = new RuntimeMetrics(registry));
    return m;
  }

  /**
   * The work queue hooks of one controller's queue.
   *
   * @example
   * ```ts
   * import { Registry } from "prom-client";
   * import { RuntimeMetrics } from "./metrics.ts";
   * import { WorkQueue } from "./work_queue.ts";
   * const q = new WorkQueue({ metrics: RuntimeMetrics.of(new Registry()).workQueue("modelserving") });
   * ```
   */
  workQueue(name: string): WorkQueueMetrics {
    const labels = { name, controller: name };
    this.workqueueDepth.set(labels, 0);
    return {
      add: () => this.workqueueAdds.inc(labels),
      depth: (n) => this.workqueueDepth.set(labels, n),
      retry: () => this.workqueueRetries.inc(labels),
      queueDuration: (s) => this.workqueueQueueDuration.observe(labels, s),
      workDuration: (s) => this.workqueueWorkDuration.observe(labels, s),
    };
  }
}
