/**
 * LMCache two-hop disaggregation (production-stack style; kthena maps `lmcache` to its plain
 * HTTP connector: prefill with `max_tokens: 1`, then the original body to the decode).
 *
 * Model chosen: every engine started with `--kv-connector lmcache` stores the block hashes of
 * each prefilled prompt in its own LMCache store (an LRU of `--lmcache-capacity-blocks`
 * blocks, i.e. LMCache's CPU/remote tier). A decode engine looks a prompt's blocks up in its own
 * store and in the stores named by `--lmcache-remote` (side-channel base URLs of prefill
 * engines — the stand-in for a shared LMCache server) and takes the longest leading hit. Hit
 * tokens beyond the local GPU prefix cache cost `kvTransferTimePerToken` (a retrieve) instead of
 * `prefillTimePerToken`. Without a reachable store the decode simply prefills everything — the
 * plain HTTP two-hop.
 *
 * Side-channel endpoint: `POST /lmcache/lookup` `{block_hashes, requester_pd_group}` →
 * `{hit_blocks, engine_id, pd_group}`; 403 when the PD-group policy refuses.
 *
 * @module
 */

import { Hono } from "hono";
import { LRUCache } from "lru-cache";
import { crossGroupRefused, fetchPeerJson, type PeerIdentity } from "./kv_transfer.ts";

/**
 * An LRU store of block hashes (one LMCache instance).
 *
 * @example
 * ```ts
 * import { LmcacheStore } from "./pd_lmcache.ts";
 * const s = new LmcacheStore(2);
 * s.store([1, 2, 3]);
 * console.log(s.lookupPrefix([2, 3]), s.lookupPrefix([1, 2])); // 2 0
 * ```
 */
export class LmcacheStore {
  readonly #lru: LRUCache<number, true>;

  /** @param capacityBlocks Maximum blocks kept. */
  constructor(capacityBlocks: number) {
    this.#lru = new LRUCache<number, true>({ max: capacityBlocks });
  }

  /** Blocks currently stored. */
  get size(): number {
    return this.#lru.size;
  }

  /** Stores (or refreshes) blocks. */
  store(hashes: readonly number[]): void {
    for (const h of hashes) this.#lru.set(h, true);
  }

  /** Counts the leading stored blocks (refreshing them). */
  lookupPrefix(hashes: readonly number[]): number {
    let n = 0;
    while (n < hashes.length && this.#lru.get(hashes[n]!) === true) n++;
    return n;
  }
}

/**
 * The LMCache lookup route of an engine's side channel.
 *
 * @example
 * ```ts ignore
 * app.route("/", lmcacheRoutes(store, identity));
 * ```
 */
export function lmcacheRoutes(store: LmcacheStore, identity: PeerIdentity): Hono {
  const app = new Hono();
  app.post("/lmcache/lookup", async (c) => {
    const body = await c.req.json<Record<string, unknown>>();
    const peerGroup = typeof body.requester_pd_group === "string" ? body.requester_pd_group : "";
    if (crossGroupRefused(identity.pdGroup, peerGroup, identity.refuseCrossGroup)) {
      return c.json({
        error: { message: `cross-group lookup refused (group "${identity.pdGroup}")` },
      }, 403);
    }
    const hashes = Array.isArray(body.block_hashes) ? body.block_hashes.map(Number) : [];
    return c.json({
      hit_blocks: store.lookupPrefix(hashes),
      engine_id: identity.engineId,
      pd_group: identity.pdGroup,
    });
  });
  return app;
}

/** Result of a remote lookup. */
export interface LmcacheLookup {
  /** Longest leading hit over all peers, in blocks. */
  hitBlocks: number;
  /** Peers that failed or refused. */
  failures: number;
  /** Peers that refused (group policy). */
  refusals: number;
}

/**
 * Looks blocks up in remote LMCache stores.
 *
 * @param urls Side-channel base URLs.
 * @param hashes Block hashes of the prompt.
 * @param self Own identity (group policy).
 * @param timeoutMs Wall-clock timeout per peer.
 * @param signal Aborts (client gone).
 * @returns The best hit.
 *
 * @example
 * ```ts ignore
 * const { hitBlocks } = await lookupLmcache(["http://127.0.0.1:5600"], hashes, identity, 1000, signal);
 * ```
 */
export async function lookupLmcache(
  urls: readonly string[],
  hashes: readonly number[],
  self: PeerIdentity,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<LmcacheLookup> {
  const result: LmcacheLookup = { hitBlocks: 0, failures: 0, refusals: 0 };
  if (hashes.length === 0) return result;
  await Promise.all(urls.map(async (url) => {
    try {
      const body = (await fetchPeerJson(
        `${url.replace(/\/$/, "")}/lmcache/lookup`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ block_hashes: hashes, requester_pd_group: self.pdGroup }),
        },
        timeoutMs,
        signal,
      ) ?? {}) as Record<string, unknown>;
      const peerGroup = typeof body.pd_group === "string" ? body.pd_group : "";
      if (crossGroupRefused(self.pdGroup, peerGroup, self.refuseCrossGroup)) {
        result.refusals++;
        result.failures++;
        return;
      }
      const hits = Number(body.hit_blocks);
      if (Number.isFinite(hits)) result.hitBlocks = Math.max(result.hitBlocks, hits);
    } catch (err) {
      if (signal.aborted) throw err;
      result.failures++;
      if ((err as { reason?: string }).reason === "refused") result.refusals++;
    }
  }));
  return result;
}
