// WGSL sources of the WebGPU backend, generated per config: every shape, stride and offset is a
// WGSL constant baked into the source, so a kernel's key (its name and constants) decides its
// pipeline. Values that change per step (learning rate, dropout keys, loss slot) come from the
// step uniform; the timestep of a recurrent kernel from the dispatch uniform.
//
// One binding convention for all kernels:
//   @binding(0) the step uniform (`Step`, rewritten before each step)
//   @binding(1) the dispatch uniform (`Site`: the timestep, fixed when the bind group is made)
//   @binding(2…) storage buffers, in the order of the kernel's `buffers`
//
// Arithmetic follows the WASM core: the same exp/sigmoid/tanh polynomials (assembly/simd.ts),
// the same dropout hash (assembly/dropout.ts), PyTorch's Adam, SGD and clip_grad_norm_.

import { type Cell, CELLS, gateBlocks } from "../model/config.ts";

/** Access of one storage binding. */
export type Access = "read" | "read_write";

/** A compute kernel: WGSL source plus the access of each storage binding (from binding 2). */
export interface Kernel {
  /** The name and every baked-in constant: equal keys have equal sources. */
  key: string;
  code: string;
  buffers: Access[];
  /** Workgroups to dispatch, x and y. */
  grid: [number, number];
}

/** Largest number of layers whose dropout keys the step uniform holds. */
export const MAX_LAYERS = 64;
/** Workgroups of the first sum-of-squares pass (and partial sums it leaves). */
export const NORM_PARTIALS = 256;
/** Bytes of the step uniform. */
export const STEP_UNIFORM_BYTES = 64 + MAX_LAYERS * 16;
/** Stride of the dispatch uniforms (the largest minUniformBufferOffsetAlignment allowed). */
export const SITE_STRIDE = 256;

/** Indices into the scalars buffer. */
export const SCALAR = { loss: 0, sumSquares: 1, norm: 2, coef: 3, ok: 4, history: 8 } as const;

const HEADER = /* wgsl */ `
struct Step {
  invCount: f32, lossSlot: u32, clipNorm: f32, clipValue: f32,
  lrOverBc1: f32, invSqrtBc2: f32, beta1: f32, beta2: f32,
  eps: f32, momentum: f32, sgdFirst: u32, dropScale: f32,
  dropP: f32, lr: f32, pad1: u32, pad2: u32,
  keys: array<vec4<u32>, ${MAX_LAYERS}>,
}
struct Site { t: u32, p1: u32, p2: u32, p3: u32 }
@group(0) @binding(0) var<uniform> su: Step;
@group(0) @binding(1) var<uniform> site: Site;
`;

// assembly/simd.ts's exp4, sigmoid4 and tanh4 on one lane (Cephes polynomials).
const MATH = /* wgsl */ `
fn exp_c(x0: f32) -> f32 {
  let x = min(max(x0, -87.3), 88.3);
  let n = round(x * 1.44269504088896341);
  var r = n * -0.693359375 + x;
  r = n * 2.12194440e-4 + r;
  var p = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  let y = (p * r) * r + r + 1.0;
  return y * bitcast<f32>(u32(i32(n) + 127) << 23u);
}
fn sigmoid_c(x: f32) -> f32 { return 1.0 / (1.0 + exp_c(-x)); }
fn tanh_c(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.625) {
    let z = x * x;
    var p = -5.70498872745e-3;
    p = p * z + 2.06390887954e-2;
    p = p * z + -5.37397155531e-2;
    p = p * z + 1.33314422036e-1;
    p = p * z + -3.33332819422e-1;
    return (p * z) * x + x;
  }
  let big = 1.0 - 2.0 / (exp_c(ax + ax) + 1.0);
  return select(big, -big, x < 0.0);
}
// Bit tests, not float compares: a shader compiler may assume floats are finite.
fn finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
const NAN_BITS: u32 = 0x7fc00000u;
`;

const u = (n: number) => `${n >>> 0}u`;
const consts = (c: Record<string, number | boolean>) =>
  Object.entries(c).map(([k, v]) =>
    typeof v === "boolean" ? `const ${k}: bool = ${v};` : `const ${k}: u32 = ${u(v)};`
  ).join("\n");
const keyOf = (name: string, c: Record<string, number | boolean>) =>
  `${name}(${Object.entries(c).map(([k, v]) => `${k}=${v}`).join(",")})`;
