/**
 * What every reconciler of the controller manager is built with.
 *
 * @module
 */
import type { EventRecorder, KubeClient, Logger, RuntimeMetrics } from "@kthena/shared/k8s";

/**
 * Options every reconciler takes; each adds its own.
 *
 * @example
 * ```ts
 * import type { ReconcilerOptions } from "./reconciler_options.ts";
 * import { KubeClient } from "@kthena/shared/k8s";
 * const opts: ReconcilerOptions = { client: KubeClient.load(), workers: 2 };
 * ```
 */
export interface ReconcilerOptions {
  client: KubeClient;
  /** Concurrent reconciles (never two on one key). */
  workers?: number;
  /** Full resync period; default 10 min. */
  resyncPeriodMs?: number;
  /** Where Events go; default a recorder on `client`. */
  events?: EventRecorder;
  logger?: Logger;
  metrics?: RuntimeMetrics;
}
