/**
 * {@linkcode ObjectClient}: one typed client shape for every kind the programs write — list,
 * get, create, replace, server-side apply, merge patch, delete (with UID/resourceVersion
 * preconditions), and `/status` writes where the kind has them. Each kind plugs in an
 * {@linkcode ObjectOps} built on client-node's generated API (see `client.ts` and
 * `resource_client.ts`); this class adds the uniform signatures and maps every failure to a
 * {@linkcode KubeError}.
 *
 * @module
 */
import type { V1DeleteOptions } from "@kubernetes/client-node";
import { isNotFound, toKubeError } from "./errors.ts";
import type { KubeObject } from "./object.ts";

/** A recursively optional `T`: what an apply or create body may leave out. */
export type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[]
  : T extends Date ? T
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : T;

/** An object to apply or create: any part of `T`, with at least a name. */
export type ObjectInput<T> = DeepPartial<T> & {
  metadata: { name: string; namespace?: string };
};

/** Selectors of a list or deleteCollection call. */
export interface ListOptions {
  /** A namespace; all namespaces when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** A list answer. */
export interface ListResult<T> {
  items: T[];
  /** The list's resourceVersion (a watch may start from it). */
  resourceVersion: string;
}

/** Server-side apply parameters. */
export interface ApplyOptions {
  /** The field manager: one per controller (e.g. `kthena-modelserving-controller`). */
  fieldManager: string;
  /** Take fields over from other managers instead of failing with 409. Default true. */
  force?: boolean;
}

/** Delete parameters. */
export interface DeleteOptions {
  /** Delete only if the object still has this UID (409 otherwise). */
  uid?: string;
  /** Delete only if the object still has this resourceVersion (409 otherwise). */
  resourceVersion?: string;
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
}

/** Patch content types. */
export type PatchType =
  | "application/merge-patch+json"
  | "application/json-patch+json"
  | "application/strategic-merge-patch+json"
  | "application/apply-patch+yaml";

/** Query parameters of a patch call. */
export interface PatchQuery {
  fieldManager?: string;
  force?: boolean;
}

/**
 * The per-kind operations an {@linkcode ObjectClient} is built on. Implementations call
 * client-node and return decoded objects; they may throw client-node's errors.
 */
export interface ObjectOps<T> {
  list(namespace: string | undefined, opts: ListOptions): Promise<ListResult<T>>;
  read(namespace: string, name: string): Promise<T>;
  create(namespace: string, body: unknown): Promise<T>;
  replace(namespace: string, name: string, body: unknown): Promise<T>;
  patch(
    namespace: string,
    name: string,
    body: unknown,
    type: PatchType,
    query: PatchQuery,
  ): Promise<T>;
  delete(
    namespace: string,
    name: string,
    body: V1DeleteOptions,
    opts: DeleteOptions,
  ): Promise<unknown>;
  deleteCollection?(namespace: string, opts: ListOptions): Promise<unknown>;
  patchStatus?(namespace: string, name: string, body: unknown, type: PatchType): Promise<T>;
  replaceStatus?(namespace: string, name: string, body: unknown): Promise<T>;
}

/**
 * Runs a client-node call and maps what it throws to a KubeError.
 *
 * @example
 * ```ts ignore
 * import { callApi } from "./object_client.ts";
 * const pod = await callApi(() => core.readNamespacedPod({ namespace: "dev", name: "p" }));
 * ```
 */
export async function callApi<R>(fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (e) {
    throw toKubeError(e);
  }
}

function nameOf(obj: { metadata?: { name?: string; namespace?: string } }, fallbackNs: string) {
  const name = obj.metadata?.name;
  if (!name) throw new TypeError("the object has no metadata.name");
  return { name, namespace: obj.metadata?.namespace ?? fallbackNs };
}

/** A typed client of one namespaced kind. */
export class ObjectClient<T extends KubeObject> {
  /**
   * @param kind The kind's name, for messages.
   * @param ops The kind's operations.
   * @param defaultNamespace The namespace of objects that name none.
   * @example
   * ```ts ignore
   * import { ObjectClient } from "./object_client.ts";
   * const pods = new ObjectClient("Pod", podOps, "default");
   * ```
   */
  constructor(
    readonly kind: string,
    protected readonly ops: ObjectOps<T>,
    readonly defaultNamespace = "default",
  ) {}

  /**
   * Lists objects, in one namespace or all.
   *
   * @example
   * ```ts ignore
   * const { items } = await client.pods.list({ namespace: "dev", labelSelector: "app=x" });
   * ```
   */
  list(opts: ListOptions = {}): Promise<ListResult<T>> {
    return callApi(() => this.ops.list(opts.namespace, opts));
  }

  /**
   * Reads one object.
   *
   * @throws {KubeError} 404 when absent.
   * @example
   * ```ts ignore
   * const pod = await client.pods.get("dev", "p");
   * ```
   */
  get(namespace: string, name: string): Promise<T> {
    return callApi(() => this.ops.read(namespace, name));
  }

