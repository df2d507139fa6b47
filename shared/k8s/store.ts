/**
 * {@linkcode Store}: the informer's cache — objects keyed `namespace/name`, plus secondary
 * indexes (client-go's `Indexer`). An index function maps an object to zero or more index
 * values; `byIndex(name, value)` returns the objects filed under a value, e.g. the pods of one
 * serving group (`"{ns}/{group-name}"`).
 *
 * Hand-written: client-node's cache (`ListWatch`) has no secondary indexes and comes bound to
 * its `Watch`, which goes deaf on Deno; an index is a few dozen lines.
 *
 * The store is a plain synchronous map: JavaScript runs one task at a time, so no locking is
 * needed, and a handler that reads the store during an informer callback sees the state that
 * includes the event being delivered.
 *
 * Objects in the store are shared with every reader: treat them as immutable (copy before
 * changing, e.g. with `structuredClone`).
 *
 * @module
 */
import { type KubeObject, objectKey } from "./object.ts";

/** Maps an object to the values it is indexed under. */
export type IndexFunc<T> = (obj: T) => string[];

/** What {@linkcode Store.replace} changed. */
export interface ReplaceResult<T> {
  added: T[];
  /** `[old, new]` pairs whose resourceVersion differs. */
  updated: [T, T][];
  /** Objects that were cached and are not in the new list (their last known state). */
  deleted: T[];
}

/** A keyed, indexed cache of objects. */
export class Store<T extends KubeObject> {
  readonly #items = new Map<string, T>();
  readonly #indexers = new Map<string, IndexFunc<T>>();
  /** index name → index value → keys */
  readonly #indices = new Map<string, Map<string, Set<string>>>();

  /**
   * @param indexers Index functions by index name.
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store<{ metadata: { name: string; namespace: string; labels?: Record<string, string> } }>({
   *   byApp: (o) => o.metadata.labels?.app ? [o.metadata.labels.app] : [],
   * });
   * store.upsert({ metadata: { name: "a", namespace: "dev", labels: { app: "x" } } });
   * store.byIndex("byApp", "x").length; // 1
   * ```
   */
  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    for (const [name, fn] of Object.entries(indexers)) this.addIndexer(name, fn);
  }

  /**
   * Adds an index; existing objects are indexed at once.
   *
   * @throws {Error} when an index of that name exists.
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store();
   * store.addIndexer("byNamespace", (o) => [o.metadata?.namespace ?? ""]);
   * ```
   */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.#indexers.has(name)) throw new Error(`index ${name} already exists`);
    this.#indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.#indices.set(name, index);
    for (const [key, obj] of this.#items) this.#file(index, fn, key, obj);
  }

  /** The number of objects. */
  get size(): number {
    return this.#items.size;
  }

  /**
   * The object of a key (`namespace/name`).
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * new Store().get("dev/a"); // undefined
   * ```
   */
  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  /**
   * Whether a key is cached.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * new Store().has("dev/a"); // false
   * ```
   */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /**
   * Every cached object.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * new Store().list(); // []
   * ```
   */
  list(): T[] {
    return [...this.#items.values()];
  }

  /**
   * Every cached key.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * new Store().keys(); // []
   * ```
   */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /**
   * The objects filed under one value of an index.
   *
   * @throws {Error} when the index does not exist.
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store({ byNs: (o) => [o.metadata?.namespace ?? ""] });
   * store.byIndex("byNs", "dev"); // []
   * ```
   */
  byIndex(indexName: string, value: string): T[] {
    return this.indexKeys(indexName, value).map((k) => this.#items.get(k) as T);
  }

  /**
   * The keys filed under one value of an index.
   *
   * @throws {Error} when the index does not exist.
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store({ byNs: (o) => [o.metadata?.namespace ?? ""] });
   * store.indexKeys("byNs", "dev"); // []
   * ```
   */
  indexKeys(indexName: string, value: string): string[] {
    const index = this.#indices.get(indexName);
    if (!index) throw new Error(`no index named ${indexName}`);
    return [...(index.get(value) ?? [])];
  }

  /**
   * The values an index currently has (e.g. every serving group with pods).
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store({ byNs: (o) => [o.metadata?.namespace ?? ""] });
   * store.indexValues("byNs"); // []
   * ```
   */
  indexValues(indexName: string): string[] {
    const index = this.#indices.get(indexName);
    if (!index) throw new Error(`no index named ${indexName}`);
    return [...index.keys()];
  }

  /**
   * Adds or replaces an object; returns the previous one.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store();
   * store.upsert({ metadata: { name: "a", namespace: "dev" } }); // undefined
   * ```
   */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.#items.get(key);
    if (old) this.#unfile(key, old);
    this.#items.set(key, obj);
    for (const [name, fn] of this.#indexers) this.#file(this.#indices.get(name)!, fn, key, obj);
    return old;
  }

  /**
   * Removes a key; returns the object that was cached.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * new Store().delete("dev/a"); // undefined
   * ```
   */
  delete(key: string): T | undefined {
    const old = this.#items.get(key);
    if (!old) return undefined;
    this.#unfile(key, old);
    this.#items.delete(key);
    return old;
  }

  /**
   * Replaces the whole content with a fresh list (an informer's relist) and reports the
   * difference: objects new to the cache, objects whose resourceVersion changed, and cached
   * objects missing from the list (deleted while nobody watched: their last known state).
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * const store = new Store();
   * store.upsert({ metadata: { name: "old", namespace: "dev", resourceVersion: "1" } });
   * const diff = store.replace([{ metadata: { name: "new", namespace: "dev", resourceVersion: "2" } }]);
   * diff.added.length; // 1
   * diff.deleted.length; // 1
   * ```
   */
  replace(objs: T[]): ReplaceResult<T> {
    const result: ReplaceResult<T> = { added: [], updated: [], deleted: [] };
    const seen = new Set<string>();
    for (const obj of objs) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.upsert(obj);
      if (!old) result.added.push(obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        result.updated.push([old, obj]);
      }
    }
    for (const key of this.keys()) {
      if (!seen.has(key)) result.deleted.push(this.delete(key)!);
    }
    return result;
  }

  #file(index: Map<string, Set<string>>, fn: IndexFunc<T>, key: string, obj: T): void {
    for (const value of new Set(fn(obj))) {
      let keys = index.get(value);
      if (!keys) index.set(value, keys = new Set());
      keys.add(key);
    }
  }

  #unfile(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indices.get(name)!;
      for (const value of new Set(fn(obj))) {
        const keys = index.get(value);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }
}
