// Inverted dropout with a counter-based mask: element i of site `site` at optimizer step `step`
// is kept iff a hash of (seed, step, site, i) clears p. No generator state is carried, so any
// backend or thread split that hashes the same counters draws the same mask.

import { barrier, share, shareEnd } from "./threads";

// @ts-ignore: decorator
@inline function mix32(x: u32): u32 {
  // lowbias32 (C. Wellons): a full-avalanche 32-bit integer hash.
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

/** mask[i] = 0 with probability p, else 1 / (1 - p), for n elements; 0 ≤ p < 1. */
export function dropoutMask(mask: usize, n: i32, p: f32, seed: u32, step: u32, site: u32): void {
  const scale: f32 = 1 / (1 - p);
  const key = mix32(seed ^ mix32(step ^ mix32(site + 0x9e3779b9)));
  for (let i = share(n), end = shareEnd(n); i < end; i++) {
    const u = <f32>(mix32(key ^ mix32(<u32>i)) >> 8) * (1.0 / 16777216.0);
    store<f32>(mask + <usize>i * 4, u < p ? 0 : scale);
  }
  barrier();
}
