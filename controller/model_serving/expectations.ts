/**
 * Expectations: the writes a reconcile made that the informer cache has not shown yet.
 *
 * A reconcile plans from the cache. Right after it creates or deletes pods, the cache still
 * shows the old world; a second reconcile planning from it would create the same pods again or,
 * worse, spend the rolling update's `maxUnavailable` budget twice (the groups it just deleted
 * still look available). So, as Kubernetes' ReplicaSet controller does, each key remembers the
 * pod names it expects to appear and the pod UIDs it expects to vanish, and planning waits until
 * the cache has caught up, or until the expectation expires (a lost event must not wedge it).
 *
 * This is the only in-memory state of the controller, and it is never authoritative: losing it
 * on restart only means the first reconcile plans from a cache that is already complete.
 *
 * @module
 */

interface Pending {
  creates: Set<string>;
  deletes: Set<string>;
  deadline: number;
}

/** Outstanding writes per ModelServing key. */
export class Expectations {
  readonly #pending = new Map<string, Pending>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  /**
   * @param ttlMs How long an expectation may stay unmet before it is dropped.
   * @example
   * ```ts
   * import { Expectations } from "./expectations.ts";
   * const e = new Expectations(30_000);
   * e.expect("ns/ms", ["pod-a"], []);
   * e.observeAdd("ns/ms", "pod-a");
   * e.satisfied("ns/ms"); // true
   * ```
   */
  constructor(ttlMs = 30_000, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Records the pods a reconcile created (names) and deleted (UIDs). */
  expect(key: string, creates: Iterable<string>, deletes: Iterable<string>): void {
    const p = this.#pending.get(key) ?? { creates: new Set(), deletes: new Set(), deadline: 0 };
    for (const c of creates) p.creates.add(c);
    for (const d of deletes) p.deletes.add(d);
    p.deadline = this.#now() + this.#ttlMs;
    if (p.creates.size + p.deletes.size > 0) this.#pending.set(key, p);
  }

  /** A create failed: do not wait for that pod. */
  forgetCreate(key: string, name: string): void {
    this.#pending.get(key)?.creates.delete(name);
  }

  /** A delete failed or found nothing: do not wait for that pod. */
  forgetDelete(key: string, uid: string): void {
    this.#pending.get(key)?.deletes.delete(uid);
  }

  /** The cache saw a pod appear. */
  observeAdd(key: string, name: string): void {
    this.#pending.get(key)?.creates.delete(name);
  }

  /** The cache saw a pod vanish. */
  observeDelete(key: string, uid: string): void {
    this.#pending.get(key)?.deletes.delete(uid);
  }

  /** Whether the cache shows everything this key wrote (or the wait timed out). */
  satisfied(key: string): boolean {
    const p = this.#pending.get(key);
    if (!p) return true;
    if (p.creates.size + p.deletes.size === 0 || this.#now() > p.deadline) {
      this.#pending.delete(key);
      return true;
    }
    return false;
  }

  /** Forgets a key (its object was deleted). */
  drop(key: string): void {
    this.#pending.delete(key);
  }
}
