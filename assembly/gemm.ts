// SGEMM for the shapes an RNN needs: C[M,N] (+)= op(A)[M,K] · op(B)[K,N].
//
// B is first packed into column panels of NR = 8 (zero-padded), so the micro-kernel reads it
// contiguously whatever its transpose; the packed copy is reused across calls (the recurrent
// weights are packed once per sequence, not once per timestep). A is read in place through
// row and column strides, which covers both A and A^T without a copy.
//
// Blocking (BLIS order): K in blocks of KC so a B sliver (KC×8) stays in L1, M in blocks of MC
// so the A block (MC×KC) stays in L2, then 6×8 register tiles: 12 f32x4 accumulators plus two
// B vectors and one broadcast fit x86's 16 vector registers.

import { madd } from "./simd";

const MR = 6;
const NR = 8;
const KC = 256;
const MC = 120;

// Spill tile for partial-width column panels.
const TILE: usize = memory.data(NR * 4, 16);

/** Bytes `packB` writes for a K×N matrix. */
export function packedBytes(K: i32, N: i32): usize {
  return <usize>((N + NR - 1) / NR) * NR * <usize>K * 4;
}

/**
 * Packs B[K,N] (or B^T when `transB`, i.e. b holds [N,K]) into panels: panel p holds columns
 * 8p..8p+7 as K rows of 8 floats, columns past N zero.
 */
