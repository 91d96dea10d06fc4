// Inverted dropout on the GPU (assembly/dropout.ts's counterpart), and the one copy on the host
// of that file's hash and key derivation: the host derives each layer's key for a step, the
// kernel hashes it with the element index, so masks are bitwise the WASM core's.

import { flatIndex, grid1, type Kernel, kernel, read, readWrite } from "./_wgsl_common.ts";

// assembly/dropout.ts's lowbias32.
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The dropout key of `site` (a layer) at optimizer step `step`, as assembly/dropout.ts's. */
export function dropoutKey(seed: number, step: number, site: number): number {
  return mix32((seed ^ mix32((step ^ mix32((site + 0x9e3779b9) >>> 0)) >>> 0)) >>> 0);
}

/**
 * Inverted dropout on a layer's output: mask[i] = 0 when hash(key, i) < p, else 1/(1-p);
 * out[i] = x[X_OFF + i] · mask[i]. The key (seed, step, layer) comes from the step uniform.
 * Buffers: x (read), mask, out.
 */
export function dropout(n: number, xOff: number, layer: number): Kernel {
  const c = { N: n, X_OFF: xOff, LAYER: layer };
  return kernel(
    "dropout",
    c,
    [read("x"), readWrite("mask"), readWrite("out")],
    /* wgsl */ `
fn mix32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u; x *= 0x7feb352du; x ^= x >> 15u; x *= 0x846ca68bu; x ^= x >> 16u;
  return x;
}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = ${flatIndex(256)};
  if (i >= N) { return; }
  let key = su.keys[LAYER].x;
  let bits = mix32(key ^ mix32(i));
  let r = f32(bits >> 8u) * (1.0 / 16777216.0);
  let m = select(su.dropScale, 0.0, r < su.dropP);
  mask[i] = m;
  out[i] = x[X_OFF + i] * m;
}`,
    grid1(n, 256),
  );
}
