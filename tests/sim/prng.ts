/**
 * Small seeded pseudo-random helpers (hand-written: none of the import-map libraries offers a
 * seedable generator, and determinism across runs is the whole point).
 *
 * @module
 */

/** A function returning uniformly distributed numbers in [0, 1). */
export type Random = () => number;

/**
 * Creates a mulberry32 generator: tiny, fast and good enough for simulation.
 *
 * @param seed Any number; only its low 32 bits are used.
 * @returns A deterministic generator.
 *
 * @example
 * ```ts
 * import { seededRandom } from "./prng.ts";
 * const a = seededRandom(42), b = seededRandom(42);
 * console.log(a() === b()); // true
 * ```
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes numbers into one 32-bit seed (FNV-1a over the 32-bit words).
 *
 * @param parts Numbers to combine; order matters.
 * @returns An unsigned 32-bit seed.
 *
 * @example
 * ```ts
 * import { mixSeed } from "./prng.ts";
 * console.log(mixSeed(1, 2) === mixSeed(1, 2), mixSeed(1, 2) === mixSeed(2, 1)); // true false
 * ```
 */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const word of [lo, hi]) {
      for (let shift = 0; shift < 32; shift += 8) {
        h ^= (word >>> shift) & 0xff;
        h = Math.imul(h, 0x01000193);
      }
    }
  }
  return h >>> 0;
}

/**
 * Draws a standard normal sample (Box–Muller).
 *
 * @param random Source of uniform numbers.
 * @returns A sample with mean 0 and std-dev 1.
 *
 * @example
 * ```ts
 * import { gaussian, seededRandom } from "./prng.ts";
 * console.log(Number.isFinite(gaussian(seededRandom(1)))); // true
 * ```
 */
export function gaussian(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
