/**
 * {@linkcode KubeClient}: everything a program needs to talk to the API server, made from one
 * KubeConfig — client-node's generated API clients (`core`, `apps`, `coordination`,
 * `customObjects`), typed clients of the core kinds the controllers write (pods, services,
 * events, leases, ControllerRevisions), a {@linkcode ResourceClient} per custom kind, and the
 * Deno-fetch {@linkcode KubeTransport} the informers list and watch through.
 *
 * @module
 */
import {
  AppsV1Api,
  type ConfigurationOptions,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  type KubeConfig,
  setHeaderOptions,
  type V1ControllerRevision,
  type V1DeleteOptions,
  type V1Lease,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import type { ResourceKind } from "../api/mod.ts";
import { currentNamespace, loadKubeConfig, type LoadKubeConfigOptions } from "./kubeconfig.ts";
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
import { ResourceClient } from "./resource_client.ts";
import type { ApiResource } from "./api_resource.ts";
import { Informer, type InformerOptions } from "./informer.ts";
import { KubeTransport } from "./transport.ts";

interface NsParam {
  namespace: string;
}
interface NameParam extends NsParam {
  name: string;
}
interface SelectorParam {
  labelSelector?: string;
  fieldSelector?: string;
}
interface ListLike<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

/** The client-node methods of one core kind, in object-parameter style. */
interface CoreMethods<T> {
  list(p: NsParam & SelectorParam): Promise<ListLike<T>>;
  listAll(p: SelectorParam): Promise<ListLike<T>>;
  read(p: NameParam): Promise<T>;
  create(p: NsParam & { body: T }): Promise<T>;
  replace(p: NameParam & { body: T }): Promise<T>;
  patch(p: NameParam & PatchQuery & { body: unknown }, o?: ConfigurationOptions): Promise<T>;
  delete(p: NameParam & { body?: V1DeleteOptions; propagationPolicy?: string }): Promise<unknown>;
  deleteCollection(p: NsParam & SelectorParam): Promise<unknown>;
  patchStatus?(p: NameParam & { body: unknown }, o?: ConfigurationOptions): Promise<T>;
  replaceStatus?(p: NameParam & { body: T }): Promise<T>;
}

function coreOps<T>(m: CoreMethods<T>): ObjectOps<T> {
  const contentType = (type: PatchType) => setHeaderOptions("Content-Type", type);
  const selectors = (o: ListOptions): SelectorParam => ({
    labelSelector: o.labelSelector,
    fieldSelector: o.fieldSelector,
  });
  const patchStatus = m.patchStatus;
  const replaceStatus = m.replaceStatus;
  return {
    async list(namespace: string | undefined, opts: ListOptions): Promise<ListResult<T>> {
      const l = namespace
        ? await m.list({ namespace, ...selectors(opts) })
        : await m.listAll(selectors(opts));
      return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
    },
    read: (namespace, name) => m.read({ namespace, name }),
    // Bodies are typed loosely on our side (partial objects); the API server validates them.
    create: (namespace, body) => m.create({ namespace, body: body as T }),
    replace: (namespace, name, body) => m.replace({ namespace, name, body: body as T }),
    patch: (namespace, name, body, type, query) =>
      m.patch({ namespace, name, body, ...query }, contentType(type)),
    delete: (namespace, name, body: V1DeleteOptions, opts: DeleteOptions) =>
      m.delete({ namespace, name, body, propagationPolicy: opts.propagationPolicy }),
    deleteCollection: (namespace, opts) => m.deleteCollection({ namespace, ...selectors(opts) }),
    patchStatus: patchStatus
      ? (namespace, name, body, type) => patchStatus({ namespace, name, body }, contentType(type))
      : undefined,
    replaceStatus: replaceStatus
      ? (namespace, name, body) => replaceStatus({ namespace, name, body: body as T })
      : undefined,
  };
}

/** The API clients of one cluster. */
export class KubeClient {
  /** The configuration everything here was made from. */
  readonly kubeConfig: KubeConfig;
  /** The namespace of the current context (or the pod's own, in-cluster). */
  readonly namespace: string;
  /** Deno-fetch HTTP to the API server, for lists and watches. */
  readonly transport: KubeTransport;
  /** client-node's core/v1 API. */
  readonly core: CoreV1Api;
  /** client-node's apps/v1 API. */
  readonly apps: AppsV1Api;
  /** client-node's coordination.k8s.io/v1 API. */
  readonly coordination: CoordinationV1Api;
  /** client-node's API for custom resources. */
  readonly customObjects: CustomObjectsApi;
  /** Pods (with `status` writes, as tests play the kubelet). */
  readonly pods: ObjectClient<V1Pod>;
  /** Services. */
  readonly services: ObjectClient<V1Service>;
  /** core/v1 Events. */
  readonly events: ObjectClient<CoreV1Event>;
  /** coordination.k8s.io/v1 Leases. */
  readonly leases: ObjectClient<V1Lease>;
  /** apps/v1 ControllerRevisions. */
  readonly controllerRevisions: ObjectClient<V1ControllerRevision>;
  readonly #resources = new Map<ResourceKind, ResourceClient<KubeObject>>();

  /**
   * @param kc A loaded KubeConfig (see {@linkcode loadKubeConfig}).
   * @example
   * ```ts ignore
   * import { KubeClient, loadKubeConfig } from "./mod.ts";
   * const client = new KubeClient(loadKubeConfig({ path: "/tmp/kubeconfig" }));
   * const { items } = await client.pods.list({ namespace: "dev" });
   * ```
   */
  constructor(kc: KubeConfig) {
    this.kubeConfig = kc;
    this.namespace = currentNamespace(kc);
    this.transport = new KubeTransport(kc);
    const core = this.core = kc.makeApiClient(CoreV1Api);
    const apps = this.apps = kc.makeApiClient(AppsV1Api);
    const coord = this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.customObjects = kc.makeApiClient(CustomObjectsApi);
    const ns = this.namespace;
    this.pods = new ObjectClient<V1Pod>(
      "Pod",
      coreOps<V1Pod>({
        list: (p) => core.listNamespacedPod(p),
        listAll: (p) => core.listPodForAllNamespaces(p),
        read: (p) => core.readNamespacedPod(p),
        create: (p) => core.createNamespacedPod(p),
        replace: (p) => core.replaceNamespacedPod(p),
        patch: (p, o) => core.patchNamespacedPod(p, o),
        delete: (p) => core.deleteNamespacedPod(p),
        deleteCollection: (p) => core.deleteCollectionNamespacedPod(p),
        patchStatus: (p, o) => core.patchNamespacedPodStatus(p, o),
        replaceStatus: (p) => core.replaceNamespacedPodStatus(p),
      }),
      ns,
    );
    this.services = new ObjectClient<V1Service>(
      "Service",
      coreOps<V1Service>({
        list: (p) => core.listNamespacedService(p),
        listAll: (p) => core.listServiceForAllNamespaces(p),
        read: (p) => core.readNamespacedService(p),
        create: (p) => core.createNamespacedService(p),
        replace: (p) => core.replaceNamespacedService(p),
        patch: (p, o) => core.patchNamespacedService(p, o),
        delete: (p) => core.deleteNamespacedService(p),
        deleteCollection: (p) => core.deleteCollectionNamespacedService(p),
      }),
      ns,
    );
    this.events = new ObjectClient<CoreV1Event>(
      "Event",
      coreOps<CoreV1Event>({
        list: (p) => core.listNamespacedEvent(p),
        listAll: (p) => core.listEventForAllNamespaces(p),
        read: (p) => core.readNamespacedEvent(p),
        create: (p) => core.createNamespacedEvent(p),
        replace: (p) => core.replaceNamespacedEvent(p),
        patch: (p, o) => core.patchNamespacedEvent(p, o),
        delete: (p) => core.deleteNamespacedEvent(p),
        deleteCollection: (p) => core.deleteCollectionNamespacedEvent(p),
      }),
      ns,
    );
    this.leases = new ObjectClient<V1Lease>(
      "Lease",
      coreOps<V1Lease>({
        list: (p) => coord.listNamespacedLease(p),
        listAll: (p) => coord.listLeaseForAllNamespaces(p),
        read: (p) => coord.readNamespacedLease(p),
        create: (p) => coord.createNamespacedLease(p),
        replace: (p) => coord.replaceNamespacedLease(p),
        patch: (p, o) => coord.patchNamespacedLease(p, o),
        delete: (p) => coord.deleteNamespacedLease(p),
        deleteCollection: (p) => coord.deleteCollectionNamespacedLease(p),
      }),
      ns,
    );
    this.controllerRevisions = new ObjectClient<V1ControllerRevision>(
      "ControllerRevision",
      coreOps<V1ControllerRevision>({
        list: (p) => apps.listNamespacedControllerRevision(p),
        listAll: (p) => apps.listControllerRevisionForAllNamespaces(p),
        read: (p) => apps.readNamespacedControllerRevision(p),
        create: (p) => apps.createNamespacedControllerRevision(p),
        replace: (p) => apps.replaceNamespacedControllerRevision(p),
        patch: (p, o) => apps.patchNamespacedControllerRevision(p, o),
        delete: (p) => apps.deleteNamespacedControllerRevision(p),
        deleteCollection: (p) => apps.deleteCollectionNamespacedControllerRevision(p),
      }),
      ns,
    );
  }

  /**
   * Loads a KubeConfig (explicit path, `$KUBECONFIG`, in-cluster, `~/.kube/config`) and makes
   * a client of it.
   *
   * @example
   * ```ts ignore
   * import { KubeClient } from "./client.ts";
   * const client = KubeClient.load({ path: Deno.env.get("KUBECONFIG") });
   * ```
   */
  static load(opts: LoadKubeConfigOptions = {}): KubeClient {
    return new KubeClient(loadKubeConfig(opts));
  }

  /**
   * The typed client of a custom kind (one per kind, cached). `T` is the kind's zod type.
   *
   * @example
   * ```ts ignore
   * import { MODEL_ROUTE, type ModelRoute } from "../api/mod.ts";
   * const routes = client.resource<ModelRoute>(MODEL_ROUTE);
   * await routes.list({ namespace: "dev" });
   * ```
   */
  resource<T extends KubeObject>(kind: ResourceKind): ResourceClient<T> {
    let rc = this.#resources.get(kind);
    if (!rc) {
      rc = new ResourceClient<KubeObject>(this.customObjects, kind, this.namespace);
      this.#resources.set(kind, rc);
    }
    return rc as ResourceClient<T>;
  }

  /**
   * A new (not yet started) informer of a resource, on this client's transport.
   *
   * @example
   * ```ts ignore
   * import { customResource, PODS } from "./mod.ts";
   * import { MODEL_ROUTE, type ModelRoute } from "../api/mod.ts";
   * const pods = client.informer(PODS, { namespace: "dev", labelSelector: "app=x" });
   * const routes = client.informer(customResource<ModelRoute>(MODEL_ROUTE));
   * pods.start();
   * routes.start();
   * ```
   */
  informer<T extends KubeObject>(
    resource: ApiResource<T>,
    opts: InformerOptions<T> = {},
  ): Informer<T> {
    return new Informer(this.transport, resource, opts);
  }

  /**
   * Releases the Deno HTTP client of the transport (informers must be stopped first).
   *
   * @example
   * ```ts ignore
   * client.close();
   * ```
   */
  close(): void {
    this.transport.close();
  }
}