const cdiv = (a: number, b: number) => Math.ceil(a / b);

function kernel(
  name: string,
  c: Record<string, number | boolean>,
  buffers: Access[],
  body: string,
  grid: [number, number],
): Kernel {
  return {
    key: keyOf(name, c),
    code: `${HEADER}\n${MATH}\n${consts(c)}\n${body}`,
    buffers,
    grid: [Math.max(1, grid[0]), Math.max(1, grid[1])],
  };
}

/** Operand layout of {@linkcode gemm}: element offsets, leading dimensions, transposes. */
export interface GemmShape {
  M: number;
  N: number;
  K: number;
  /** A is stored [K, M] (read transposed) instead of [M, K]. */
  transA: boolean;
  /** B is stored [N, K] (read transposed) instead of [K, N]. */
  transB: boolean;
  aOff: number;
  lda: number;
  bOff: number;
  ldb: number;
  cOff: number;
  ldc: number;
  /** C += A·B instead of C = A·B. */
  accumulate: boolean;
  /** Offsets into B's buffer of one or two bias vectors [N] added to every row (-1: none). */
  bias1: number;
  bias2: number;
  /** Columns bias2 covers (the GRU's b_hh joins only the r and z blocks); default N. */
  bias2Cols?: number;
}

/**
 * Tiled GEMM C[M, N] (+)= op(A)[M, K] · op(B)[K, N] (+ bias): 64×64 tiles per workgroup of 256
 * invocations, each computing 4×4, K in steps of 16 through workgroup memory.
 * Buffers: A (read), B (read), C (read_write).
 */
