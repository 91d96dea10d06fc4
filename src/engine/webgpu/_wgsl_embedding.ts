// Token lookups in WGSL (assembly/embedding.ts's counterpart): gathering a table's row for each
// input token (a learned embedding's forward, or the one-hot layer's input projection, which is
// a lookup of W_ih's columns) and the scatter back (the sums of gradient rows by token).

import type { Dims, Kernel } from "./_wgsl_common.ts";
import { cdiv, flatIndex, grid1, kernel, read, readWrite } from "./_wgsl_common.ts";

/** What {@linkcode gatherRows} looks up, and the biases it adds. */
export interface GatherSpec {
  /** Columns of a row (the embedding's N, or the gates' G). */
  width: number;
  /** Offset of the table in params. */
  table: number;
  /**
   * The table is [V, width], a row per token (an embedding E); else [width, V], a column per
   * token (the one-hot layer's W_ih).
   */
  tokenMajor: boolean;
  /** Offsets of two bias vectors [width] added as (x + b1) + b2 (default: none). */
  bias1?: number;
  bias2?: number;
  /** Columns bias2 covers (the GRU's b_hn joins the reset product instead); default width. */
  bias2Cols?: number;
}

/**
 * The rows of the tokens, time-major: out[t·B + b, col] = table(tokens[b, t], col), plus the
 * biases when given. A learned embedding's lookup, or layer 0's one-hot input projection for
 * all timesteps (W_ih[g, token] + b_ih[g] + b_hh[g]). Buffers: tokens [B, T] (read), params
 * (read), out [T·B, width].
 */
export function gatherRows(d: Dims, s: GatherSpec): Kernel {
  const bias = s.bias1 !== undefined;
  const c = {
    B: d.B,
    T: d.T,
    V: d.V,
    W: s.width,
    TABLE: s.table,
    TOKEN_MAJOR: s.tokenMajor,
    HAS_BIAS: bias,
    BIAS1: s.bias1 ?? 0,
    BIAS2: s.bias2 ?? 0,
    BIAS2_N: bias ? s.bias2Cols ?? s.width : 0,
  };
  return kernel(
    "gatherRows",
    c,
    [read("tokens", "i32"), read("params"), readWrite("out")],
    /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = ${flatIndex(256)};
  if (i >= T * B * W) { return; }
  let r = i / W; let col = i % W;
  let t = r / B; let bb = r % B;
  let token = u32(tokens[bb * T + t]);
  var v: f32;
  if (TOKEN_MAJOR) {
    v = params[TABLE + token * W + col];
  } else {
    v = params[TABLE + col * V + token];
  }
  if (HAS_BIAS) {
    let bias2 = select(0.0, params[BIAS2 + col], col < BIAS2_N);
    v = (v + params[BIAS1 + col]) + bias2;
  }
  out[i] = v;
}`,
    grid1(d.T * d.B * s.width, 256),
  );
}

/**
 * For each token v, the sum of the rows of src [T·B, W] whose input token is v, in row order
 * (as assembly/embedding.ts): the scatter of {@linkcode gatherRows}. With `tokenMajor` this is
 * a learned embedding's gradient dE [V, W] (src = dx of layer 0); without, it is stored
 * transposed, [W, V], and is the one-hot layer's dW_ih (src = d(a), W = G). The rows come
 * grouped by token (a counting sort on the host: groupStart [V+1], rowsByToken [T·B]).
 * Buffers: groupStart (read), rowsByToken (read), src (read), grads.
 */
export function tokenRowSums(d: Dims, W: number, out: number, tokenMajor: boolean): Kernel {
  const c = { W, V: d.V, OUT: out, TOKEN_MAJOR: tokenMajor };
  return kernel(
    "tokenRowSums",
    c,
    [read("groupStart", "u32"), read("rowsByToken", "u32"), read("src"), readWrite("grads")],
    /* wgsl */ `
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
