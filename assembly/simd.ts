// f32x4 math shared by every kernel. The relaxed build fuses multiply-add into one rounding;
// the plain build rounds twice. Everything else is identical between the builds.

/** a * b + c, fused in the relaxed-SIMD build. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** e^x per lane (Cephes expf: Cody-Waite reduction and a degree-6 polynomial, about 1 ulp). */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // 88.3 keeps 2^n finite (n <= 127); below -87.3 the result is below FLT_MIN anyway.
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = madd(n, f32x4.splat(-0.693359375), x);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(madd(f32x4.mul(p, r), r, r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, scale);
}

/** 1 / (1 + e^-x) per lane. */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** tanh per lane: Cephes' odd polynomial near zero (no cancellation), 1 - 2/(e^2|x| + 1) beyond. */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = madd(p, z, f32x4.splat(2.06390887954e-2));
  p = madd(p, z, f32x4.splat(-5.37397155531e-2));
  p = madd(p, z, f32x4.splat(1.33314422036e-1));
  p = madd(p, z, f32x4.splat(-3.33332819422e-1));
  const small = madd(f32x4.mul(p, z), x, x);
  const e = exp4(f32x4.add(ax, ax));
  const big = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** σ'(a) from s = σ(a): s (1 - s). */
// @ts-ignore: decorator
@inline export function dsigmoid4(s: v128): v128 {
  return f32x4.mul(s, f32x4.sub(f32x4.splat(1), s));
}

/** tanh'(a) from t = tanh(a): 1 - t². */
// @ts-ignore: decorator
@inline export function dtanh4(t: v128): v128 {
  return f32x4.sub(f32x4.splat(1), f32x4.mul(t, t));
}

// Scalar forms for loop tails: the same lane arithmetic, so a value never depends on where a
// vector boundary falls.
// @ts-ignore: decorator
@inline export function sigmoid1(x: f32): f32 {
  return f32x4.extract_lane(sigmoid4(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline export function tanh1(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** Sum of the four lanes, in the order (l0 + l1) + (l2 + l3). */
// @ts-ignore: decorator
@inline export function sum4(v: v128): f32 {
  const lo = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1);
  const hi = f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
  return lo + hi;
}

/** Largest of the four lanes, as max(max(l0, l1), max(l2, l3)). */
// @ts-ignore: decorator
@inline export function max4(v: v128): f32 {
  const lo = max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1));
  const hi = max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3));
  return max(lo, hi);
}

// Flat loops over f32 arrays shared by the kernels: four lanes at a time, then lane by lane.

/** y[i] += x[i] for n floats (n ≤ 0: nothing). */
// @ts-ignore: decorator
@inline export function addInto(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i * 4;
    v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i * 4;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o));
  }
}
