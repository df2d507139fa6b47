/**
 * Resolving int-or-string fields (`maxUnavailable`, `partition`) against a total, as the
 * Kubernetes workload controllers do.
 *
 * @module
 */
import type { IntOrString } from "./schema.ts";

/**
 * Resolves a count or a percentage of `total`. Percentages round down (`"down"`, used for
 * `maxUnavailable`) or up (`"up"`, used for `partition`), as upstream does.
 *
 * @example
 * ```ts
 * import { resolveIntOrPercent } from "./int_or_percent.ts";
 * resolveIntOrPercent("50%", 3, "down"); // 1
 * resolveIntOrPercent("50%", 3, "up"); // 2
 * resolveIntOrPercent(2, 3, "down"); // 2
 * ```
 */
export function resolveIntOrPercent(
  value: IntOrString | undefined,
  total: number,
  round: "up" | "down",
): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  const m = value.match(/^(\d+)%$/);
  if (!m) {
    const n = Number(value);
    return Number.isInteger(n) ? n : 0;
  }
  const exact = (Number(m[1]) * total) / 100;
  return round === "up" ? Math.ceil(exact) : Math.floor(exact);
}
