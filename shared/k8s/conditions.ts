/**
 * Status conditions (`metav1.Condition`) and `observedGeneration`, with apimachinery's
 * `meta.SetStatusCondition` rules: a condition's `lastTransitionTime` moves only when its
 * `status` changes (a new reason or message alone is not a transition), so the time answers
 * "since when is it False?".
 *
 * The functions return new arrays and never change their input: the conditions usually come
 * from an informer's cache, which other readers share.
 *
 * @module
 */
import type { Condition } from "../api/mod.ts";

/** What a controller says about one condition; the time is filled in. */
export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message?: string;
  /** The generation this condition was computed from. */
  observedGeneration?: number;
}

/**
 * The Kubernetes `metav1.Time` text of a date: RFC 3339, whole seconds, UTC.
 *
 * @example
 * ```ts
 * import { k8sTime } from "./conditions.ts";
 * k8sTime(new Date("2026-01-02T03:04:05.678Z")); // "2026-01-02T03:04:05Z"
 * ```
 */
export function k8sTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/**
 * The condition of a type, if present.
 *
 * @example
 * ```ts
 * import { findCondition } from "./conditions.ts";
 * findCondition([], "Active"); // undefined
 * ```
 */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Whether the condition of a type is present with status `True`.
 *
 * @example
 * ```ts
 * import { isConditionTrue } from "./conditions.ts";
 * isConditionTrue([{ type: "Active", status: "True", reason: "R", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }], "Active"); // true
 * ```
 */
export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: string,
): boolean {
  return findCondition(conditions, type)?.status === "True";
}

/**
 * Sets a condition: adds it, or updates the one of the same type. `lastTransitionTime` is
 * `now` for a new condition or a status change, and kept otherwise. `changed` tells whether
 * anything differs (skip the status write when it does not).
 *
 * @example
 * ```ts
 * import { setCondition } from "./conditions.ts";
 * const first = setCondition(undefined, { type: "Active", status: "False", reason: "Pending" });
 * const again = setCondition(first.conditions, { type: "Active", status: "False", reason: "Waiting" });
 * again.conditions[0]?.lastTransitionTime === first.conditions[0]?.lastTransitionTime; // true
 * ```
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date = new Date(),
): { conditions: Condition[]; changed: boolean } {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const existing = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message ?? "",
    lastTransitionTime: existing && existing.status === input.status
      ? existing.lastTransitionTime
      : k8sTime(now),
    ...(input.observedGeneration !== undefined
      ? { observedGeneration: input.observedGeneration }
      : {}),
  };
  if (!existing) return { conditions: [...list, next], changed: true };
  const changed = existing.status !== next.status || existing.reason !== next.reason ||
    existing.message !== next.message || existing.observedGeneration !== next.observedGeneration;
  if (!changed) return { conditions: list, changed: false };
  list[i] = next;
  return { conditions: list, changed: true };
}

/**
 * Removes the condition of a type.
 *
 * @example
 * ```ts
 * import { removeCondition } from "./conditions.ts";
 * removeCondition([], "Active"); // { conditions: [], changed: false }
 * ```
 */
export function removeCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): { conditions: Condition[]; changed: boolean } {
  const list = (conditions ?? []).filter((c) => c.type !== type);
  return { conditions: list, changed: list.length !== (conditions?.length ?? 0) };
}

/**
 * Whether an object's status reflects its current spec: `status.observedGeneration` equals
 * `metadata.generation`. Clients (and tests) wait for this before trusting the status.
 *
 * @example
 * ```ts
 * import { isObservedGenerationCurrent } from "./conditions.ts";
 * isObservedGenerationCurrent({ metadata: { generation: 2 }, status: { observedGeneration: 2 } }); // true
 * ```
 */
export function isObservedGenerationCurrent(
  obj: { metadata?: { generation?: number }; status?: { observedGeneration?: number } },
): boolean {
  const gen = obj.metadata?.generation;
  return gen !== undefined && obj.status?.observedGeneration === gen;
}
