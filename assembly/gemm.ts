// SGEMM for the shapes an RNN needs: C[M,N] (+)= op(A)[M,K] · op(B)[K,N].
//
// B is first packed into column panels of NR = 8 (zero-padded), so the micro-kernel reads it
// contiguously whatever its transpose; the packed copy is reused across calls (the recurrent
// weights are packed once per sequence, not once per timestep). A is read in place through
// row and column strides, which covers both A and A^T without a copy.
//
// Blocking (BLIS order): K in blocks of KC so a B sliver (KC×8) stays in L1, M in blocks of MC
// so the A block (MC×KC) stays in L2, then 6×8 register tiles: 12 f32x4 accumulators plus two
// B vectors and one broadcast fit x86's 16 vector registers (V8 keeps one for itself: a 4×12
// tile, 16 registers, spills and runs at 60%). MC = 132 ≥ 128 keeps a batch of 128 rows in one
// block: with 120, an 8-row block read every B sliver from L3 a second time (3% of U's step).

import { madd } from "./simd";
import { barrier, share, shareEnd, threads as threadsOf } from "./threads";

const MR = 6;
const NR = 8;
const KC = 256;
const MC = 132;

// The packed layout. Panel p of a K×N matrix holds columns [p·NR, p·NR + NR) as K rows of NR
// floats; the panels follow one another.

/** Number of 8-column panels of an N-column matrix. */
// @ts-ignore: decorator
@inline export function panelsOf(N: i32): i32 {
  return (N + NR - 1) / NR;
}

/**
 * First column of panel p, at most N: panels [p0, p1) cover columns
 * [panelStart(p0, N), panelStart(p1, N)).
 */
// @ts-ignore: decorator
@inline export function panelStart(p: i32, N: i32): i32 {
  return min(p * NR, N);
}

// Columns of panel p that lie inside the matrix (NR but for the last panel).
// @ts-ignore: decorator
@inline function panelWidth(p: i32, N: i32): i32 {
  return min(NR, N - p * NR);
}

// Address of row k of panel p in a packed K-row matrix.
// @ts-ignore: decorator
@inline function panelRow(packed: usize, p: i32, K: i32, k: i32): usize {
  return packed + (<usize>p * <usize>K + <usize>k) * NR * 4;
}

/** Bytes `packB` writes for a K×N matrix. */
export function packedBytes(K: i32, N: i32): usize {
  return <usize>panelsOf(N) * NR * <usize>K * 4;
}

/**
 * Packs panels [p0, p1) of B[K,N] (or B^T when `transB`, i.e. b holds [N,K]): panel p holds
 * columns 8p..8p+7 as K rows of 8 floats, columns past N zero. One thread, no barrier.
 */
