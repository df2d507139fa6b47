/**
 * {@linkcode ResourceClient}: the typed client of one of our custom kinds, built from its
 * registry entry (`shared/api/resources.ts`) on client-node's `CustomObjectsApi`. Every answer
 * is parsed with the kind's zod schema, so callers get the same typed, defaulted objects the
 * informers hold.
 *
 * @module
 */
import {
  type CustomObjectsApi,
  setHeaderOptions,
  type V1DeleteOptions,
} from "@kubernetes/client-node";
import type { ResourceKind } from "../api/mod.ts";
import { type ApiResource, customResource } from "./api_resource.ts";
import type { KubeObject } from "./object.ts";
import {
  type DeleteOptions,
  type ListOptions,
  type ListResult,
  ObjectClient,
  type ObjectOps,
  type PatchQuery,
  type PatchType,
} from "./object_client.ts";

interface RawList {
  items?: unknown[];
  metadata?: { resourceVersion?: string };
}

function customObjectOps<T extends KubeObject>(
  api: CustomObjectsApi,
  res: ApiResource<T>,
): ObjectOps<T> {
  const base = { group: res.group, version: res.version, plural: res.plural };
  const decode = (raw: unknown) => res.decode(raw);
  const contentType = (type: PatchType) => setHeaderOptions("Content-Type", type);
  return {
    async list(namespace: string | undefined, opts: ListOptions): Promise<ListResult<T>> {
      const q = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
      const raw: RawList = namespace
        ? await api.listNamespacedCustomObject({ ...base, namespace, ...q })
        : await api.listClusterCustomObject({ ...base, ...q });
      return {
        items: (raw.items ?? []).map(decode),
        resourceVersion: raw.metadata?.resourceVersion ?? "",
      };
    },
    async read(namespace: string, name: string): Promise<T> {
      return decode(await api.getNamespacedCustomObject({ ...base, namespace, name }));
    },
    async create(namespace: string, body: unknown): Promise<T> {
      return decode(await api.createNamespacedCustomObject({ ...base, namespace, body }));
    },
    async replace(namespace: string, name: string, body: unknown): Promise<T> {
      return decode(await api.replaceNamespacedCustomObject({ ...base, namespace, name, body }));
    },
    async patch(namespace, name, body, type: PatchType, query: PatchQuery): Promise<T> {
      return decode(
        await api.patchNamespacedCustomObject(
          { ...base, namespace, name, body, ...query },
          contentType(type),
        ),
      );
    },
    async delete(namespace, name, body: V1DeleteOptions, opts: DeleteOptions) {
      return await api.deleteNamespacedCustomObject({
        ...base,
        namespace,
        name,
        body,
        propagationPolicy: opts.propagationPolicy,
      });
    },
    async patchStatus(namespace, name, body, type: PatchType): Promise<T> {
      return decode(
        await api.patchNamespacedCustomObjectStatus(
          { ...base, namespace, name, body },
          contentType(type),
        ),
      );
    },
    async replaceStatus(namespace, name, body): Promise<T> {
      return decode(
        await api.replaceNamespacedCustomObjectStatus({ ...base, namespace, name, body }),
      );
    },
  };
}

/**
 * The client of one custom kind: list, get, create, replace, server-side apply, merge patch,
 * delete, and status writes through `/status` (merge patch, or a replace that fails with 409
 * on a stale resourceVersion). `T` is the kind's zod output type.
 */
export class ResourceClient<T extends KubeObject> extends ObjectClient<T> {
  /** The descriptor (group, version, plural, decoder) of the kind. */
  readonly resource: ApiResource<T>;

  /**
   * @param api client-node's CustomObjectsApi.
   * @param kind The registry entry of the kind.
   * @param defaultNamespace The namespace of objects that name none.
   * @example
   * ```ts ignore
   * import { CustomObjectsApi } from "@kubernetes/client-node";
   * import { MODEL_ROUTE, type ModelRoute } from "../api/mod.ts";
   * import { ResourceClient } from "./resource_client.ts";
   * const routes = new ResourceClient<ModelRoute>(kc.makeApiClient(CustomObjectsApi), MODEL_ROUTE);
   * const route = await routes.get("dev", "qwen");
   * route.spec.rules[0]?.targetModels[0]?.weight; // typed, defaulted
   * ```
   */
  constructor(api: CustomObjectsApi, readonly kindInfo: ResourceKind, defaultNamespace?: string) {
    const resource = customResource<T>(kindInfo);
    super(kindInfo.kind, customObjectOps(api, resource), defaultNamespace);
    this.resource = resource;
  }

  /** The `apiVersion` of this kind's objects. */
  get apiVersion(): string {
    return `${this.kindInfo.group}/${this.kindInfo.version}`;
  }
}
