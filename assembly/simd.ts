// f32x4 math shared by every kernel. The relaxed build fuses multiply-add into one rounding;
// the plain build rounds twice. Everything else is identical between the builds.

/** a * b + c, fused in the relaxed-SIMD build. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// Every constant of the functions below, read with a broadcast load (k): V8 builds a v128
// constant from immediates at each use, inside the hot loops, which cost the gate pointwise
// work about a third of its time (bench/README.md, "Profile").
const KONST = memory.data<f32>([
  -87.3, // EXP_MIN
  88.3, // EXP_MAX
  1.44269504088896341, // LOG2E
  -0.693359375, // LN2_HI
  2.12194440e-4, // LN2_LO
  1.9875691500e-4, // EXP_P0
  1.3981999507e-3, // EXP_P1
  8.3334519073e-3, // EXP_P2
  4.1665795894e-2, // EXP_P3
  1.6666665459e-1, // EXP_P4
  5.0000001201e-1, // EXP_P5
  1, // ONE
  -5.70498872745e-3, // TANH_P0
  2.06390887954e-2, // TANH_P1
  -5.37397155531e-2, // TANH_P2
  1.33314422036e-1, // TANH_P3
  -3.33332819422e-1, // TANH_P4
  2, // TWO
  0.625, // TANH_SMALL
  12582912, // ROUND: 1.5·2^23
]);
const EXP_MIN = 0;
const EXP_MAX = 1;
const LOG2E = 2;
const LN2_HI = 3;
const LN2_LO = 4;
const EXP_P0 = 5;
const EXP_P1 = 6;
const EXP_P2 = 7;
const EXP_P3 = 8;
const EXP_P4 = 9;
const EXP_P5 = 10;
const ONE = 11;
const TANH_P0 = 12;
const TANH_P1 = 13;
const TANH_P2 = 14;
const TANH_P3 = 15;
const TANH_P4 = 16;
const TWO = 17;
const TANH_SMALL = 18;
const ROUND = 19;

// @ts-ignore: decorator
@inline function k(i: i32): v128 {
  return v128.load32_splat(KONST + <usize>i * 4);
}

/** e^x per lane (Cephes expf: Cody-Waite reduction and a degree-6 polynomial, about 1 ulp). */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // 88.3 keeps 2^n finite (n <= 127); below -87.3 the result is below FLT_MIN anyway.
  // pmax/pmin are one instruction each (min/max's NaN rules take several); with x first, a
  // NaN x still comes through. Adding 1.5·2^23 rounds to the nearest integer (ties to even, as
  // nearest) and leaves n + 127 in the low bits, so 2^n needs no float-to-int conversion.
  x = f32x4.pmin(f32x4.pmax(x, k(EXP_MIN)), k(EXP_MAX));
  const shifted = f32x4.add(f32x4.mul(x, k(LOG2E)), k(ROUND));
  const n = f32x4.sub(shifted, k(ROUND));
  let r = madd(n, k(LN2_HI), x);
  r = madd(n, k(LN2_LO), r);
  let p = k(EXP_P0);
  p = madd(p, r, k(EXP_P1));
  p = madd(p, r, k(EXP_P2));
  p = madd(p, r, k(EXP_P3));
  p = madd(p, r, k(EXP_P4));
  p = madd(p, r, k(EXP_P5));
  const y = f32x4.add(madd(f32x4.mul(p, r), r, r), k(ONE));
  const scale = i32x4.shl(i32x4.add(shifted, i32x4.splat(127)), 23);
  return f32x4.mul(y, scale);
}

/** 1 / (1 + e^-x) per lane. */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = k(ONE);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** tanh per lane: Cephes' odd polynomial near zero (no cancellation), 1 - 2/(e^2|x| + 1) beyond. */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = k(TANH_P0);
  p = madd(p, z, k(TANH_P1));
  p = madd(p, z, k(TANH_P2));
  p = madd(p, z, k(TANH_P3));
  p = madd(p, z, k(TANH_P4));
  const small = madd(f32x4.mul(p, z), x, x);
  const e = exp4(f32x4.add(ax, ax));
  const big = f32x4.sub(k(ONE), f32x4.div(k(TWO), f32x4.add(e, k(ONE))));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, k(TANH_SMALL)));
}

/** σ'(a) from s = σ(a): s (1 - s). */
// @ts-ignore: decorator
@inline export function dsigmoid4(s: v128): v128 {
  return f32x4.mul(s, f32x4.sub(k(ONE), s));
}

/** tanh'(a) from t = tanh(a): 1 - t². */
// @ts-ignore: decorator
@inline export function dtanh4(t: v128): v128 {
  return f32x4.sub(k(ONE), f32x4.mul(t, t));
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
