/**
 * Generates CustomResourceDefinitions from the zod schemas in the resource registry.
 *
 * zod writes JSON Schema; a CRD needs a *structural* OpenAPI v3 schema. The conversion is a
 * small tree rewrite, written here because no library does this particular mapping:
 * - fields that name a built-in Kubernetes type (a PodSpec, …) get the vendored schema of the
 *   Kubernetes version we pin (`k8s_openapi.json`);
 * - int-or-string unions become `x-kubernetes-int-or-string` with the standard `anyOf`;
 * - free-form objects keep `x-kubernetes-preserve-unknown-fields` and lose zod's
 *   `additionalProperties: {}`;
 * - the implicit bounds zod adds to `int32()`/`int()` are dropped, `const` becomes `enum`.
 *
 * @module
 */
import { z } from "zod";
import k8sOpenApi from "./k8s_openapi.json" with { type: "json" };
import { K8S_REF } from "./schema.ts";
import type { ResourceKind } from "./resources.ts";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** A JSON (Schema) object. */
export type JsonObject = { [k: string]: Json };

const VENDORED = k8sOpenApi as unknown as Record<string, JsonObject>;
const INT32 = [-2147483648, 2147483647];
const SAFE = [-9007199254740991, 9007199254740991];

/**
 * The structural OpenAPI v3 schema of a zod schema, as a CRD embeds it.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { structuralSchema } from "./crd.ts";
 * structuralSchema(z.object({ size: z.int().min(0) }));
 * // { type: "object", properties: { size: { type: "integer", minimum: 0 } }, required: ["size"] }
 * ```
 */
export function structuralSchema(schema: z.ZodType): JsonObject {
  const raw = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    unrepresentable: "any",
    reused: "inline",
  }) as JsonObject;
  delete raw.$schema;
  return normalise(raw);
}

function normalise(node: JsonObject): JsonObject {
  const ref = node[K8S_REF];
  if (typeof ref === "string") return vendored(node, ref);

  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "properties") {
      out[k] = Object.fromEntries(
        Object.entries(v as JsonObject).map(([pk, pv]) => [pk, normalise(pv as JsonObject)]),
      );
    } else if (k === "items" && isObject(v)) {
      out[k] = normalise(v);
    } else if (k === "additionalProperties" && isObject(v)) {
      out[k] = normalise(v);
    } else if (k === "const") {
      out.enum = [v];
    } else if (k === "propertyNames") {
      // Not allowed in a CRD; map keys are free strings there.
    } else {
      out[k] = v;
    }
  }

  if (out["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (out["x-kubernetes-preserve-unknown-fields"] === true) {
    out.type = "object";
    delete out.additionalProperties;
  }
  if (out.additionalProperties === false) delete out.additionalProperties;
  if (isObject(out.additionalProperties) && Object.keys(out.additionalProperties).length === 0) {
    // A loose object (kept fields of any type).
    delete out.additionalProperties;
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  dropImplicitBounds(out);
  return out;
}

/** Replaces a node by the vendored schema of a Kubernetes type, keeping our own annotations. */
function vendored(node: JsonObject, ref: string): JsonObject {
  const schema = VENDORED[ref];
  if (!schema) {
    throw new Error(`no vendored schema for ${ref}; run manifests/update_k8s_openapi.ts`);
  }
  const out: JsonObject = structuredClone(schema);
  for (const key of ["description", "x-kubernetes-validations"]) {
    if (node[key] !== undefined) out[key] = node[key];
  }
  return out;
}

function dropImplicitBounds(s: JsonObject): void {
  if (s.type !== "integer") return;
  const bounds = s.format === "int32" ? INT32 : SAFE;
  if (s.minimum === bounds[0] || s.minimum === SAFE[0]) delete s.minimum;
  if (s.maximum === bounds[1] || s.maximum === SAFE[1]) delete s.maximum;
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The CustomResourceDefinition of one kind of the registry.
 *
 * @example
 * ```ts
 * import { crdFor } from "./crd.ts";
 * import { MODEL_ROUTE } from "./resources.ts";
 * crdFor(MODEL_ROUTE).metadata; // { name: "modelroutes.networking.serving.volcano.sh" }
 * ```
 */
export function crdFor(kind: ResourceKind): JsonObject {
  const root = structuralSchema(kind.schema);
  const props = root.properties as JsonObject;
  // The envelope is the API server's business: apiVersion/kind are plain strings and metadata is
  // validated by the server itself, so it must not carry a schema of ours.
  props.apiVersion = { type: "string" };
  props.kind = { type: "string" };
  props.metadata = { type: "object" };
  root.required = ((root.required as string[] | undefined) ?? []).filter((r) =>
    r === "spec" || r === "status"
  );
  if ((root.required as string[]).length === 0) delete root.required;

  const subresources: JsonObject = {};
  if (kind.subresources.status) subresources.status = {};
  if (kind.subresources.scale) subresources.scale = { ...kind.subresources.scale };

  const version: JsonObject = {
    name: kind.version,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: root },
    subresources,
  };
  if (kind.printerColumns.length > 0) {
    version.additionalPrinterColumns = kind.printerColumns.map((c) => ({ ...c }) as JsonObject);
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${kind.plural}.${kind.group}` },
    spec: {
      group: kind.group,
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular: kind.singular,
      },
      scope: "Namespaced",
      versions: [version],
    },
  };
}
