/**
 * Parsing custom resources from YAML or plain objects, with errors that name the object and
 * the field, as `kubectl` would.
 *
 * @module
 */
import { parseAllDocuments } from "yaml";
import type { ObjectMeta } from "./common.ts";
import { findKind, type ResourceKind } from "./resources.ts";
import { formatIssues } from "./schema.ts";

/** A custom resource that parsed, with the registry entry of its kind. */
export interface ParsedResource {
  kind: ResourceKind;
  /** The object with defaults applied and unknown fields dropped. */
  object: {
    apiVersion: string;
    kind: string;
    metadata: ObjectMeta;
    spec?: unknown;
    status?: unknown;
  };
}

/** Raised when an object does not match its schema; `problems` has one line per field. */
export class ResourceValidationError extends Error {
  /**
   * @param subject What was parsed, e.g. `ModelRoute "qwen"`.
   * @param problems One message per problem, each starting with the field path.
   */
  constructor(readonly subject: string, readonly problems: string[]) {
    super(`${subject} is invalid:\n  - ${problems.join("\n  - ")}`);
    this.name = "ResourceValidationError";
  }
}

/**
 * Parses one object of any registered kind.
 *
 * @throws {ResourceValidationError} when the kind is unknown or a field is invalid.
 * @example
 * ```ts
 * import { parseResource } from "./parse.ts";
 * const { kind, object } = parseResource({
 *   apiVersion: "networking.serving.volcano.sh/v1alpha1",
 *   kind: "ModelRoute",
 *   metadata: { name: "r" },
 *   spec: { modelName: "m", rules: [{ targetModels: [{ modelServerName: "s" }] }] },
 * });
 * ```
 */
export function parseResource(value: unknown): ParsedResource {
  const obj = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const apiVersion = String(obj.apiVersion ?? "");
  const kindName = String(obj.kind ?? "");
  const name = (obj.metadata as { name?: unknown } | undefined)?.name;
  const subject = `${kindName || "object"} ${JSON.stringify(String(name ?? ""))}`;
  const kind = findKind(apiVersion, kindName);
  if (!kind) {
    throw new ResourceValidationError(subject, [
      `apiVersion/kind: unknown kind ${JSON.stringify(`${apiVersion}, ${kindName}`)}`,
    ]);
  }
  const result = kind.schema.safeParse(value);
  if (!result.success) throw new ResourceValidationError(subject, formatIssues(result.error));
  return { kind, object: result.data as ParsedResource["object"] };
}

/**
 * Reads every document of a (multi-document) Kubernetes YAML text, with YAML 1.1 rules as
 * kubectl applies them (`yes` is a boolean, `0644` is octal). Empty documents are skipped.
 *
 * @throws {Error} on a YAML syntax error, naming the line.
 * @example
 * ```ts
 * import { readYamlDocuments } from "./parse.ts";
 * readYamlDocuments("a: 1\n---\nb: 2\n"); // [{ a: 1 }, { b: 2 }]
 * ```
 */
export function readYamlDocuments(text: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: "1.1", merge: true })) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("; "));
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}
