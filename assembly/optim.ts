// Optimizer kernels: one flat loop over the parameter array, since gradients and moments share
// its layout.

/** Σ g² over n floats, accumulated in f64 (the global norm for clipping is its root). */
export function sumSquares(g: usize, n: i32): f64 {
  let acc4 = f64x2.splat(0);
  let acc4b = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(g + <usize>i * 4);
    const sq = f32x4.mul(v, v);
    acc4 = f64x2.add(acc4, f64x2.promote_low_f32x4(sq));
    acc4b = f64x2.add(acc4b, f64x2.promote_low_f32x4(i32x4.shuffle(sq, sq, 2, 3, 0, 1)));
  }
  let s = f64x2.extract_lane(acc4, 0) + f64x2.extract_lane(acc4, 1) +
    (f64x2.extract_lane(acc4b, 0) + f64x2.extract_lane(acc4b, 1));
  for (; i < n; i++) {
    const v = <f64>load<f32>(g + <usize>i * 4);
    s += v * v;
  }
  return s;
}

/** g *= s over n floats. */
export function scale(g: usize, n: i32, s: f32): void {
  const s4 = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(g + <usize>i * 4, f32x4.mul(v128.load(g + <usize>i * 4), s4));
  for (; i < n; i++) store<f32>(g + <usize>i * 4, load<f32>(g + <usize>i * 4) * s);
}

/**
 * One Adam step, PyTorch's torch.optim.Adam arithmetic (no weight decay):
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
): void {
  const stepSize = f32x4.splat(lr / bc1);
  const invSqrtBc2 = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>bc2)));
  const b1 = f32x4.splat(beta1), b1c = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), b2c = f32x4.splat(1 - beta2);
  const e = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i * 4;
    const gv = v128.load(g + off);
    const mv = f32x4.add(f32x4.mul(b1, v128.load(m + off)), f32x4.mul(b1c, gv));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + off)), f32x4.mul(b2c, f32x4.mul(gv, gv)));
    v128.store(m + off, mv);
    v128.store(v + off, vv);
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), invSqrtBc2), e);
    v128.store(p + off, f32x4.sub(v128.load(p + off), f32x4.div(f32x4.mul(stepSize, mv), denom)));
  }
  for (; i < n; i++) {
    const off = <usize>i * 4;
    const gv = load<f32>(g + off);
    const mv = beta1 * load<f32>(m + off) + (1 - beta1) * gv;
    const vv = beta2 * load<f32>(v + off) + (1 - beta2) * gv * gv;
    store<f32>(m + off, mv);
    store<f32>(v + off, vv);
    const denom = Mathf.sqrt(vv) * f32x4.extract_lane(invSqrtBc2, 0) + eps;
    store<f32>(p + off, load<f32>(p + off) - (lr / bc1) * mv / denom);
  }
}
