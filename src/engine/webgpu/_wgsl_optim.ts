// The update in WGSL (assembly/optim.ts's counterpart): the global gradient norm in two passes
// (PyTorch's clip_grad_norm_, with the finiteness of loss and norm deciding whether the step
// applies), then one flat loop of Adam or SGD with momentum (and weight decay) over the
// parameters, clipping the gradient on the way in.

import type { Kernel } from "./_wgsl_common.ts";
import { flatIndex, grid1, kernel, read, readWrite, REDUCE_256, SCALAR } from "./_wgsl_common.ts";

/** Workgroups of the first sum-of-squares pass (and partial sums it leaves). */
export const NORM_PARTIALS = 256;

/**
 * First pass of the global norm: NORM_PARTIALS workgroups each square-sum a fixed chunk of the
 * gradients into partials[k], and flag a non-finite gradient in partials[NORM_PARTIALS + k].
 * Buffers: grads (read), partials.
 */
export function sumSquares(n: number): Kernel {
  const c = { N: n, PARTS: NORM_PARTIALS };
  return kernel(
    "sumSquares",
    c,
    [read("g"), readWrite("partials")],
    /* wgsl */ `${REDUCE_256}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i0 = u64_div(N, wg.x); let i1 = u64_div(N, wg.x + 1u);
  var s = 0.0;
  var bad = 0u;
  for (var i = i0 + li; i < i1; i += 256u) {
    s += g[i] * g[i];
    bad |= select(1u, 0u, finite(g[i]));
  }
  reduce256(li, s, bad);
  if (li == 0u) {
    partials[wg.x] = part[0];
    partials[PARTS + wg.x] = f32(badPart[0]);
  }
}
// N * k / PARTS without overflowing 32 bits (N < 2^32, k ≤ PARTS).
fn u64_div(n: u32, k: u32) -> u32 {
  let q = n / PARTS; let r = n % PARTS;
  return q * k + (r * k) / PARTS;
}`,
    [NORM_PARTIALS, 1],
  );
}

/**
 * Second pass: norm = √Σ partials; coef = clipNorm / (norm + 1e-6) when that is below 1 and
 * clipping by norm is on, else 1; ok = loss and norm finite (an update applies only then).
 * Buffers: partials (read), scalars.
 */
export function finishNorm(): Kernel {
  const c = { PARTS: NORM_PARTIALS, LOSS: SCALAR.loss, NORM: SCALAR.norm, SQ: SCALAR.sumSquares };
  return kernel(
    "finishNorm",
    { ...c, COEF: SCALAR.coef, OK: SCALAR.ok },
    [read("partials"), readWrite("scalars")],
    /* wgsl */ `${REDUCE_256}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  reduce256(
    li,
    select(0.0, partials[li], li < PARTS),
    select(0u, u32(partials[PARTS + li] != 0.0), li < PARTS),
  );
  if (li != 0u) { return; }
  var norm = sqrt(part[0]);
  if (badPart[0] != 0u) { norm = nan_f32(); }
  let ok = badPart[0] == 0u && finite(norm) && finite(scalars[LOSS]);
  var coef = 1.0;
  if (su.clipNorm > 0.0 && ok) {
    let k = su.clipNorm / (norm + 1e-6);
    if (k < 1.0) { coef = k; }
  }
  scalars[SQ] = part[0];
  scalars[NORM] = norm;
  scalars[COEF] = coef;
  scalars[OK] = select(0.0, 1.0, ok);
}`,
    [1, 1],
  );
}

/**
 * One optimizer step over the flat parameters, skipped entirely when scalars[ok] is 0. The
 * gradient is clipped on the way in (× coef, or clamped to ±clipValue when that is > 0).
 * Adam: PyTorch's arithmetic, AdamW's p ← p·decay first when decay (1 − lr·wd) is not 1;
 * SGD: torch.optim.SGD with momentum (buffer in m), g ← g + decay·p first when decay (wd) is
 * not 0.
 * Buffers: scalars (read), grads (read), params, m, v.
 */
export function optimizerStep(n: number, optimizer: "adam" | "sgd"): Kernel {
  const c = { N: n, ADAM: optimizer === "adam", COEF: SCALAR.coef, OK: SCALAR.ok };
  return kernel(
    "optimizerStep",
    c,
    [read("scalars"), read("grads"), readWrite("p"), readWrite("m"), readWrite("v")],
    /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = ${flatIndex(256)};
  if (i >= N || scalars[OK] == 0.0) { return; }
  var g = grads[i];
  if (su.clipValue > 0.0) { g = min(max(g, -su.clipValue), su.clipValue); }
  else { g = g * scalars[COEF]; }
  if (ADAM) {
    let mv = su.beta1 * m[i] + (1.0 - su.beta1) * g;
    let vv = su.beta2 * v[i] + (1.0 - su.beta2) * (g * g);
    m[i] = mv;
    v[i] = vv;
    let denom = sqrt(vv) * su.invSqrtBc2 + su.eps;
    var pv = p[i];
    if (su.decay != 1.0) { pv = pv * su.decay; }
    p[i] = pv - (su.lrOverBc1 * mv) / denom;
  } else {
    var d = g;
    if (su.decay != 0.0) { d = d + su.decay * p[i]; }
    if (su.momentum != 0.0) {
      if (su.sgdFirst == 0u) { d = su.momentum * m[i] + d; }
      m[i] = d;
    }
    p[i] = p[i] - su.lr * d;
  }
}`,
    grid1(n, 256),
  );
}
