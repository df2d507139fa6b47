/**
 * Descriptors of the API resources the runtime lists, watches and writes: where they live
 * (group, version, plural, scope) and how a raw JSON object becomes a typed one. Our custom
 * kinds come from the registry in `shared/api/resources.ts` and are parsed with their zod
 * schema; core kinds use client-node's model deserializer, so informer caches hold the same
 * shapes as the typed client calls return (e.g. `Date`s in `V1Pod.metadata`).
 *
 * @module
 */
import type {
  CoreV1Event,
  V1ControllerRevision,
  V1Lease,
  V1Pod,
  V1Service,
} from "@kubernetes/client-node";
// client-node does not re-export its model (de)serializer; the deep import is pinned by the
// exact version in the import map. It is what the typed API calls use on their answers.
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js";
import { formatIssues, type ResourceKind, ResourceValidationError } from "../api/mod.ts";
import type { KubeObject } from "./object.ts";

/** Where a resource lives in the API and how to decode its objects. */
export interface ApiResource<T extends KubeObject = KubeObject> {
  /** API group, `""` for core. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Turns one raw JSON object into `T`; throws when it does not fit. */
  decode(raw: unknown): T;
}

/**
 * `apiVersion` of a resource (`v1`, `apps/v1`, `networking.serving.volcano.sh/v1alpha1`).
 *
 * @example
 * ```ts
 * import { apiVersionOf, PODS } from "./api_resource.ts";
 * apiVersionOf(PODS); // "v1"
 * ```
 */
export function apiVersionOf(res: Pick<ApiResource, "group" | "version">): string {
  return res.group === "" ? res.version : `${res.group}/${res.version}`;
}

/**
 * The REST path of a collection, an object or an object's subresource.
 *
 * @example
 * ```ts
 * import { PODS, resourcePath } from "./api_resource.ts";
 * resourcePath(PODS, "dev"); // "/api/v1/namespaces/dev/pods"
 * resourcePath(PODS, "dev", "p", "status"); // "/api/v1/namespaces/dev/pods/p/status"
 * resourcePath(PODS); // "/api/v1/pods" (all namespaces)
 * ```
 */
export function resourcePath(
  res: Pick<ApiResource, "group" | "version" | "plural" | "namespaced">,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  let path = res.group === "" ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
  if (res.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${res.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

/**
 * The descriptor of one of our custom kinds; objects are parsed with the kind's zod schema
 * (API server defaults applied, unknown fields dropped). `T` is the schema's output type,
 * which the caller names (the registry's schemas are untyped).
 *
 * @example
 * ```ts
 * import { customResource } from "./api_resource.ts";
 * import { MODEL_ROUTE, type ModelRoute } from "../api/mod.ts";
 * const routes = customResource<ModelRoute>(MODEL_ROUTE);
 * routes.plural; // "modelroutes"
 * ```
 */
export function customResource<T extends KubeObject>(kind: ResourceKind): ApiResource<T> {
  return {
    group: kind.group,
    version: kind.version,
    kind: kind.kind,
    plural: kind.plural,
    namespaced: true,
    decode(raw: unknown): T {
      const result = kind.schema.safeParse(raw);
      if (result.success) return result.data as T;
      const name = (raw as KubeObject | undefined)?.metadata?.name ?? "";
      throw new ResourceValidationError(
        `${kind.kind} ${JSON.stringify(name)}`,
        formatIssues(result.error),
      );
    },
  };
}

function coreResource<T extends KubeObject>(
  group: string,
  version: string,
  kind: string,
  plural: string,
  typeName: string,
): ApiResource<T> {
  return {
    group,
    version,
    kind,
    plural,
    namespaced: true,
    decode(raw: unknown): T {
      if (typeof raw !== "object" || raw === null) throw new TypeError(`not a ${kind}: ${raw}`);
      return ObjectSerializer.deserialize(raw, typeName, "") as T;
    },
  };
}

/** core/v1 Pods. */
export const PODS: ApiResource<V1Pod> = coreResource("", "v1", "Pod", "pods", "V1Pod");
/** core/v1 Services. */
export const SERVICES: ApiResource<V1Service> = coreResource(
  "",
  "v1",
  "Service",
  "services",
  "V1Service",
);
/** core/v1 Events. */
export const EVENTS: ApiResource<CoreV1Event> = coreResource(
  "",
  "v1",
  "Event",
  "events",
  "CoreV1Event",
);
/** coordination.k8s.io/v1 Leases. */
export const LEASES: ApiResource<V1Lease> = coreResource(
  "coordination.k8s.io",
  "v1",
  "Lease",
  "leases",
  "V1Lease",
);
/** apps/v1 ControllerRevisions. */
export const CONTROLLER_REVISIONS: ApiResource<V1ControllerRevision> = coreResource(
  "apps",
  "v1",
  "ControllerRevision",
  "controllerrevisions",
  "V1ControllerRevision",
);
