// Helpers around the GEMMs in WGSL (assembly/ops.ts's counterpart): a broadcast bias's
// gradient (column sums) and an elementwise product in place (dropout's mask on a gradient).

import { cdiv, flatIndex, grid1, type Kernel, kernel, read, readWrite } from "./_wgsl_common.ts";

/** y[Y_OFF + i] *= m[i] for n elements. Buffers: m (read), y. */
export function multiplyInto(n: number, yOff: number): Kernel {
  return kernel(
    "multiplyInto",
    { N: n, Y_OFF: yOff },
    [read("m"), readWrite("y")],
    /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = ${flatIndex(256)};
  if (i >= N) { return; }
  y[Y_OFF + i] = y[Y_OFF + i] * m[i];
}`,
    grid1(n, 256),
  );
}

/**
 * Column sums of x[M, N] (rows `ld` apart from `xOff`) into out at one or two offsets (a
 * broadcast bias's gradient): 64 columns per workgroup, rows split four ways, partial sums
 * added in a fixed order. Buffers: x (read), out.
 */
export function columnSums(
  M: number,
  N: number,
  out1: number,
  out2: number,
  ld = N,
  xOff = 0,
): Kernel {
  const c = { M, N, LD: ld, X_OFF: xOff, OUT1: out1, HAS_OUT2: out2 >= 0, OUT2: Math.max(0, out2) };
  return kernel(
    "columnSums",
    c,
    [read("x"), readWrite("out")],
    /* wgsl */ `
var<workgroup> part: array<f32, 256>;
@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n = wg.x * 64u + lid.x;
  var s = 0.0;
  if (n < N) {
    for (var m = lid.y; m < M; m += 4u) { s += x[X_OFF + m * LD + n]; }
  }
  part[lid.y * 64u + lid.x] = s;
  workgroupBarrier();
  if (lid.y != 0u || n >= N) { return; }
  let total = (part[lid.x] + part[64u + lid.x]) + (part[128u + lid.x] + part[192u + lid.x]);
  out[OUT1 + n] = total;
  if (HAS_OUT2) { out[OUT2 + n] = total; }
}`,
    [cdiv(N, 64), 1],
  );
}
