/**
 * Kubernetes-flavoured building blocks for zod schemas.
 *
 * Every custom resource is described once, with zod. The same schema parses objects at run time
 * (defaults applied, unknown fields dropped, the way the API server prunes them) and is turned
 * into the CRD's structural OpenAPI schema by {@linkcode ./crd.ts}. The helpers here attach the
 * OpenAPI extensions that zod has no word for (`x-kubernetes-int-or-string`, CEL rules, list
 * types) as zod metadata, so the two uses cannot drift apart.
 *
 * @module
 */
import { z } from "zod";

/** Metadata key under which a schema names a vendored Kubernetes type (see `k8s_types.ts`). */
export const K8S_REF = "x-kthena-k8s-ref";

/**
 * A CEL validation rule (`x-kubernetes-validations`) with, where possible, its run-time twin.
 *
 * `check` receives the value the rule is attached to (CEL's `self`) and must agree with `rule`;
 * the integration tests run invalid objects through both the real API server and zod to keep
 * them in step. Transition rules (those using `oldSelf`) have no `check`: only an update can
 * evaluate them.
 */
export interface CelRule<T> {
  /** The CEL expression, evaluated by the API server. */
  rule: string;
  /** The message the API server and the run-time parser both report. */
  message: string;
  /** A JSON path, relative to `self`, that the error should point at (e.g. `.workerTemplate`). */
  fieldPath?: string;
  /**
   * The path the run-time parser reports, when it cannot be the CEL `fieldPath` (CEL cannot
   * point into `metadata`). Defaults to `fieldPath`.
   */
  reportPath?: string;
  /** The run-time equivalent of `rule`; absent for transition rules. */
  check?: (self: T) => boolean;
}

/**
 * Attaches CEL rules to a schema: as `x-kubernetes-validations` for the CRD and as zod
 * refinements for run-time parsing.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { withRules } from "./schema.ts";
 * const Range = withRules(z.object({ min: z.int(), max: z.int() }), [{
 *   rule: "self.min <= self.max",
 *   message: "min must not exceed max",
 *   check: (r) => r.min <= r.max,
 * }]);
 * Range.parse({ min: 1, max: 2 });
 * ```
 */
export function withRules<S extends z.ZodType>(schema: S, rules: CelRule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (r.check && !r.check(value)) {
        ctx.addIssue({
          code: "custom",
          message: r.message,
          path: fieldPathToZod(r.reportPath ?? r.fieldPath),
        });
      }
    }
  });
  return refined.meta({
    "x-kubernetes-validations": rules.map((r) => ({
      rule: r.rule,
      message: r.message,
      ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
    })),
  }) as S;
}

/** Turns a CEL `fieldPath` such as `.spec.workerTemplate` into a zod issue path. */
function fieldPathToZod(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split(".").filter((p) => p !== "") : [];
}

/**
 * A 32-bit integer (`format: int32`).
 *
 * @example
 * ```ts
 * import { int32 } from "./schema.ts";
 * int32().min(0).parse(3);
 * ```
 */
export function int32(): z.ZodInt32 {
  return z.int32().meta({ format: "int32" });
}

/**
 * A 64-bit integer (`format: int64`), limited to JavaScript's safe integers.
 *
 * @example
 * ```ts
 * import { int64 } from "./schema.ts";
 * int64().parse(60);
 * ```
 */
export function int64(): z.ZodInt {
  return z.int().meta({ format: "int64" });
}

/** The value of an int-or-string field: a number, or a string such as `"25%"`. */
export type IntOrString = number | string;

/**
 * An int-or-string field (`x-kubernetes-int-or-string`). `pattern` constrains the string form.
 *
 * @example
 * ```ts
 * import { intOrString } from "./schema.ts";
 * intOrString({ pattern: /^\d+%$/ }).parse("25%");
 * ```
 */
