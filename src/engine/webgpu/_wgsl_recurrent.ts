// The recurrent timestep in WGSL (assembly/recurrent.ts's counterpart): one kernel per
// timestep that fuses the recurrent GEMM with the cell's pointwise equations, forward and
// backward, for the three cells (LSTM, GRU, tanh RNN). The input projections around it are
// GEMMs (_wgsl_gemm.ts) or, for one-hot input, row gathers (_wgsl_embedding.ts).

import { type Cell, CELLS, gateBlocks } from "../../model/config.ts";
import { cdiv, type Dims, type Kernel, kernel, read, readWrite } from "./_wgsl_common.ts";

// The cell as a WGSL constant: its index in CELLS, as in assembly/recurrent.ts.
const CELL_CONSTS = "const LSTM: u32 = 0u;\nconst GRU: u32 = 1u;\n";

// The entry of a timestep kernel: a 16×16 tile of (hidden unit j, sequence bb) at t = site.t,
// the workgroup's first j0 and b0 (dispatched over cdiv(H, 16) × cdiv(B, 16) workgroups).
const TIMESTEP_MAIN = /* wgsl */ `@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = site.t;
  let j0 = wg.x * 16u; let b0 = wg.y * 16u;
  let j = j0 + lid.x; let bb = b0 + lid.y;`;

/**
 * One timestep of a recurrent layer, recurrent GEMM and gate pointwise fused: for each (b, j),
 * a_k = gates[t, b, kH + j] + Σ_i h_{t-1}[b, i] W_hh[kH + j, i] for the cell's blocks k, then
 * the cell (assembly/recurrent.ts): LSTM i, f, g, o, c_t, h_t; GRU r, z, n, h_t with
 * W_hn h_{t-1} + b_hn kept in c slot t+1; RNN h_t = tanh(a). Leaves the activated gates in
 * place. Buffers: params (read), gates [T, B, G], h, c ([T+1, B, H]).
 */
export function stepForward(d: Dims, cell: Cell, whh: number, bhh: number): Kernel {
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
    [read("params"), readWrite("gates"), readWrite("h"), readWrite("c")],
    /* wgsl */ `${CELL_CONSTS}
var<workgroup> hs: array<f32, 256>;
var<workgroup> ws: array<f32, 1024>;
${TIMESTEP_MAIN}
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
export function stepBackward(d: Dims, cell: Cell, whh: number): Kernel {
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
    [
      read("params"),
      readWrite("gates"),
      read("h"),
      readWrite("c"),
      readWrite("dh"),
      readWrite("dc"),
    ],
    /* wgsl */ `${CELL_CONSTS}
var<workgroup> das: array<f32, 256>;
var<workgroup> ws: array<f32, 256>;
${TIMESTEP_MAIN}
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
