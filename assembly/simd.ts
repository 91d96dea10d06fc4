// f32x4 math shared by every kernel. The relaxed build fuses multiply-add into one rounding;
// the plain build rounds twice. Everything else is identical between the builds.

/** a * b + c, fused in the relaxed-SIMD build. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// The constants of the functions below live in globals that the module's start function fills
// from this table. A v128 constant is rebuilt from immediates at every use, and a load from
// memory carries a bounds check (Deno runs WebAssembly without a trap handler); a global is
// one plain load, and the optimizer cannot fold a value it has not seen back into constants.
// Together this made the LSTM cell's pointwise step about 3× faster (bench/README.md).
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

let EXP_MIN: v128 = v128.load32_splat(KONST + 0 * 4);
let EXP_MAX: v128 = v128.load32_splat(KONST + 1 * 4);
let LOG2E: v128 = v128.load32_splat(KONST + 2 * 4);
let LN2_HI: v128 = v128.load32_splat(KONST + 3 * 4);
let LN2_LO: v128 = v128.load32_splat(KONST + 4 * 4);
let EXP_P0: v128 = v128.load32_splat(KONST + 5 * 4);
let EXP_P1: v128 = v128.load32_splat(KONST + 6 * 4);
let EXP_P2: v128 = v128.load32_splat(KONST + 7 * 4);
let EXP_P3: v128 = v128.load32_splat(KONST + 8 * 4);
let EXP_P4: v128 = v128.load32_splat(KONST + 9 * 4);
let EXP_P5: v128 = v128.load32_splat(KONST + 10 * 4);
let ONE: v128 = v128.load32_splat(KONST + 11 * 4);
let TANH_P0: v128 = v128.load32_splat(KONST + 12 * 4);
let TANH_P1: v128 = v128.load32_splat(KONST + 13 * 4);
let TANH_P2: v128 = v128.load32_splat(KONST + 14 * 4);
let TANH_P3: v128 = v128.load32_splat(KONST + 15 * 4);
let TANH_P4: v128 = v128.load32_splat(KONST + 16 * 4);
let TWO: v128 = v128.load32_splat(KONST + 17 * 4);
let TANH_SMALL: v128 = v128.load32_splat(KONST + 18 * 4);
let ROUND: v128 = v128.load32_splat(KONST + 19 * 4);
const IKONST = memory.data<i32>([127, 0x80000000]);
let EXP_BIAS: v128 = v128.load32_splat(IKONST); // 127 in each i32 lane
let SIGN: v128 = v128.load32_splat(IKONST + 4); // the f32 sign bit in each lane

/** e^x per lane (Cephes expf: Cody-Waite reduction and a degree-6 polynomial, about 1 ulp). */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // 88.3 keeps 2^n finite (n <= 127); below -87.3 the result is below FLT_MIN anyway.
  // pmax/pmin are one instruction each (min/max's NaN rules take several); with x first, a
  // NaN x still comes through. Adding 1.5·2^23 rounds to the nearest integer (ties to even, as
  // nearest) and leaves n + 127 in the low bits, so 2^n needs no float-to-int conversion.
  x = f32x4.pmin(f32x4.pmax(x, EXP_MIN), EXP_MAX);
  const shifted = f32x4.add(f32x4.mul(x, LOG2E), ROUND);
  const n = f32x4.sub(shifted, ROUND);
  let r = madd(n, LN2_HI, x);
  r = madd(n, LN2_LO, r);
  let p = EXP_P0;
  p = madd(p, r, EXP_P1);
  p = madd(p, r, EXP_P2);
  p = madd(p, r, EXP_P3);
  p = madd(p, r, EXP_P4);
  p = madd(p, r, EXP_P5);
  const y = f32x4.add(madd(f32x4.mul(p, r), r, r), ONE);
  const scale = i32x4.shl(i32x4.add(shifted, EXP_BIAS), 23);
  return f32x4.mul(y, scale);
}

/** 1 / (1 + e^-x) per lane. */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = ONE;
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** tanh per lane: Cephes' odd polynomial near zero (no cancellation), 1 - 2/(e^2|x| + 1) beyond. */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = TANH_P0;
  p = madd(p, z, TANH_P1);
  p = madd(p, z, TANH_P2);
  p = madd(p, z, TANH_P3);
  p = madd(p, z, TANH_P4);
  const small = madd(f32x4.mul(p, z), x, x);
  const e = exp4(f32x4.add(ax, ax));
  const big = f32x4.sub(ONE, f32x4.div(TWO, f32x4.add(e, ONE)));
  const signed = v128.or(big, v128.and(x, SIGN));
  return v128.bitselect(small, signed, f32x4.lt(ax, TANH_SMALL));
}

/** σ'(a) from s = σ(a): s (1 - s). */
// @ts-ignore: decorator
@inline export function dsigmoid4(s: v128): v128 {
  return f32x4.mul(s, f32x4.sub(ONE, s));
}

/** tanh'(a) from t = tanh(a): 1 - t². */
// @ts-ignore: decorator
@inline export function dtanh4(t: v128): v128 {
  return f32x4.sub(ONE, f32x4.mul(t, t));
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
