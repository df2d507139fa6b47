/**
 * Regenerates `shared/api/k8s_openapi.json`: the structural OpenAPI schemas of the built-in
 * Kubernetes types our CRDs embed (PodSpec, ResourceRequirements, Affinity, …).
 *
 * controller-gen inlines these from the Go types; we take them from the OpenAPI v3 document of
 * the Kubernetes version the test cluster pins (`tests/cluster/tools/go.mod`), found in the Go
 * module cache, and make them structural: `$ref`s inlined, descriptions and Go zero-value
 * defaults dropped, `IntOrString`/`Quantity` turned into `x-kubernetes-int-or-string`.
 *
 * Run with `deno run -A manifests/update_k8s_openapi.ts` after changing the pinned version, then
 * `deno task manifests`. Needs Go and the module (`go mod download` in tests/cluster/tools).
 *
 * @module
 */

/** The types embedded in our CRDs. */
export const EMBEDDED_TYPES = [
  "io.k8s.api.core.v1.PodSpec",
  "io.k8s.api.core.v1.ResourceRequirements",
  "io.k8s.api.core.v1.Affinity",
  "io.k8s.api.core.v1.Toleration",
  "io.k8s.api.core.v1.EnvVar",
  "io.k8s.api.core.v1.EnvFromSource",
  "io.k8s.api.core.v1.ObjectReference",
  "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: Json };

/** Keys of OpenAPI that a CRD's structural schema may carry. */
const KEEP = new Set([
  "type",
  "format",
  "properties",
  "items",
  "required",
  "enum",
  "additionalProperties",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "pattern",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
]);

/**
 * Lists that the Kubernetes OpenAPI declares as maps but that Pod validation accepts with
 * duplicate keys (two hostAliases with one IP, an env name given twice). A CRD enforces map keys
 * as unique, so copied as they are they would reject pod templates that Pods accept (upstream
 * Kthena's bug volcano-sh/kthena#680). They are atomic lists in our CRDs.
 */
const ATOMIC_IN_CRDS = new Set(["hostAliases", "env", "ports", "imagePullSecrets"]);

const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const QUANTITY_PATTERN =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

/**
 * Makes one named schema structural, inlining everything it refers to.
 *
 * @example
 * ```ts
 * import { structural } from "./update_k8s_openapi.ts";
 * const s = structural({ A: { type: "object", properties: { b: { type: "string" } } } }, "A");
 * ```
 */
export function structural(all: Record<string, Schema>, name: string): Schema {
  return inline(all, { $ref: `#/components/schemas/${name}` }, []);
}

function inline(all: Record<string, Schema>, s: Schema, stack: string[]): Schema {
  const ref = refName(s);
  if (ref) {
    if (ref === INT_OR_STRING) return intOrString();
    if (ref === QUANTITY) return { ...intOrString(), pattern: QUANTITY_PATTERN };
    // A recursive type cannot be inlined; keep it open (none of the embedded types recurse today).
    if (stack.includes(ref)) {
      return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    }
    const target = all[ref];
    if (!target) throw new Error(`unknown schema ${ref}`);
    return inline(all, target, [...stack, ref]);
  }
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (!KEEP.has(k)) continue;
    if (k === "properties") {
      const props: Schema = {};
      for (const [pk, pv] of Object.entries(v as Schema)) {
        const prop = inline(all, pv as Schema, stack);
        if (ATOMIC_IN_CRDS.has(pk) && prop["x-kubernetes-list-type"] === "map") {
          prop["x-kubernetes-list-type"] = "atomic";
          delete prop["x-kubernetes-list-map-keys"];
        }
        props[pk] = prop;
      }
      out[k] = props;
    } else if (k === "items" || k === "additionalProperties") {
      out[k] = typeof v === "object" && v !== null ? inline(all, v as Schema, stack) : v;
    } else {
      out[k] = v;
    }
  }
  // Go zero-value defaults ("", 0, {}) are noise in a CRD, but a list-map key that is not
  // required must keep its default or the API server refuses the schema (ContainerPort.protocol).
  if (out.type === "array" && Array.isArray(out["x-kubernetes-list-map-keys"])) {
    const items = out.items as Schema;
    const source = all[refName(s.items as Schema) ?? ""] ?? (s.items as Schema);
    const required = new Set((items.required as string[] | undefined) ?? []);
    for (const key of out["x-kubernetes-list-map-keys"] as string[]) {
      const def = ((source?.properties as Schema | undefined)?.[key] as Schema | undefined)
        ?.default;
      if (!required.has(key) && def !== undefined) {
        ((items.properties as Schema)[key] as Schema).default = def;
      }
    }
  }
  if (out.type === "object" && !out.properties && !out.additionalProperties) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  return out;
}

/** Resolves `{$ref}` and the `{allOf: [{$ref}]}` form OpenAPI v3 uses for a ref with siblings. */
function refName(s: Schema | undefined): string | undefined {
  if (!s) return undefined;
  if (typeof s.$ref === "string") return s.$ref.split("/").pop();
  const allOf = s.allOf as Schema[] | undefined;
  if (allOf?.length === 1 && typeof allOf[0]?.$ref === "string") {
    return (allOf[0].$ref as string).split("/").pop();
  }
  return undefined;
}

function intOrString(): Schema {
  return {
    "x-kubernetes-int-or-string": true,
    anyOf: [{ type: "integer" }, { type: "string" }],
  };
}

async function kubernetesVersion(): Promise<string> {
  const gomod = await Deno.readTextFile(
    new URL("../tests/cluster/tools/go.mod", import.meta.url),
  );
  const m = gomod.match(/^\s*k8s\.io\/kubernetes (v\S+)/m);
  if (!m?.[1]) throw new Error("k8s.io/kubernetes not found in tests/cluster/tools/go.mod");
  return m[1];
}

async function goModCache(): Promise<string> {
  const out = await new Deno.Command("go", { args: ["env", "GOMODCACHE"] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

if (import.meta.main) {
  const version = await kubernetesVersion();
  const file =
    `${await goModCache()}/k8s.io/kubernetes@${version}/api/openapi-spec/v3/api__v1_openapi.json`;
  const doc = JSON.parse(await Deno.readTextFile(file)) as {
    components: { schemas: Record<string, Schema> };
  };
  const out: Record<string, Json> = { kubernetesVersion: version };
  for (const name of EMBEDDED_TYPES) out[name] = structural(doc.components.schemas, name);
  const target = new URL("../shared/api/k8s_openapi.json", import.meta.url);
  await Deno.writeTextFile(target, JSON.stringify(out, null, 2) + "\n");
  // deno-lint-ignore no-console
  console.log(`wrote ${target.pathname} from Kubernetes ${version}`);
}
