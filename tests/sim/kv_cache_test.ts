import assert from "node:assert/strict";
import { blockHashes, KvCache } from "./kv_cache.ts";

const seq = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

Deno.test("block hashes are chained: equal prefixes share hashes, a different block changes all later ones", () => {
  const a = blockHashes(seq(12), 4);
  const b = blockHashes([...seq(4), 99, ...seq(7, 5)], 4);
  assert.equal(a.length, 3);
  assert.equal(a[0], b[0]);
  assert.notEqual(a[1], b[1]);
  assert.notEqual(a[2], b[2]); // same tokens in block 2, different parent
  assert.equal(blockHashes(seq(7), 4).length, 1); // partial block not hashed
  assert.notEqual(blockHashes(seq(4), 4, "lora-a")[0], a[0]);
});

Deno.test("a committed prompt is a prefix hit for the next request, capped at n − 1 tokens", () => {
  const kv = new KvCache({ numBlocks: 16, blockSize: 4, enablePrefixCaching: true });
  const p = seq(10);
  const a = kv.allocate(p, blockHashes(p, 4))!;
  assert.equal(a.cachedTokens, 0);
  assert.equal(a.blockIds.length, 3);
  kv.commit(a);
  kv.free(a);
  assert.equal(kv.usage, 0);
  assert.equal(kv.numCachedBlocks, 2);
  const b = kv.allocate(p, blockHashes(p, 4))!;
  assert.equal(b.cachedTokens, 8);
  kv.free(b);
  const exact = seq(8);
  const c = kv.allocate(exact, blockHashes(exact, 4))!;
  assert.equal(c.cachedTokens, 4, "a full hit still recomputes the last token");
});

Deno.test("blocks in use are shared and never evicted; usage counts blocks held", () => {
  const kv = new KvCache({ numBlocks: 4, blockSize: 4, enablePrefixCaching: true });
  const p = seq(9);
  const a = kv.allocate(p, blockHashes(p, 4))!;
  kv.commit(a);
  assert.equal(kv.usage, 0.75);
  const b = kv.allocate(p, blockHashes(p, 4))!; // shares 2 blocks, needs 1 new
  assert.equal(b.cachedTokens, 8);
  assert.equal(kv.numUsedBlocks, 4);
  assert.equal(
    kv.allocate(seq(4, 100), blockHashes(seq(4, 100), 4)),
    undefined,
    "no capacity left",
  );
  kv.free(a);
  kv.free(b);
  assert.equal(kv.usage, 0);
});

Deno.test("LRU eviction drops the least recently freed cached blocks first", () => {
  const kv = new KvCache({ numBlocks: 4, blockSize: 2, enablePrefixCaching: true });
  const x = [1, 2, 3, 4];
  const y = [5, 6, 7, 8];
  const ax = kv.allocate(x, blockHashes(x, 2))!;
  kv.commit(ax);
  kv.free(ax);
  const ay = kv.allocate(y, blockHashes(y, 2))!;
  kv.commit(ay);
  kv.free(ay);
  assert.equal(kv.numCachedBlocks, 4);
  const z = [9, 10, 11];
  const az = kv.allocate(z, blockHashes(z, 2))!; // needs 2 blocks: evicts x's
  assert.equal(kv.evictions, 2);
  kv.free(az);
  assert.equal(kv.lookupPrefix(blockHashes([...x, 0], 2), 5), 0, "x evicted");
  assert.equal(kv.lookupPrefix(blockHashes([...y, 0], 2), 5), 2, "y kept");
});

Deno.test("appendToken grows by one block per block_size tokens and commits full blocks", () => {
  const kv = new KvCache({ numBlocks: 3, blockSize: 2, enablePrefixCaching: true });
  const s = kv.allocate([1, 2, 3], blockHashes([1, 2, 3], 2))!;
  kv.commit(s);
  assert.equal(s.blockIds.length, 2);
  assert.ok(kv.appendToken(s, 4)); // fills block 2
  assert.equal(s.blockIds.length, 2);
  assert.equal(kv.numCachedBlocks, 2);
  assert.ok(kv.appendToken(s, 5)); // new block
  assert.equal(s.blockIds.length, 3);
  assert.ok(kv.appendToken(s, 6));
  assert.equal(kv.appendToken(s, 7), false, "out of blocks");
  kv.free(s);
  const hashes = blockHashes([1, 2, 3, 4, 5, 6, 7], 2);
  assert.equal(kv.lookupPrefix(hashes, 7), 3, "generated tokens are cached too");
});

Deno.test("prefix caching can be turned off", () => {
  const kv = new KvCache({ numBlocks: 8, blockSize: 2, enablePrefixCaching: false });
  const p = [1, 2, 3, 4, 5];
  const a = kv.allocate(p, blockHashes(p, 2))!;
  kv.commit(a);
  kv.free(a);
  assert.equal(kv.allocate(p, blockHashes(p, 2))!.cachedTokens, 0);
});