export function packPanels(
  b: usize, ldb: i32, transB: bool, K: i32, N: i32, dst: usize, p0: i32, p1: i32,
): void {
  const ldbBytes = <usize>ldb * 4;
  for (let p = p0; p < p1; p++) {
    const n0 = p * NR;
    const nv = panelWidth(p, N);
    const d0 = panelRow(dst, p, K, 0);
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

/** packPanels over all panels, shared among the threads; returns after a barrier. */
export function packB(b: usize, ldb: i32, transB: bool, K: i32, N: i32, dst: usize): void {
  const panels = panelsOf(N);
  packPanels(b, ldb, transB, K, N, dst, share(panels), shareEnd(panels));
  barrier();
}

// Stores lanes [0, n) of v, n ≤ 4 (extracting lanes keeps partial stores off shared scratch).
// @ts-ignore: decorator
@inline function storeLanes(c: usize, v: v128, n: i32, accumulate: bool): void {
  let x = f32x4.extract_lane(v, 0);
  store<f32>(c, accumulate ? load<f32>(c) + x : x);
  if (n > 1) {
    x = f32x4.extract_lane(v, 1);
    store<f32>(c + 4, accumulate ? load<f32>(c + 4) + x : x);
  }
  if (n > 2) {
    x = f32x4.extract_lane(v, 2);
    store<f32>(c + 8, accumulate ? load<f32>(c + 8) + x : x);
  }
  if (n > 3) {
    x = f32x4.extract_lane(v, 3);
    store<f32>(c + 12, accumulate ? load<f32>(c + 12) + x : x);
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
    storeLanes(c, lo, min(nv, 4), accumulate);
    if (nv > 4) storeLanes(c + 16, hi, nv - 4, accumulate);
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

// One row: the M remainder, and the whole of a batch-1 (sampling) product. Four k-steps per
// iteration keep eight independent accumulators in flight to cover the FMA latency.
// @ts-ignore: decorator
@inline function kernel1x8(
  a: usize, cs: usize, b: usize, kc: i32, c: usize, accumulate: bool, nv: i32,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  let e0 = f32x4.splat(0), e1 = f32x4.splat(0);
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0);
  let k = 0;
  for (; k + 3 < kc; k += 4) {
    let av = v128.load32_splat(a);
    c0 = madd(av, v128.load(b), c0);
    c1 = madd(av, v128.load(b, 16), c1);
    av = v128.load32_splat(a + cs);
    d0 = madd(av, v128.load(b, 32), d0);
    d1 = madd(av, v128.load(b, 48), d1);
    av = v128.load32_splat(a + cs * 2);
    e0 = madd(av, v128.load(b, 64), e0);
    e1 = madd(av, v128.load(b, 80), e1);
    av = v128.load32_splat(a + cs * 3);
    f0 = madd(av, v128.load(b, 96), f0);
    f1 = madd(av, v128.load(b, 112), f1);
    a += cs * 4;
    b += NR * 16;
  }
  for (; k < kc; k++) {
    const av = v128.load32_splat(a);
    c0 = madd(av, v128.load(b), c0);
    c1 = madd(av, v128.load(b, 16), c1);
    a += cs;
    b += NR * 4;
  }
  const lo = f32x4.add(f32x4.add(c0, d0), f32x4.add(e0, f0));
  const hi = f32x4.add(f32x4.add(c1, d1), f32x4.add(e1, f1));
  store8(c, lo, hi, accumulate, nv);
}

/**
 * Rows [m0, m1) × panels [p0, p1) of C[M,N] = op(A)·B, or C += op(A)·B when `accumulate`.
 * op(A) is A[M,K] (lda ≥ K) or, with `transA`, the transpose of a stored [K,M] (lda ≥ M).
 * `packed` holds all panels of B from packPanels with the same K and N. One thread.
 */
export function gemmBlock(
  a: usize,
  lda: i32,
  transA: bool,
  packed: usize,
  c: usize,
  ldc: i32,
  N: i32,
  K: i32,
  accumulate: bool,
  m0: i32,
  m1: i32,
  p0: i32,
  p1: i32,
): void {
  const rs: usize = transA ? 4 : <usize>lda * 4;
  const cs: usize = transA ? <usize>lda * 4 : 4;
  const ldcBytes = <usize>ldc * 4;
  if (K == 0) {
    if (!accumulate) {
      const n0 = panelStart(p0, N), n1 = panelStart(p1, N);
      for (let i = m0; i < m1; i++) {
        memory.fill(c + <usize>i * ldcBytes + <usize>n0 * 4, 0, <usize>(n1 - n0) * 4);
      }
    }
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = accumulate || k0 > 0;
    for (let mb = m0; mb < m1; mb += MC) {
      const mc = min(MC, m1 - mb);
      const a0 = a + <usize>mb * rs + <usize>k0 * cs;
      const c0 = c + <usize>mb * ldcBytes;
      for (let p = p0; p < p1; p++) {
        const nv = panelWidth(p, N);
        const bp = panelRow(packed, p, K, k0);
        const cp = c0 + <usize>p * NR * 4;
        let i = 0;
        for (; i + MR <= mc; i += MR) {
          const ai = a0 + <usize>i * rs, ci = cp + <usize>i * ldcBytes;
          kernel6x8(ai, rs, cs, bp, kc, ci, ldcBytes, acc, nv);
        }
        for (; i < mc; i++) {
          kernel1x8(a0 + <usize>i * rs, cs, bp, kc, cp + <usize>i * ldcBytes, acc, nv);
        }
      }
    }
  }
}

/**
 * C[M,N] (+)= op(A)·B over prepacked B, shared among the threads: by column panels when there
 * are enough of them, else by 6-row tiles; returns after a barrier.
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
  const panels = panelsOf(N);
  const tiles = (M + MR - 1) / MR;
  if (panels >= tiles || panels >= 4 * threadsOf()) {
    const p0 = share(panels), p1 = shareEnd(panels);
    gemmBlock(a, lda, transA, packed, c, ldc, N, K, accumulate, 0, M, p0, p1);
  } else {
    const m0 = min(M, share(tiles) * MR), m1 = min(M, shareEnd(tiles) * MR);
    gemmBlock(a, lda, transA, packed, c, ldc, N, K, accumulate, m0, m1, 0, panels);
  }
  barrier();
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
