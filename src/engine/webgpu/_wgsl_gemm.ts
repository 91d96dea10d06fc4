// The WGSL GEMM (assembly/gemm.ts's counterpart): C[M, N] (+)= op(A)[M, K] · op(B)[K, N]
// (+ bias), in 64×64 tiles through workgroup memory. Every projection of the network (input,
// recurrent weight gradients, output layer) is one of these.

import { cdiv, type Kernel, kernel, read, readWrite } from "./_wgsl_common.ts";

/**
 * Operand layout of {@linkcode gemm}: element offsets, leading dimensions, transposes. Only M,
 * N and K are required; the rest default to a plain, dense, non-accumulating product.
 */
export interface GemmShape {
  M: number;
  N: number;
  K: number;
  /** A is stored [K, M] (read transposed) instead of [M, K]. */
  transA?: boolean;
  /** B is stored [N, K] (read transposed) instead of [K, N]. */
  transB?: boolean;
  /** Offset of A in its buffer (default 0). */
  aOff?: number;
  /** A's leading dimension (default: dense, M transposed or K). */
  lda?: number;
  /** Offset of B in its buffer (default 0). */
  bOff?: number;
  /** B's leading dimension (default: dense, K transposed or N). */
  ldb?: number;
  /** Offset of C in its buffer (default 0). */
  cOff?: number;
  /** C's leading dimension (default N). */
  ldc?: number;
  /** C += A·B instead of C = A·B. */
  accumulate?: boolean;
  /** Offsets into B's buffer of one or two bias vectors [N] added to every row (default none). */
  bias1?: number;
  bias2?: number;
  /** Columns bias2 covers (the GRU's b_hh joins only the r and z blocks); default N. */
  bias2Cols?: number;
}

/**
 * Tiled GEMM C[M, N] (+)= op(A)[M, K] · op(B)[K, N] (+ bias): 64×64 tiles per workgroup of 256
 * invocations, each computing 4×4, K in steps of 16 through workgroup memory.
 * Buffers: A (read), B (read), C (read_write).
 */
export function gemm(s: GemmShape): Kernel {
  const bias1 = s.bias1 ?? -1, bias2 = s.bias2 ?? -1;
  const c = {
    M: s.M,
    N: s.N,
    K: s.K,
    TRANS_A: s.transA ?? false,
    TRANS_B: s.transB ?? false,
    A_OFF: s.aOff ?? 0,
    LDA: s.lda ?? (s.transA ? s.M : s.K),
    B_OFF: s.bOff ?? 0,
    LDB: s.ldb ?? (s.transB ? s.K : s.N),
    C_OFF: s.cOff ?? 0,
    LDC: s.ldc ?? s.N,
    ACCUMULATE: s.accumulate ?? false,
    HAS_BIAS1: bias1 >= 0,
    BIAS1: Math.max(0, bias1),
    HAS_BIAS2: bias2 >= 0,
    BIAS2: Math.max(0, bias2),
    BIAS2_N: s.bias2Cols ?? s.N,
  };
  return kernel(
    "gemm",
    c,
    [read("a"), read("b"), readWrite("cm")],
    /* wgsl */ `
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
fn loadA(m: u32, k: u32) -> f32 {
  if (m >= M || k >= K) { return 0.0; }
  if (TRANS_A) { return a[A_OFF + k * LDA + m]; }
  return a[A_OFF + m * LDA + k];
}
fn loadB(k: u32, n: u32) -> f32 {
  if (k >= K || n >= N) { return 0.0; }
  if (TRANS_B) { return b[B_OFF + n * LDB + k]; }
  return b[B_OFF + k * LDB + n];
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 64u;
  let n0 = wg.x * 64u;
  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let e = li + i * 256u;
      if (TRANS_A) {
        As[(e / 64u) * 64u + e % 64u] = loadA(m0 + e % 64u, k0 + e / 64u);
      } else {
        As[(e % 16u) * 64u + e / 16u] = loadA(m0 + e / 16u, k0 + e % 16u);
      }
      if (TRANS_B) {
        Bs[(e % 16u) * 64u + e / 16u] = loadB(k0 + e % 16u, n0 + e / 16u);
      } else {
        Bs[(e / 64u) * 64u + e % 64u] = loadB(k0 + e / 64u, n0 + e % 64u);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let ar = kk * 64u + lid.y * 4u;
      let br = kk * 64u + lid.x * 4u;
      let bv = vec4f(Bs[br], Bs[br + 1u], Bs[br + 2u], Bs[br + 3u]);
      acc0 += As[ar] * bv;
      acc1 += As[ar + 1u] * bv;
      acc2 += As[ar + 2u] * bv;
      acc3 += As[ar + 3u] * bv;
    }
    workgroupBarrier();
  }
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x * 4u + j;
      if (n >= N) { break; }
      var v = accs[i][j];
      if (HAS_BIAS1) { v += b[BIAS1 + n]; }
      if (HAS_BIAS2 && n < BIAS2_N) { v += b[BIAS2 + n]; }
      let at = C_OFF + m * LDC + n;
      if (ACCUMULATE) { v += cm[at]; }
      cm[at] = v;
    }
  }
}`,
    [cdiv(s.N, 64), cdiv(s.M, 64)],
  );
}
