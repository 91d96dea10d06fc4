// Inverted dropout with a counter-based mask: element i of site `site` at optimizer step `step`
// is kept iff a hash of (seed, step, site, i) clears p. No generator state is carried, so any
// backend or thread split that hashes the same counters draws the same mask.

import { barrier, share, shareEnd } from "./threads";

// lowbias32 (C. Wellons): a full-avalanche 32-bit integer hash.
// @ts-ignore: decorator
@inline function mix32(x: u32): u32 {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

// The same hash on four lanes.
// @ts-ignore: decorator
@inline function mix32x4(x: v128): v128 {
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, i32x4.splat(0x7feb352d));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, i32x4.splat(0x846ca68b));
  return v128.xor(x, i32x4.shr_u(x, 16));
}

/** mask[i] = 0 with probability p, else 1 / (1 - p), for n elements; 0 ≤ p < 1. */
export function dropoutMask(mask: usize, n: i32, p: f32, seed: u32, step: u32, site: u32): void {
  const scale: f32 = 1 / (1 - p);
  const key = mix32(seed ^ mix32(step ^ mix32(site + 0x9e3779b9)));
  const groups = (n + 3) / 4;
  let i = share(groups) * 4;
  const end = min(n, shareEnd(groups) * 4);
  const key4 = i32x4.splat(key);
  const p4 = f32x4.splat(p), scale4 = f32x4.splat(scale), zero = f32x4.splat(0);
  const unit = f32x4.splat(1.0 / 16777216.0);
  for (; i + 4 <= end; i += 4) {
    const idx = i32x4.add(i32x4.splat(i), i32x4(0, 1, 2, 3));
    const bits = mix32x4(v128.xor(key4, mix32x4(idx)));
    const u = f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(bits, 8)), unit);
    v128.store(mask + <usize>i * 4, v128.bitselect(zero, scale4, f32x4.lt(u, p4)));
  }
  for (; i < end; i++) {
    const u = <f32>(mix32(key ^ mix32(<u32>i)) >> 8) * (1.0 / 16777216.0);
    store<f32>(mask + <usize>i * 4, u < p ? 0 : scale);
  }
  barrier();
}