export function packB(b: usize, ldb: i32, transB: bool, K: i32, N: i32, dst: usize): void {
  const panels = (N + NR - 1) / NR;
  const ldbBytes = <usize>ldb * 4;
  for (let p = 0; p < panels; p++) {
    const n0 = p * NR;
    const nv = min(NR, N - n0);
    const d0 = dst + <usize>p * <usize>K * NR * 4;
    if (!transB) {
      let src = b + <usize>n0 * 4;
      let d = d0;
      if (nv == NR) {
        for (let k = 0; k < K; k++) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
          src += ldbBytes;
          d += NR * 4;
        }
      } else {
        for (let k = 0; k < K; k++) {
          for (let j = 0; j < NR; j++) {
            store<f32>(d + <usize>j * 4, j < nv ? load<f32>(src + <usize>j * 4) : 0);
          }
          src += ldbBytes;
          d += NR * 4;
        }
      }
    } else {
      // b holds rows n of length K: read each row contiguously, write with stride NR.
      for (let j = 0; j < NR; j++) {
        let d = d0 + <usize>j * 4;
        if (j < nv) {
          let src = b + <usize>(n0 + j) * ldbBytes;
          for (let k = 0; k < K; k++) {
            store<f32>(d, load<f32>(src));
            src += 4;
            d += NR * 4;
          }
        } else {
          for (let k = 0; k < K; k++) {
            store<f32>(d, 0);
            d += NR * 4;
          }
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function store8(c: usize, lo: v128, hi: v128, accumulate: bool, nv: i32): void {
  if (nv == NR) {
    if (accumulate) {
      lo = f32x4.add(v128.load(c), lo);
      hi = f32x4.add(v128.load(c, 16), hi);
    }
    v128.store(c, lo);
    v128.store(c, hi, 16);
  } else {
    v128.store(TILE, lo);
    v128.store(TILE, hi, 16);
    for (let j = 0; j < nv; j++) {
      const cj = c + <usize>j * 4;
      const v = load<f32>(TILE + <usize>j * 4);
      store<f32>(cj, accumulate ? load<f32>(cj) + v : v);
    }
  }
}

// C[6, 8] (+)= A[6, kc] · Bpanel[kc, 8]; A element (i, k) at a + i*rs + k*cs.
// @ts-ignore: decorator
@inline function kernel6x8(
  a: usize,
  rs: usize,
  cs: usize,
  b: usize,
  kc: i32,
  c: usize,
  ldc: usize,
  accumulate: bool,
  nv: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  const r2 = rs * 2, r3 = rs * 3, r4 = rs * 4, r5 = rs * 5;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = madd(av, b0, c00);
    c01 = madd(av, b1, c01);
    av = v128.load32_splat(a + rs);
    c10 = madd(av, b0, c10);
    c11 = madd(av, b1, c11);
    av = v128.load32_splat(a + r2);
    c20 = madd(av, b0, c20);
    c21 = madd(av, b1, c21);
    av = v128.load32_splat(a + r3);
    c30 = madd(av, b0, c30);
    c31 = madd(av, b1, c31);
    av = v128.load32_splat(a + r4);
    c40 = madd(av, b0, c40);
    c41 = madd(av, b1, c41);
    av = v128.load32_splat(a + r5);
    c50 = madd(av, b0, c50);
    c51 = madd(av, b1, c51);
    a += cs;
    b += NR * 4;
  }
  store8(c, c00, c01, accumulate, nv);
  store8(c + ldc, c10, c11, accumulate, nv);
  store8(c + ldc * 2, c20, c21, accumulate, nv);
  store8(c + ldc * 3, c30, c31, accumulate, nv);
  store8(c + ldc * 4, c40, c41, accumulate, nv);
  store8(c + ldc * 5, c50, c51, accumulate, nv);
}

// One row: the M remainder, and the whole of a batch-1 (sampling) product.
// @ts-ignore: decorator
@inline function kernel1x8(a: usize, cs: usize, b: usize, kc: i32, c: usize, accumulate: bool, nv: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  let k = 0;
  // Two independent chains hide the add latency.
  for (; k + 1 < kc; k += 2) {
    let av = v128.load32_splat(a);
    c0 = madd(av, v128.load(b), c0);
    c1 = madd(av, v128.load(b, 16), c1);
    av = v128.load32_splat(a + cs);
    d0 = madd(av, v128.load(b, 32), d0);
    d1 = madd(av, v128.load(b, 48), d1);
    a += cs * 2;
    b += NR * 8;
  }
  if (k < kc) {
    const av = v128.load32_splat(a);
    c0 = madd(av, v128.load(b), c0);
    c1 = madd(av, v128.load(b, 16), c1);
  }
  store8(c, f32x4.add(c0, d0), f32x4.add(c1, d1), accumulate, nv);
}

/**
 * C[M,N] = op(A)·B, or C += op(A)·B when `accumulate`. op(A) is A[M,K] (lda ≥ K) or, with
 * `transA`, the transpose of a stored [K,M] (lda ≥ M). `packed` comes from `packB` with the
 * same K and N. ldc ≥ N.
 */
export function gemmPacked(
  a: usize,
  lda: i32,
  transA: bool,
  packed: usize,
  c: usize,
  ldc: i32,
  M: i32,
  N: i32,
  K: i32,
  accumulate: bool,
): void {
  const rs: usize = transA ? 4 : <usize>lda * 4;
  const cs: usize = transA ? <usize>lda * 4 : 4;
  const ldcBytes = <usize>ldc * 4;
  const panels = (N + NR - 1) / NR;
  if (K == 0) {
    if (!accumulate) {
      for (let i = 0; i < M; i++) memory.fill(c + <usize>i * ldcBytes, 0, <usize>N * 4);
    }
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = accumulate || k0 > 0;
    for (let m0 = 0; m0 < M; m0 += MC) {
      const mc = min(MC, M - m0);
      const a0 = a + <usize>m0 * rs + <usize>k0 * cs;
      const c0 = c + <usize>m0 * ldcBytes;
      for (let p = 0; p < panels; p++) {
        const nv = min(NR, N - p * NR);
        const bp = packed + (<usize>p * <usize>K + <usize>k0) * NR * 4;
        const cp = c0 + <usize>p * NR * 4;
        let i = 0;
        for (; i + MR <= mc; i += MR) {
          kernel6x8(a0 + <usize>i * rs, rs, cs, bp, kc, cp + <usize>i * ldcBytes, ldcBytes, acc, nv);
        }
        for (; i < mc; i++) {
          kernel1x8(a0 + <usize>i * rs, cs, bp, kc, cp + <usize>i * ldcBytes, acc, nv);
        }
      }
    }
  }
}

/** C = op(A)·op(B) (or +=): packs B into `scratch` (≥ packedBytes(K, N)), then multiplies. */
export function gemm(
  a: usize,
  lda: i32,
  transA: bool,
  b: usize,
  ldb: i32,
  transB: bool,
  c: usize,
  ldc: i32,
  M: i32,
  N: i32,
  K: i32,
  accumulate: bool,
  scratch: usize,
): void {
  packB(b, ldb, transB, K, N, scratch);
  gemmPacked(a, lda, transA, scratch, c, ldc, M, N, K, accumulate);
}
