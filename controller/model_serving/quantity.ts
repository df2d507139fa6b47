/**
 * Just enough of Kubernetes resource quantities to add container requests up for a PodGroup's
 * `minResources` and to compare them with what the API server stored (which canonicalises them:
 * `"1024Mi"` comes back as `"1Gi"`). Hand-written: the npm packages for this are unmaintained.
 *
 * @module
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/**
 * The value of a quantity in base units (cores, bytes, devices).
 *
 * @throws {Error} when the string is not a quantity.
 * @example
 * ```ts
 * import { parseQuantity } from "./quantity.ts";
 * parseQuantity("500m"); // 0.5
 * parseQuantity("2Gi"); // 2147483648
 * ```
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = q.trim().match(
    /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/,
  );
  if (!m || m[1] === undefined) throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? "";
  return base * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

/**
 * Writes a quantity: whole numbers as they are, fractions in milli-units (`"1500m"`).
 *
 * @example
 * ```ts
 * import { formatQuantity } from "./quantity.ts";
 * formatQuantity(1.5); // "1500m"
 * ```
 */
export function formatQuantity(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return `${Math.round(n * 1000)}m`;
}

/**
 * Adds resource lists (`{cpu: "1", memory: "1Gi"}`), each multiplied by a count.
 *
 * @example
 * ```ts
 * import { addResources } from "./quantity.ts";
 * addResources([[{ cpu: "500m" }, 2], [{ cpu: "1" }, 1]]); // { cpu: "2" }
 * ```
 */
export function addResources(
  parts: readonly [Record<string, string | number> | undefined, number][],
): Record<string, string> {
  const sum = new Map<string, number>();
  for (const [resources, count] of parts) {
    for (const [name, q] of Object.entries(resources ?? {})) {
      sum.set(name, (sum.get(name) ?? 0) + parseQuantity(q) * count);
    }
  }
  return Object.fromEntries(
    [...sum].sort(([a], [b]) => a.localeCompare(b)).map((
      [k, v],
    ) => [k, formatQuantity(v)]),
  );
}

/**
 * Whether two resource lists hold the same amounts, however they are written.
 *
 * @example
 * ```ts
 * import { sameResources } from "./quantity.ts";
 * sameResources({ memory: "1Gi" }, { memory: "1024Mi" }); // true
 * ```
 */
export function sameResources(
  a: Record<string, string | number> | undefined,
  b: Record<string, string | number> | undefined,
): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => Math.abs(parseQuantity(a![k]!) - parseQuantity(b![k]!)) < 1e-6);
}
