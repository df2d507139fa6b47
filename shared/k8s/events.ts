/**
 * {@linkcode EventRecorder}: core/v1 Events about our objects (`kubectl describe` shows
 * them), like client-go's recorder: the event points at the object (`involvedObject` with its
 * uid), and a repeat of the same event (same object, type, reason and message) within the
 * recorder's memory increments `count` and `lastTimestamp` of the existing Event instead of
 * creating a new one, so a reconcile loop that keeps saying the same thing does not flood
 * etcd.
 *
 * Recording is best effort: `event()` never throws (failures go to the logger), and callers
 * need not await it.
 *
 * @module
 */
import type { CoreV1Event } from "@kubernetes/client-node";
import type { KubeClient } from "./client.ts";
import { k8sTime } from "./conditions.ts";
import { isNotFound } from "./errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { KubeObject } from "./object.ts";
import type { ObjectInput } from "./object_client.ts";

/** `Normal` or `Warning`. */
export type EventType = "Normal" | "Warning";

/** Options of an {@linkcode EventRecorder}. */
export interface EventRecorderOptions {
  /** `source.component` and `reportingComponent`, e.g. `modelserving-controller`. */
  component: string;
  /** `source.host` and `reportingInstance`. Default: the hostname. */
  instance?: string;
  /** Distinct events remembered for aggregation. Default 4096. */
  cacheSize?: number;
  logger?: Logger;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
}

/** Writes Events about objects, aggregating repeats. */
export class EventRecorder {
  readonly #client: KubeClient;
  readonly #component: string;
  readonly #instance: string;
  readonly #cacheSize: number;
  readonly #log: Logger;
  readonly #seen = new Map<string, Seen>();
  #seq = 0;

  /**
   * @example
   * ```ts ignore
   * import { EventRecorder } from "./events.ts";
   * const recorder = new EventRecorder(client, { component: "modelserving-controller" });
   * await recorder.event(ms, "Normal", "RoleCreating", "Role prefill/prefill-0 in ServingGroup qwen-0 is now Creating");
   * ```
   */
  constructor(client: KubeClient, opts: EventRecorderOptions) {
    this.#client = client;
    this.#component = opts.component;
    this.#instance = opts.instance ?? safeHostname();
    this.#cacheSize = opts.cacheSize ?? 4096;
    this.#log = opts.logger ?? silentLogger;
  }

  /**
   * Records an event about `obj`. Resolves when written (or when writing failed; it never
   * rejects).
   *
   * @param obj The object the event is about; apiVersion and kind should be set.
   * @example
   * ```ts ignore
   * void recorder.event(booster, "Warning", "InvalidSpec", "backend.workers is empty");
   * ```
   */
  async event(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || "default";
    const id = JSON.stringify([
      namespace,
      obj.apiVersion,
      obj.kind,
      meta.name,
      meta.uid,
      type,
      reason,
      message,
    ]);
    const now = k8sTime();
    try {
      const seen = this.#seen.get(id);
      if (seen) {
        try {
          const count = seen.count + 1;
          await this.#client.events.patch(seen.namespace, seen.name, { count, lastTimestamp: now });
          seen.count = count;
          // Refresh its place: the cache evicts the least recently used first.
          this.#seen.delete(id);
          this.#seen.set(id, seen);
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          this.#seen.delete(id); // the Event expired (TTL 1 h by default): start a new one
        }
      }
      const name = `${meta.name ?? "object"}.${this.#suffix()}`;
      const body: ObjectInput<CoreV1Event> = {
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: new Date(now),
        lastTimestamp: new Date(now),
        source: { component: this.#component, host: this.#instance },
        reportingComponent: this.#component,
        reportingInstance: this.#instance,
      };
      await this.#client.events.create(body);
      this.#seen.set(id, { namespace, name, count: 1 });
      if (this.#seen.size > this.#cacheSize) {
        const oldest = this.#seen.keys().next();
        if (!oldest.done) this.#seen.delete(oldest.value);
      }
    } catch (e) {
      this.#log.warn("cannot record event", {
        reason,
        object: `${namespace}/${meta.name}`,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  /** client-go names events `{object}.{unix nanos in hex}`; ms plus a counter keeps them unique. */
  #suffix(): string {
    const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(this.#seq++ % 1_000_000);
    return nanos.toString(16);
  }
}

function safeHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
