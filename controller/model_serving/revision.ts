/**
 * Revision hashes of a ModelServing and of its roles.
 *
 * A revision names "what the pods look like". It must not change when only replica counts or
 * rollout knobs change (those do not roll pods), and it must be stable across processes,
 * restarts and versions of this program, because it is stored in pod labels and compared on
 * every reconcile.
 *
 * Definition (documented, so other tools can compute it):
 * 1. take `spec.template.roles` (for the role hash: one role), and remove from every role the
 *    fields `replicas`, `maxUnavailable` and `partition`;
 * 2. serialise as canonical JSON: object keys sorted, no whitespace, `undefined` dropped;
 * 3. SHA-256 of the UTF-8 bytes;
 * 4. the first 8 bytes as an unsigned big-endian integer, written in base 27 with the digits
 *    `bcdfghjklmnpqrstvwxz2456789` (upstream's alphabet: no vowels, so no accidental words),
 *    10 characters, least significant first.
 *
 * Upstream hashes a Go-specific dump with FNV-1; its values cannot be reproduced outside Go, so a
 * cluster moving from upstream sees one full rollout.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Role } from "@kthena/shared/api";

const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/**
 * Canonical JSON: sorted keys, no whitespace, `undefined` members dropped.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./revision.ts";
 * canonicalJson({ b: 1, a: [true, { d: undefined, c: "x" }] }); // '{"a":[true,{"c":"x"}],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * Hashes any JSON value to a 10-character revision string.
 *
 * @example
 * ```ts
 * import { hashRevision } from "./revision.ts";
 * hashRevision({ a: 1 }).length; // 10
 * ```
 */
export function hashRevision(value: unknown): string {
  const digest = createHash("sha256").update(canonicalJson(value)).digest();
  let n = digest.readBigUInt64BE(0);
  let out = "";
  for (let i = 0; i < 10; i++) {
    out += ALPHABET[Number(n % 27n)];
    n /= 27n;
  }
  return out;
}

/** A role without the fields that do not affect its pods. */
function podShaping(role: Role): Omit<Role, "replicas" | "maxUnavailable" | "partition"> {
  const { replicas: _r, maxUnavailable: _m, partition: _p, ...rest } = role;
  return rest;
}

/**
 * The revision of a ModelServing: a hash of its roles' pod-shaping fields.
 *
 * @example
 * ```ts
 * import { modelServingRevision } from "./revision.ts";
 * modelServingRevision([]); // a 10-character string
 * ```
 */
export function modelServingRevision(roles: readonly Role[]): string {
  return hashRevision(roles.map(podShaping));
}

/**
 * The template hash of one role (what `RoleRollingUpdate` compares).
 *
 * @example
 * ```ts
 * import { roleTemplateHash } from "./revision.ts";
 * ```
 */
export function roleTemplateHash(role: Role): string {
  return hashRevision(podShaping(role));
}