export function gemm(s: GemmShape): Kernel {
  const c = {
    M: s.M,
    N: s.N,
    K: s.K,
    TRANS_A: s.transA,
    TRANS_B: s.transB,
    A_OFF: s.aOff,
    LDA: s.lda,
    B_OFF: s.bOff,
    LDB: s.ldb,
    C_OFF: s.cOff,
    LDC: s.ldc,
    ACCUMULATE: s.accumulate,
    HAS_BIAS1: s.bias1 >= 0,
    BIAS1: Math.max(0, s.bias1),
    HAS_BIAS2: s.bias2 >= 0,
    BIAS2: Math.max(0, s.bias2),
    BIAS2_N: s.bias2Cols ?? s.N,
  };
  return kernel(
    "gemm",
    c,
    ["read", "read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> cm: array<f32>;
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

/** Sizes every recurrent kernel bakes in. */
export interface LstmDims {
  B: number;
  T: number;
  H: number;
  V: number;
}

// The cell as a WGSL constant: its index in CELLS, as in assembly/recurrent.ts.
const CELL_CONSTS = "const LSTM: u32 = 0u;\nconst GRU: u32 = 1u;\n";

/**
 * Layer 0's one-hot input projection for all timesteps: gates[t·B + b, g] = W_ih[g, token] +
 * b_ih[g] + b_hh[g], b_hh only on the first `bhhCols` columns (the GRU's b_hn joins the reset
 * product in the step kernel instead). Buffers: tokens [B, T] (read), params (read), gates.
 */
export function gatherInput(
  d: LstmDims,
  G: number,
  wih: number,
  bih: number,
  bhh: number,
  bhhCols = G,
): Kernel {
  const c = { B: d.B, T: d.T, G, V: d.V, WIH: wih, BIH: bih, BHH: bhh, BHH_N: bhhCols };
  return kernel(
    "gatherInput",
    c,
    ["read", "read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> tokens: array<i32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> gates: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * 65535u * 256u;
  if (i >= T * B * G) { return; }
  let r = i / G; let g = i % G;
  let t = r / B; let bb = r % B;
  let token = u32(tokens[bb * T + t]);
  let bias2 = select(0.0, params[BHH + g], g < BHH_N);
  gates[i] = (params[WIH + g * V + token] + params[BIH + g]) + bias2;
}`,
    grid1(d.T * d.B * G, 256),
  );
}

/**
 * A learned embedding's lookup: out[t·B + b, :] = E[tokens[b, t], :] (time-major rows of width
 * N, E at `enc` in params). Buffers: tokens [B, T] (read), params (read), out [T·B, N].
 */
export function embeddingGather(d: LstmDims, N: number, enc: number): Kernel {
  const c = { B: d.B, T: d.T, N, ENC: enc };
  return kernel(
    "embeddingGather",
    c,
    ["read", "read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> tokens: array<i32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * 65535u * 256u;
  if (i >= T * B * N) { return; }
  let r = i / N; let col = i % N;
  let t = r / B; let bb = r % B;
  out[i] = params[ENC + u32(tokens[bb * T + t]) * N + col];
}`,
    grid1(d.T * d.B * N, 256),
  );
}

/**
 * One timestep of a recurrent layer, recurrent GEMM and gate pointwise fused: for each (b, j),
 * a_k = gates[t, b, kH + j] + Σ_i h_{t-1}[b, i] W_hh[kH + j, i] for the cell's blocks k, then
 * the cell (assembly/recurrent.ts): LSTM i, f, g, o, c_t, h_t; GRU r, z, n, h_t with
 * W_hn h_{t-1} + b_hn kept in c slot t+1; RNN h_t = tanh(a). Leaves the activated gates in
 * place. Buffers: params (read), gates [T, B, G], h, c ([T+1, B, H]).
 */
export function stepForward(d: LstmDims, cell: Cell, whh: number, bhh: number): Kernel {
  const blocks = gateBlocks(cell);
  const c = {
    B: d.B,
    H: d.H,
    CELL: CELLS.indexOf(cell),
    BLOCKS: blocks,
    WHH: whh,
    BHN: cell === "gru" ? bhh + 2 * d.H : 0,
  };
  return kernel(
    "stepForward",
    c,
    ["read", "read_write", "read_write", "read_write"],
    /* wgsl */ `${CELL_CONSTS}
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> gates: array<f32>;
@group(0) @binding(4) var<storage, read_write> h: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
var<workgroup> hs: array<f32, 256>;
var<workgroup> ws: array<f32, 1024>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = site.t;
  let j0 = wg.x * 16u; let b0 = wg.y * 16u;
  let j = j0 + lid.x; let bb = b0 + lid.y;
  let prev = t * B * H;
  var acc = vec4f(0.0);
  for (var k0 = 0u; k0 < H; k0 += 16u) {
    let hb = b0 + lid.y; let hk = k0 + lid.x;
    hs[lid.y * 16u + lid.x] = select(0.0, h[prev + hb * H + hk], hb < B && hk < H);
    let wj = j0 + lid.y; let wk = k0 + lid.x;
    for (var q = 0u; q < BLOCKS; q++) {
      ws[(q * 16u + lid.y) * 16u + lid.x] =
        select(0.0, params[WHH + (q * H + wj) * H + wk], wj < H && wk < H);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let hv = hs[lid.y * 16u + kk];
      if (BLOCKS == 1u) {
        acc.x += hv * ws[lid.x * 16u + kk];
      } else {
        // The GRU's three blocks leave ws' fourth unwritten: its lane must not read it.
        acc += hv * vec4f(ws[lid.x * 16u + kk], ws[(16u + lid.x) * 16u + kk],
                          ws[(32u + lid.x) * 16u + kk],
                          select(0.0, ws[(48u + lid.x) * 16u + kk], BLOCKS == 4u));
      }
    }
    workgroupBarrier();
  }
  if (j >= H || bb >= B) { return; }
  let g = (t * B + bb) * BLOCKS * H + j;
  let s = bb * H + j;
  if (CELL == LSTM) {
    let ig = sigmoid_c(gates[g] + acc.x);
    let fg = sigmoid_c(gates[g + H] + acc.y);
    let gg = tanh_c(gates[g + 2u * H] + acc.z);
    let og = sigmoid_c(gates[g + 3u * H] + acc.w);
    gates[g] = ig; gates[g + H] = fg; gates[g + 2u * H] = gg; gates[g + 3u * H] = og;
    let cn = fg * c[prev + s] + ig * gg;
    c[prev + B * H + s] = cn;
    h[prev + B * H + s] = og * tanh_c(cn);
  } else if (CELL == GRU) {
    let r = sigmoid_c(gates[g] + acc.x);
    let z = sigmoid_c(gates[g + H] + acc.y);
    let hn = acc.z + params[BHN + j];
    let n = tanh_c(r * hn + gates[g + 2u * H]);
    gates[g] = r; gates[g + H] = z; gates[g + 2u * H] = n;
    c[prev + B * H + s] = hn;
    h[prev + B * H + s] = z * (h[prev + s] - n) + n;
  } else {
    let hv = tanh_c(gates[g] + acc.x);
    gates[g] = hv;
    h[prev + B * H + s] = hv;
  }
}`,
    [cdiv(d.H, 16), cdiv(d.B, 16)],
  );
}

/**
 * One timestep of a recurrent layer's backward, fused: dh_t = dh[t+1] (from above, plus the
 * GRU's direct path) + d(a_{t+1}) · W_hh (for t < T-1; the GRU's third block multiplies
 * d(W_hn h + b_hn) from c slot t+2), then the cell's pointwise backward at t, overwriting the
 * activated gates with d(a_t). LSTM: dc becomes dLoss/dc_{t-1}. GRU: d(W_hn h_{t-1} + b_hn)
 * over c slot t+1, and the direct path dh_t ⊙ z into dh slot t (assigned at t = 0, so slot 0
 * needs no clearing). Buffers: params (read), gates, h (read), c, dh, dc.
 */
export function stepBackward(d: LstmDims, cell: Cell, whh: number): Kernel {
  const c = {
    B: d.B,
    H: d.H,
    T: d.T,
    CELL: CELLS.indexOf(cell),
    G: gateBlocks(cell) * d.H,
    WHH: whh,
  };
  return kernel(
    "stepBackward",
    c,
    ["read", "read_write", "read", "read_write", "read_write", "read_write"],
    /* wgsl */ `${CELL_CONSTS}
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> gates: array<f32>;
@group(0) @binding(4) var<storage, read> h: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
@group(0) @binding(6) var<storage, read_write> dh: array<f32>;
@group(0) @binding(7) var<storage, read_write> dc: array<f32>;
var<workgroup> das: array<f32, 256>;
var<workgroup> ws: array<f32, 256>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = site.t;
  let j0 = wg.x * 16u; let b0 = wg.y * 16u;
  let j = j0 + lid.x; let bb = b0 + lid.y;
  var rec = 0.0;
  if (t + 1u < T) {
    let next = (t + 1u) * B * G;
    for (var k0 = 0u; k0 < G; k0 += 16u) {
      let db = b0 + lid.y; let dk = k0 + lid.x;
      var v = 0.0;
      if (db < B && dk < G) {
        if (CELL == GRU && dk >= 2u * H) {
          v = c[(t + 2u) * B * H + db * H + dk - 2u * H];
        } else {
          v = gates[next + db * G + dk];
        }
      }
      das[lid.y * 16u + lid.x] = v;
      let wk = k0 + lid.y; let wj = j0 + lid.x;
      ws[lid.y * 16u + lid.x] = select(0.0, params[WHH + wk * H + wj], wk < G && wj < H);
      workgroupBarrier();
      for (var kk = 0u; kk < 16u; kk++) {
        rec += das[lid.y * 16u + kk] * ws[kk * 16u + lid.x];
      }
      workgroupBarrier();
    }
  }
  if (j >= H || bb >= B) { return; }
  let s = bb * H + j;
  let dhv = dh[(t + 1u) * B * H + s] + rec;
  let g = (t * B + bb) * G + j;
  if (CELL == LSTM) {
    let ig = gates[g]; let fg = gates[g + H]; let gg = gates[g + 2u * H];
    let og = gates[g + 3u * H];
    let tc = tanh_c(c[(t + 1u) * B * H + s]);
    let dcv = (dhv * og) * (1.0 - tc * tc) + dc[s];
    gates[g] = (dcv * gg) * (ig * (1.0 - ig));
    gates[g + H] = (dcv * c[t * B * H + s]) * (fg * (1.0 - fg));
    gates[g + 2u * H] = (dcv * ig) * (1.0 - gg * gg);
    gates[g + 3u * H] = (dhv * tc) * (og * (1.0 - og));
    dc[s] = dcv * fg;
  } else if (CELL == GRU) {
    let r = gates[g]; let z = gates[g + H]; let n = gates[g + 2u * H];
    let hn = c[(t + 1u) * B * H + s];
    let dan = (dhv * (1.0 - z)) * (1.0 - n * n);
    gates[g] = (dan * hn) * (r * (1.0 - r));
    gates[g + H] = (dhv * (h[t * B * H + s] - n)) * (z * (1.0 - z));
    gates[g + 2u * H] = dan;
    c[(t + 1u) * B * H + s] = dan * r;
    if (t == 0u) { dh[s] = dhv * z; } else { dh[t * B * H + s] += dhv * z; }
  } else {
    let hv = gates[g];
    gates[g] = dhv * (1.0 - hv * hv);
  }
}`,
    [cdiv(d.H, 16), cdiv(d.B, 16)],
  );
}

/**
 * Inverted dropout on a layer's output: mask[i] = 0 when hash(key, i) < p, else 1/(1-p);
 * out[i] = x[X_OFF + i] · mask[i]. The key (seed, step, layer) comes from the step uniform.
 * Buffers: x (read), mask, out.
 */
export function dropout(n: number, xOff: number, layer: number): Kernel {
  const c = { N: n, X_OFF: xOff, LAYER: layer };
  return kernel(
    "dropout",
    c,
    ["read", "read_write", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
fn mix32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u; x *= 0x7feb352du; x ^= x >> 15u; x *= 0x846ca68bu; x ^= x >> 16u;
  return x;
}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * 65535u * 256u;
  if (i >= N) { return; }
  let key = su.keys[LAYER].x;
  let bits = mix32(key ^ mix32(i));
  let r = f32(bits >> 8u) * (1.0 / 16777216.0);
  let m = select(su.dropScale, 0.0, r < su.dropP);
  mask[i] = m;
  out[i] = x[X_OFF + i] * m;
}`,
    grid1(n, 256),
  );
}

function grid1(n: number, size: number): [number, number] {
  const groups = cdiv(n, size);
  return groups <= 65535 ? [groups, 1] : [65535, cdiv(groups, 65535)];
}

/** y[Y_OFF + i] *= m[i] for n elements. Buffers: m (read), y. */
export function multiplyInto(n: number, yOff: number): Kernel {
  return kernel(
    "multiplyInto",
    { N: n, Y_OFF: yOff },
    ["read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * 65535u * 256u;
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
    ["read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
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

/**
 * For each token v, the sum of the rows of src [T·B, W] whose input token is v, in row order
 * (as assembly/embedding.ts). With `tokenMajor` this is a learned embedding's gradient dE
 * [V, W] (src = dx of layer 0); without, it is stored transposed, [W, V], and is the one-hot
 * layer's dW_ih (src = d(a), W = G): one-hot input times W_ih^T is a row lookup of W_ih^T. The
 * rows come grouped by token (a counting sort on the CPU: groupStart [V+1], rowsByToken [T·B]).
 * Buffers: groupStart (read), rowsByToken (read), src (read), grads.
 */
export function tokenRowSums(d: LstmDims, W: number, out: number, tokenMajor: boolean): Kernel {
  const c = { W, V: d.V, OUT: out, TOKEN_MAJOR: tokenMajor };
  return kernel(
    "tokenRowSums",
    c,
    ["read", "read", "read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> groupStart: array<u32>;
@group(0) @binding(3) var<storage, read> rowsByToken: array<u32>;
@group(0) @binding(4) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read_write> grads: array<f32>;
@compute @workgroup_size(64, 4)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let col = id.x; let v = id.y;
  if (col >= W || v >= V) { return; }
  var s = 0.0;
  for (var i = groupStart[v]; i < groupStart[v + 1u]; i++) { s += src[rowsByToken[i] * W + col]; }
  if (TOKEN_MAJOR) { grads[OUT + v * W + col] = s; } else { grads[OUT + col * V + v] = s; }
}`,
    [cdiv(W, 64), cdiv(d.V, 4)],
  );
}

/**
 * Fused log-softmax and cross-entropy, one invocation per row of logits [T·B, V] (time-major);
 * targets [B, T], -1 = padding (zero loss, zero gradient). rowLoss[r] = logsumexp - z[target];
 * with WITH_GRAD, dlogits = (softmax - onehot) · invCount. Buffers: logits (read), targets
 * (read), rowLoss, dlogits (training only).
 */
export function crossEntropy(d: LstmDims, withGrad: boolean): Kernel {
  const c = { B: d.B, T: d.T, V: d.V, WITH_GRAD: withGrad };
  const access: Access[] = withGrad
    ? ["read", "read", "read_write", "read_write"]
    : ["read", "read", "read_write"];
  return kernel(
    "crossEntropy",
    c,
    access,
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;
${withGrad ? "@group(0) @binding(5) var<storage, read_write> dz: array<f32>;" : ""}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let r = id.x + id.y * 65535u * 64u;
  if (r >= T * B) { return; }
  let t = r / B; let bb = r % B;
  let tgt = targets[bb * T + t];
  let row = r * V;
  if (tgt < 0) {
    rowLoss[r] = 0.0;
    ${withGrad ? "for (var j = 0u; j < V; j++) { dz[row + j] = 0.0; }" : ""}
    return;
  }
  // min/max may drop a NaN operand: a non-finite logit makes the row's loss NaN explicitly.
  var mx = z[row];
  var bad = !finite(mx);
  for (var j = 1u; j < V; j++) { mx = max(mx, z[row + j]); bad = bad || !finite(z[row + j]); }
  if (bad) {
    rowLoss[r] = bitcast<f32>(NAN_BITS);
    return;
  }
  var s = 0.0;
  for (var j = 0u; j < V; j++) {
    let e = exp_c(z[row + j] - mx);
    ${withGrad ? "dz[row + j] = e;" : ""}
    s += e;
  }
  rowLoss[r] = (mx + log(s)) - z[row + u32(tgt)];
  ${
      withGrad
        ? `let k = su.invCount / s;
  for (var j = 0u; j < V; j++) { dz[row + j] = dz[row + j] * k; }
  dz[row + u32(tgt)] = dz[row + u32(tgt)] - su.invCount;`
        : ""
    }
}`,
    grid1(d.T * d.B, 64),
  );
}

/**
 * Mean loss of the batch into scalars[lossSlot] (and scalars[loss]): one workgroup sums
 * rowLoss in a fixed order. Buffers: rowLoss (read), scalars.
 */
export function lossSum(rows: number): Kernel {
  return kernel(
    "lossSum",
    { ROWS: rows, LOSS: SCALAR.loss },
    ["read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(3) var<storage, read_write> scalars: array<f32>;
var<workgroup> part: array<f32, 256>;
var<workgroup> badPart: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  var bad = 0u;
  for (var r = li; r < ROWS; r += 256u) {
    s += rowLoss[r];
    bad |= select(1u, 0u, finite(rowLoss[r]));
  }
  part[li] = s;
  badPart[li] = bad;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (li < w) { part[li] += part[li + w]; badPart[li] |= badPart[li + w]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    var loss = part[0] * su.invCount;
    if (badPart[0] != 0u) { loss = bitcast<f32>(NAN_BITS); }
    scalars[LOSS] = loss;
    scalars[su.lossSlot] = loss;
  }
}`,
    [1, 1],
  );
}

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
    ["read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
var<workgroup> part: array<f32, 256>;
var<workgroup> badPart: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i0 = u64_div(N, wg.x); let i1 = u64_div(N, wg.x + 1u);
  var s = 0.0;
  var bad = 0u;
  for (var i = i0 + li; i < i1; i += 256u) {
    s += g[i] * g[i];
    bad |= select(1u, 0u, finite(g[i]));
  }
  part[li] = s;
  badPart[li] = bad;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (li < w) { part[li] += part[li + w]; badPart[li] |= badPart[li + w]; }
    workgroupBarrier();
  }
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
    ["read", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> scalars: array<f32>;
var<workgroup> part: array<f32, 256>;
var<workgroup> badPart: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  part[li] = select(0.0, partials[li], li < PARTS);
  badPart[li] = select(0u, u32(partials[PARTS + li] != 0.0), li < PARTS);
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (li < w) { part[li] += part[li + w]; badPart[li] |= badPart[li + w]; }
    workgroupBarrier();
  }
  if (li != 0u) { return; }
  var norm = sqrt(part[0]);
  if (badPart[0] != 0u) { norm = bitcast<f32>(NAN_BITS); }
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
 * Adam: PyTorch's arithmetic; SGD: torch.optim.SGD with momentum (buffer in m).
 * Buffers: scalars (read), grads (read), params, m, v.
 */
export function optimizerStep(n: number, optimizer: "adam" | "sgd"): Kernel {
  const c = { N: n, ADAM: optimizer === "adam", COEF: SCALAR.coef, OK: SCALAR.ok };
  return kernel(
    "optimizerStep",
    c,
    ["read", "read", "read_write", "read_write", "read_write"],
    /* wgsl */ `
@group(0) @binding(2) var<storage, read> scalars: array<f32>;
@group(0) @binding(3) var<storage, read> grads: array<f32>;
@group(0) @binding(4) var<storage, read_write> p: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * 65535u * 256u;
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
    p[i] = p[i] - (su.lrOverBc1 * mv) / denom;
  } else {
    var d = g;
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
