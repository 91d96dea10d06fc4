// Optimizer kernels: one flat loop over the parameter array, since gradients and moments share
// its layout. Shared among the threads by element ranges.

import { barrier, share, share4, share4End, shareEnd } from "./threads";

/** Fixed number of partial sums, so the total's rounding does not depend on the thread count. */
const CHUNKS = 64;

/** Bytes of the `partials` scratch sumSquares needs. */
export function sumSquaresScratchBytes(): usize {
  return CHUNKS * 8;
}

/**
 * Σ g² over n floats in f64 (the global norm for clipping is its root): 64 fixed chunks summed
 * in parallel into `partials`, then added in order by every thread.
 */
export function sumSquares(g: usize, n: i32, partials: usize): f64 {
  for (let k = share(CHUNKS), end = shareEnd(CHUNKS); k < end; k++) {
    const i0 = <i32>((<i64>n * k) / CHUNKS), i1 = <i32>((<i64>n * (k + 1)) / CHUNKS);
    let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const v = v128.load(g + <usize>i * 4);
      const sq = f32x4.mul(v, v);
      acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(sq));
      acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(i32x4.shuffle(sq, sq, 2, 3, 0, 1)));
    }
    let s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) +
      (f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1));
    for (; i < i1; i++) {
      const x = <f64>load<f32>(g + <usize>i * 4);
      s += x * x;
    }
    store<f64>(partials + <usize>k * 8, s);
  }
  barrier();
  let total: f64 = 0;
  for (let k = 0; k < CHUNKS; k++) total += load<f64>(partials + <usize>k * 8);
  barrier(); // nobody may overwrite the partials before everyone has read them
  return total;
}

/** g *= s over n floats. */
export function scale(g: usize, n: i32, s: f32): void {
  const s4 = f32x4.splat(s);
  let i = share4(n);
  const end = share4End(n);
  for (; i + 4 <= end; i += 4) {
    v128.store(g + <usize>i * 4, f32x4.mul(v128.load(g + <usize>i * 4), s4));
  }
  for (; i < end; i++) store<f32>(g + <usize>i * 4, load<f32>(g + <usize>i * 4) * s);
  barrier();
}

/**
 * One Adam step, PyTorch's torch.optim.Adam arithmetic, with AdamW's decoupled weight decay
 * (torch.optim.AdamW) first when `decay` (= 1 - lr·wd, rounded once from f64) is not 1:
 *   p *= decay
 *   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
 *   p -= (lr / bc1) · m / (√v / √bc2 + ε)       bc1 = 1 - β1^t, bc2 = 1 - β2^t
 */
export function adamStep(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  bc1: f32,
  bc2: f32,
  decay: f32,
): void {
  const decays = decay != 1, decay4 = f32x4.splat(decay);
  const stepSize = f32x4.splat(lr / bc1);
  const invSqrtBc2 = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>bc2)));
  const b1 = f32x4.splat(beta1), b1c = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), b2c = f32x4.splat(1 - beta2);
  const e = f32x4.splat(eps);
  let i = share4(n);
  const end = share4End(n);
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i * 4;
    const gv = v128.load(g + off);
    const mv = f32x4.add(f32x4.mul(b1, v128.load(m + off)), f32x4.mul(b1c, gv));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + off)), f32x4.mul(b2c, f32x4.mul(gv, gv)));
    v128.store(m + off, mv);
    v128.store(v + off, vv);
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), invSqrtBc2), e);
    let pv = v128.load(p + off);
    if (decays) pv = f32x4.mul(pv, decay4);
    v128.store(p + off, f32x4.sub(pv, f32x4.div(f32x4.mul(stepSize, mv), denom)));
  }
  for (; i < end; i++) {
    const off = <usize>i * 4;
    const gv = load<f32>(g + off);
    const mv = beta1 * load<f32>(m + off) + (1 - beta1) * gv;
    const vv = beta2 * load<f32>(v + off) + (1 - beta2) * gv * gv;
    store<f32>(m + off, mv);
    store<f32>(v + off, vv);
    const denom = Mathf.sqrt(vv) * f32x4.extract_lane(invSqrtBc2, 0) + eps;
    let pv = load<f32>(p + off);
    if (decays) pv *= decay;
    store<f32>(p + off, pv - (lr / bc1) * mv / denom);
  }
  barrier();
}

/**
 * One SGD step, torch.optim.SGD arithmetic (dampening 0, no Nesterov): d = g + wd·p when the
 * weight decay wd is not 0; with momentum, buf = d on the first step and momentum·buf + d
 * after, then p -= lr·buf; without, p -= lr·d.
 */
export function sgdStep(
  p: usize, g: usize, buf: usize, n: i32, lr: f32, momentum: f32, first: bool, wd: f32,
): void {
  const lr4 = f32x4.splat(lr), mu4 = f32x4.splat(momentum), wd4 = f32x4.splat(wd);
  let i = share4(n);
  const end = share4End(n);
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i * 4;
    let d = v128.load(g + off);
    if (wd != 0) d = f32x4.add(d, f32x4.mul(wd4, v128.load(p + off)));
    if (momentum != 0) {
      if (!first) d = f32x4.add(f32x4.mul(mu4, v128.load(buf + off)), d);
      v128.store(buf + off, d);
    }
    v128.store(p + off, f32x4.sub(v128.load(p + off), f32x4.mul(lr4, d)));
  }
  for (; i < end; i++) {
    const off = <usize>i * 4;
    let d = load<f32>(g + off);
    if (wd != 0) d += wd * load<f32>(p + off);
    if (momentum != 0) {
      if (!first) d = momentum * load<f32>(buf + off) + d;
      store<f32>(buf + off, d);
    }
    store<f32>(p + off, load<f32>(p + off) - lr * d);
  }
  barrier();
}

/** g = clamp(g, -c, c) element-wise (the exercises' np.clip(gradient, -c, c)). */
export function clipValue(g: usize, n: i32, c: f32): void {
  const hi = f32x4.splat(c), lo = f32x4.splat(-c);
  let i = share4(n);
  const end = share4End(n);
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i * 4;
    v128.store(g + off, f32x4.min(f32x4.max(v128.load(g + off), lo), hi));
  }
  for (; i < end; i++) {
    const off = <usize>i * 4;
    store<f32>(g + off, min(max(load<f32>(g + off), -c), c));
  }
  barrier();
}