  /**
   * Reads one object, or `undefined` when it does not exist.
   *
   * @example
   * ```ts ignore
   * const pod = await client.pods.find("dev", "p");
   * ```
   */
  async find(namespace: string, name: string): Promise<T | undefined> {
    try {
      return await this.get(namespace, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Creates an object.
   *
   * @throws {KubeError} 409 AlreadyExists, 422 Invalid.
   * @example
   * ```ts ignore
   * await client.services.create({ metadata: { name: "s", namespace: "dev" }, spec: { ports: [{ port: 80 }] } });
   * ```
   */
  create(obj: ObjectInput<T>): Promise<T> {
    const { namespace } = nameOf(obj, this.defaultNamespace);
    return callApi(() => this.ops.create(namespace, obj));
  }

  /**
   * Replaces an object (PUT). Its `metadata.resourceVersion` makes this a compare-and-swap: a
   * stale copy fails with 409.
   *
   * @example
   * ```ts ignore
   * const pod = await client.pods.get("dev", "p");
   * await client.pods.replace({ ...pod, metadata: { ...pod.metadata, labels: { a: "b" } } });
   * ```
   */
  replace(obj: T): Promise<T> {
    const { name, namespace } = nameOf(obj, this.defaultNamespace);
    return callApi(() => this.ops.replace(namespace, name, obj));
  }

  /**
   * Server-side apply: `PATCH ?fieldManager=…&force=true` with
   * `application/apply-patch+yaml`. Creates the object when absent; send the whole desired
   * state of the fields this manager owns (fields left out are released).
   *
   * @example
   * ```ts ignore
   * await client.services.apply(
   *   { apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: "dev" }, spec: { clusterIP: "None" } },
   *   { fieldManager: "kthena-modelserving-controller" },
   * );
   * ```
   */
  apply(
    obj: ObjectInput<T> & { apiVersion: string; kind: string },
    opts: ApplyOptions,
  ): Promise<T> {
    const { name, namespace } = nameOf(obj, this.defaultNamespace);
    return callApi(() =>
      this.ops.patch(namespace, name, obj, "application/apply-patch+yaml", {
        fieldManager: opts.fieldManager,
        force: opts.force ?? true,
      })
    );
  }

  /**
   * Patches an object (merge patch unless told otherwise).
   *
   * @example
   * ```ts ignore
   * await client.pods.patch("dev", "p", { metadata: { labels: { role: "decode" } } });
   * ```
   */
  patch(
    namespace: string,
    name: string,
    patch: unknown,
    type: Exclude<PatchType, "application/apply-patch+yaml"> = "application/merge-patch+json",
  ): Promise<T> {
    return callApi(() => this.ops.patch(namespace, name, patch, type, {}));
  }

  /**
   * Deletes an object; `uid`/`resourceVersion` make it conditional (409 when they no longer
   * match, e.g. the pod was recreated under the same name).
   *
   * @throws {KubeError} 404 when absent, 409 when a precondition fails.
   * @example
   * ```ts ignore
   * await client.pods.delete("dev", "p", { uid: pod.metadata?.uid });
   * ```
   */
  async delete(namespace: string, name: string, opts: DeleteOptions = {}): Promise<void> {
    const body: V1DeleteOptions = {};
    if (opts.uid !== undefined || opts.resourceVersion !== undefined) {
      body.preconditions = { uid: opts.uid, resourceVersion: opts.resourceVersion };
    }
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    await callApi(() => this.ops.delete(namespace, name, body, opts));
  }

  /**
   * Deletes every object of a namespace that matches the selectors (one request).
   *
   * @example
   * ```ts ignore
   * await client.pods.deleteCollection({ namespace: "dev", labelSelector: "modelserving.volcano.sh/group-name=qwen-0" });
   * ```
   */
  async deleteCollection(opts: ListOptions & { namespace: string }): Promise<void> {
    const op = this.ops.deleteCollection;
    if (!op) throw new TypeError(`${this.kind} has no deleteCollection here`);
    await callApi(() => op.call(this.ops, opts.namespace, opts));
  }

  /**
   * Merge-patches `status` through the `/status` subresource.
   *
   * @example
   * ```ts ignore
   * await client.pods.patchStatus("dev", "p", { phase: "Running" });
   * ```
   */
  patchStatus(namespace: string, name: string, status: unknown): Promise<T> {
    const op = this.ops.patchStatus;
    if (!op) throw new TypeError(`${this.kind} has no status subresource here`);
    return callApi(() =>
      op.call(this.ops, namespace, name, { status }, "application/merge-patch+json")
    );
  }

  /**
   * Replaces the whole status through `/status` (PUT). The object's resourceVersion makes it a
   * compare-and-swap: a stale copy fails with 409, so two writers cannot silently undo each
   * other's status.
   *
   * @example
   * ```ts ignore
   * const mb = await boosters.get("dev", "qwen");
   * await boosters.replaceStatus({ ...mb, status: { observedGeneration: mb.metadata.generation } });
   * ```
   */
  replaceStatus(obj: T): Promise<T> {
    const op = this.ops.replaceStatus;
    if (!op) throw new TypeError(`${this.kind} has no status subresource here`);
    const { name, namespace } = nameOf(obj, this.defaultNamespace);
    return callApi(() => op.call(this.ops, namespace, name, obj));
  }
}
