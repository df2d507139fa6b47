/**
 * A paged KV cache with prefix caching, modelled on vLLM v1's `KVCacheManager`:
 *
 * - capacity is `numBlocks` blocks of `blockSize` tokens;
 * - a full block is identified by a chained hash `h_i = H(h_{i−1}, tokens of block i)`, seeded
 *   by the LoRA adapter name (vLLM's "extra keys"), so equal prefixes give equal hashes;
 * - blocks with reference count 0 sit in a free queue in LRU order and keep their hash, so a
 *   later request can reuse them until they are evicted (popped for a new allocation);
 * - a full prompt hit still recomputes the last token (vLLM caps hits at `n − 1` tokens);
 * - usage = 1 − free blocks / total blocks (cached-but-free blocks count as free).
 *
 * Hand-written rather than built on `lru-cache`: blocks in use must be pinned (not evictable)
 * while staying findable by hash, which `lru-cache` cannot express.
 *
 * @module
 */

/** Hash seed of the first block for a given extra key (LoRA name or ""). */
function rootHash(extraKey: string): number {
  let h = 0x2545f491;
  for (let i = 0; i < extraKey.length; i++) h = Math.imul(h ^ extraKey.charCodeAt(i), 0x01000193);
  return (h >>> 0) + 1;
}