export function intOrString(
  opts: { pattern?: RegExp; min?: number; patternMessage?: string; maxLength?: number } = {},
): z.ZodType<IntOrString> {
  const int = opts.min === undefined ? z.int() : z.int().min(opts.min);
  let str = opts.pattern
    ? z.string().regex(opts.pattern, opts.patternMessage ? { message: opts.patternMessage } : {})
    : z.string();
  if (opts.maxLength !== undefined) str = str.max(opts.maxLength);
  return z.union([int, str]).meta({
    "x-kubernetes-int-or-string": true,
    ...(opts.pattern ? { pattern: opts.pattern.source } : {}),
    ...(opts.min !== undefined ? { minimum: opts.min } : {}),
    ...(opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
  });
}

/** An int-or-string holding a count or a percentage from 0% to 100% (`maxUnavailable`, `partition`). */
export function countOrPercent(): z.ZodType<IntOrString> {
  return intOrString({
    pattern: /^(100|[1-9]?[0-9])%$/,
    min: 0,
    patternMessage: "must be a non-negative integer or a percentage between 0% and 100%",
  });
}

/** The regular expression of a Kubernetes resource quantity (`resource.Quantity`). */
export const QUANTITY_PATTERN =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/**
 * A resource quantity such as `"100m"`, `"1Gi"` or `2`.
 *
 * @example
 * ```ts
 * import { quantity } from "./schema.ts";
 * quantity().parse("500m");
 * ```
 */
export function quantity(): z.ZodType<IntOrString> {
  // The length bound keeps CEL rules that parse quantities within the API server's cost budget.
  return intOrString({
    pattern: QUANTITY_PATTERN,
    patternMessage: "must be a quantity",
    maxLength: 64,
  });
}

/** The regular expression of a Go `time.Duration` string (`metav1.Duration`), e.g. `1m30s`. */
export const DURATION_PATTERN = /^(0|(([0-9]+(\.[0-9]+)?)(ns|us|µs|ms|s|m|h))+)$/;

/**
 * A duration in Go's notation (`"10s"`, `"100ms"`, `"1h30m"`), as `metav1.Duration` serialises.
 *
 * @example
 * ```ts
 * import { duration } from "./schema.ts";
 * duration().parse("15s");
 * ```
 */
export function duration(): z.ZodString {
  return z.string().regex(DURATION_PATTERN, {
    message: "must be a duration such as 500ms, 10s or 1m30s",
  });
}

/**
 * A free-form JSON object kept as it is (`x-kubernetes-preserve-unknown-fields`).
 *
 * @example
 * ```ts
 * import { freeForm } from "./schema.ts";
 * freeForm().parse({ "max-model-len": 8192 });
 * ```
 */
export function freeForm(): z.ZodType<Record<string, unknown>> {
  return z.record(z.string(), z.unknown()).meta({ "x-kubernetes-preserve-unknown-fields": true });
}

/**
 * A string-to-string map (labels, annotations, label selectors).
 *
 * @example
 * ```ts
 * import { stringMap } from "./schema.ts";
 * stringMap().parse({ app: "x" });
 * ```
 */
export function stringMap(): z.ZodType<Record<string, string>> {
  return z.record(z.string(), z.string());
}

/**
 * A field whose schema is a built-in Kubernetes type (a PodSpec, ResourceRequirements, …).
 *
 * At run time the value is only checked to be an object of the expected shape in TypeScript:
 * the API server has validated it already. In the CRD the vendored OpenAPI schema of the
 * Kubernetes version we pin is inlined (see `k8s_types.ts`).
 *
 * @example
 * ```ts
 * import type { V1ResourceRequirements } from "@kubernetes/client-node";
 * import { k8sType } from "./schema.ts";
 * const Resources = k8sType<V1ResourceRequirements>("io.k8s.api.core.v1.ResourceRequirements");
 * Resources.parse({ limits: { cpu: "1" } });
 * ```
 */
export function k8sType<T extends object>(name: string): z.ZodType<T> {
  return z.custom<T>((v) => typeof v === "object" && v !== null && !Array.isArray(v), {
    message: `must be an object (${name.split(".").pop()})`,
  }).meta({ [K8S_REF]: name });
}

/**
 * A list of Kubernetes objects of one type (`tolerations`, `env`, …), with the list type the
 * Kubernetes API declares.
 *
 * @example
 * ```ts
 * import type { V1EnvVar } from "@kubernetes/client-node";
 * import { k8sList } from "./schema.ts";
 * k8sList<V1EnvVar>("io.k8s.api.core.v1.EnvVar", { mapKey: "name" }).parse([{ name: "A" }]);
 * ```
 */
export function k8sList<T extends object>(
  name: string,
  opts: { mapKey?: string } = {},
): z.ZodType<T[]> {
  const listMeta = opts.mapKey
    ? { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [opts.mapKey] }
    : { "x-kubernetes-list-type": "atomic" };
  const base = z.array(k8sType<T>(name));
  if (!opts.mapKey) return base.meta(listMeta);
  const key = opts.mapKey;
  return base.superRefine((items, ctx) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      const v = (item as Record<string, unknown>)[key];
      if (seen.has(v)) {
        ctx.addIssue({
          code: "custom",
          message: `Duplicate value: ${key}=${String(v)}`,
          path: [i],
        });
      }
      seen.add(v);
    });
  }).meta(listMeta);
}

/**
 * Turns a zod error into one line per problem, each naming the field the way `kubectl` does:
 * `spec.template.roles[0].name: Invalid string: …`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { formatIssues } from "./schema.ts";
 * const r = z.object({ a: z.int() }).safeParse({ a: "x" });
 * if (!r.success) console.log(formatIssues(r.error));
 * ```
 */
export function formatIssues(error: z.ZodError, prefix = ""): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path, prefix);
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

/** Renders a zod path as a JSON field path: `["spec", "roles", 0, "name"]` → `spec.roles[0].name`. */
export function formatPath(path: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}