/** 53-bit hash of one block chained on its parent (cyrb53-style mixing over token ids). */
function hashBlock(parent: number, tokens: readonly number[], from: number, to: number): number {
  let h1 = 0xdeadbeef ^ (parent >>> 0);
  let h2 = 0x41c6ce57 ^ (Math.floor(parent / 4294967296) >>> 0);
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    h1 = Math.imul(h1 ^ t, 2654435761);
    h2 = Math.imul(h2 ^ t, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * Chained hashes of the full blocks of a token sequence.
 *
 * @param tokens Token ids.
 * @param blockSize Tokens per block.
 * @param extraKey Adapter name (or "") mixed into the first hash.
 * @returns One hash per full block.
 *
 * @example
 * ```ts
 * import { blockHashes } from "./kv_cache.ts";
 * const a = blockHashes([1, 2, 3, 4, 5], 2), b = blockHashes([1, 2, 3, 4, 9, 9], 2);
 * console.log(a.length, a[1] === b[1], a[0] === blockHashes([1, 2], 2, "lora")[0]); // 2 true false
 * ```
 */
export function blockHashes(tokens: readonly number[], blockSize: number, extraKey = ""): number[] {
  const out: number[] = [];
  let parent = rootHash(extraKey);
  for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
    parent = hashBlock(parent, tokens, start, start + blockSize);
    out.push(parent);
  }
  return out;
}

/** The blocks held by one request. Create with {@linkcode KvCache.allocate}. */
export class KvSequence {
  /** Token ids whose KV lives in `blockIds` (prompt, then generated tokens). */
  readonly tokens: number[];
  /** Physical block ids, in order. */
  readonly blockIds: number[] = [];
  /** Hashes of the full blocks known so far. */
  readonly hashes: number[];
  /** Adapter name mixed into the hashes. */
  readonly extraKey: string;
  /** Prompt tokens found in the cache when allocated. */
  cachedTokens = 0;
  /** Full blocks whose hashes are registered (reused or committed). */
  committedBlocks = 0;
  /** True once the blocks went back to the free queue. */
  freed = false;

  /** @internal use {@linkcode KvCache.allocate}. */
  constructor(tokens: readonly number[], hashes: readonly number[], extraKey: string) {
    this.tokens = [...tokens];
    this.hashes = [...hashes];
    this.extraKey = extraKey;
  }
}

/** Options of {@linkcode KvCache}. */
export interface KvCacheOptions {
  /** Capacity in blocks. */
  numBlocks: number;
  /** Tokens per block. */
  blockSize: number;
  /** Reuse cached blocks. */
  enablePrefixCaching: boolean;
}

/**
 * Block allocator with a hash-indexed prefix cache and LRU eviction.
 *
 * @example
 * ```ts
 * import { blockHashes, KvCache } from "./kv_cache.ts";
 * const kv = new KvCache({ numBlocks: 8, blockSize: 4, enablePrefixCaching: true });
 * const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9];
 * const a = kv.allocate(tokens, blockHashes(tokens, 4))!;
 * kv.commit(a);
 * kv.free(a);
 * const b = kv.allocate(tokens, blockHashes(tokens, 4))!;
 * console.log(b.cachedTokens, kv.usage); // 8 0.375
 * ```
 */
export class KvCache {
  /** Capacity in blocks. */
  readonly numBlocks: number;
  /** Tokens per block. */
  readonly blockSize: number;
  /** Whether prefix caching is on. */
  readonly enablePrefixCaching: boolean;
  readonly #refCount: Int32Array;
  readonly #hashOf: (number | undefined)[];
  readonly #byHash = new Map<number, number>();
  /** Free blocks; iteration order = eviction order (first = least recently freed). */
  readonly #free = new Set<number>();
  #evictions = 0;

  /** @param options Capacity, block size and caching switch. */
  constructor(options: KvCacheOptions) {
    this.numBlocks = options.numBlocks;
    this.blockSize = options.blockSize;
    this.enablePrefixCaching = options.enablePrefixCaching;
    this.#refCount = new Int32Array(options.numBlocks);
    this.#hashOf = new Array(options.numBlocks).fill(undefined);
    for (let i = 0; i < options.numBlocks; i++) this.#free.add(i);
  }

  /** Blocks not held by any request (including cached, evictable ones). */
  get numFreeBlocks(): number {
    return this.#free.size;
  }

  /** Blocks held by requests. */
  get numUsedBlocks(): number {
    return this.numBlocks - this.#free.size;
  }

  /** Fraction of blocks in use, 0–1 (vLLM `kv_cache_usage_perc`). */
  get usage(): number {
    return this.numUsedBlocks / this.numBlocks;
  }

  /** Cached blocks that were evicted to make room so far. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Number of blocks currently registered in the prefix cache. */
  get numCachedBlocks(): number {
    return this.#byHash.size;
  }

  /**
   * Counts the leading blocks of `hashes` present in the cache, without touching anything.
   *
   * @param hashes Block hashes of a prompt.
   * @param numTokens Prompt length; at most `numTokens − 1` tokens can hit (vLLM).
   * @returns Number of leading cached blocks.
   */
  lookupPrefix(hashes: readonly number[], numTokens: number): number {
    if (!this.enablePrefixCaching) return 0;
    const limit = Math.min(hashes.length, Math.floor(Math.max(0, numTokens - 1) / this.blockSize));
    let n = 0;
    while (n < limit && this.#byHash.has(hashes[n]!)) n++;
    return n;
  }

  /**
   * Allocates blocks for a prompt, reusing cached prefix blocks.
   *
   * @param tokens Prompt token ids.
   * @param hashes `blockHashes(tokens, blockSize, extraKey)`.
   * @param extraKey Adapter name used for the hashes.
   * @returns The sequence, or undefined when there is not enough free capacity.
   */
  allocate(
    tokens: readonly number[],
    hashes: readonly number[],
    extraKey = "",
  ): KvSequence | undefined {
    const hits = this.lookupPrefix(hashes, tokens.length);
    const needed = Math.ceil(tokens.length / this.blockSize) - hits;
    let hitsInFree = 0;
    for (let i = 0; i < hits; i++) {
      if (this.#refCount[this.#byHash.get(hashes[i]!)!] === 0) hitsInFree++;
    }
    if (needed > this.#free.size - hitsInFree) return undefined;
    const seq = new KvSequence(tokens, hashes, extraKey);
    for (let i = 0; i < hits; i++) {
      const id = this.#byHash.get(hashes[i]!)!;
      this.#take(id);
      seq.blockIds.push(id);
    }
    for (let i = 0; i < needed; i++) seq.blockIds.push(this.#popFree());
    seq.cachedTokens = hits * this.blockSize;
    seq.committedBlocks = hits;
    return seq;
  }

  /**
   * Registers the hashes of the sequence's full blocks (after their KV is computed), so that
   * later requests can hit them. Blocks whose hash another block already holds stay private.
   */
  commit(seq: KvSequence): void {
    if (seq.freed) return;
    const full = Math.floor(seq.tokens.length / this.blockSize);
    while (seq.hashes.length < full) {
      const i = seq.hashes.length;
      const parent = i === 0 ? rootHash(seq.extraKey) : seq.hashes[i - 1]!;
      seq.hashes.push(hashBlock(parent, seq.tokens, i * this.blockSize, (i + 1) * this.blockSize));
    }
    for (; seq.committedBlocks < full; seq.committedBlocks++) {
      const id = seq.blockIds[seq.committedBlocks]!;
      const hash = seq.hashes[seq.committedBlocks]!;
      if (!this.enablePrefixCaching || this.#byHash.has(hash) || this.#hashOf[id] !== undefined) {
        continue;
      }
      this.#hashOf[id] = hash;
      this.#byHash.set(hash, id);
    }
  }

  /**
   * Appends one generated token, allocating a new block when the last one is full. Newly full
   * blocks are committed to the cache.
   *
   * @returns false (and nothing changes) when no block is free.
   */
  appendToken(seq: KvSequence, tokenId: number): boolean {
    if (seq.freed) return false;
    if (seq.tokens.length === seq.blockIds.length * this.blockSize) {
      if (this.#free.size === 0) return false;
      seq.blockIds.push(this.#popFree());
    }
    seq.tokens.push(tokenId);
    if (seq.tokens.length % this.blockSize === 0) this.commit(seq);
    return true;
  }

  /** Releases the sequence's blocks (idempotent). Cached ones stay reusable until evicted. */
  free(seq: KvSequence): void {
    if (seq.freed) return;
    seq.freed = true;
    // Reverse order, as vLLM: the tail of a sequence is evicted before its head.
    for (let i = seq.blockIds.length - 1; i >= 0; i--) {
      const id = seq.blockIds[i]!;
      this.#refCount[id]!--;
      if (this.#refCount[id] === 0) this.#free.add(id);
    }
  }

  #take(id: number): void {
    if (this.#refCount[id] === 0) this.#free.delete(id);
    this.#refCount[id]!++;
  }

  #popFree(): number {
    const id = this.#free.values().next().value as number;
    this.#free.delete(id);
    const hash = this.#hashOf[id];
    if (hash !== undefined) {
      this.#byHash.delete(hash);
      this.#hashOf[id] = undefined;
      this.#evictions++;
    }
    this.#refCount[id] = 1;
    return id;
  }
}
