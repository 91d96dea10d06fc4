// One recurrent layer over T timesteps for B sequences, in PyTorch's equations for three
// cells. The gates of all three are laid out as blocks of H columns, a = [a_0 | a_1 | ...]:
//
//   LSTM (4 blocks i, f, g, o):  a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
//     i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
//     c_t = f ⊙ c_{t-1} + i ⊙ g        h_t = o ⊙ tanh(c_t)
//   GRU (3 blocks r, z, n; b_hn inside the reset product, as nn.GRU):
//     r = σ(W_ir x + b_ir + W_hr h + b_hr)    z = σ(W_iz x + b_iz + W_hz h + b_hz)
//     n = tanh(W_in x + b_in + r ⊙ (W_hn h_{t-1} + b_hn))     h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
//   RNN (1 block, tanh):  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
//
// Buffers (f32, row-major, time-major):
//   x      one-hot: i32 token ids [B, T]; dense: f32 [T·B, in]
//   gates  [T, B, G]  activated gates after forward (G = blocks·H); overwritten by d(a) in
//          backward (for the GRU: d of the input-side pre-activations, a_r, a_z, a_n)
//   h      [T+1, B, H] slot 0 holds h0, slot t+1 the state after timestep t
//   c      [T+1, B, H] LSTM: slot 0 holds c0, slot t+1 the cell after t. GRU: slot t+1 holds
//          W_hn h_t + b_hn, which backward needs and then overwrites with its gradient. RNN:
//          unused.
//   dh     [T+1, B, H] slots 1..T: dLoss/dh_t from above; slot 0 receives dLoss/dh0
//   dc     [B, H]      LSTM only: in dLoss/dc_T; out dLoss/dc0
// Each direction is two kernels, two dispatches: forward is recurrentForwardInput (the input
// projection for all timesteps, one GEMM or a row gather for one-hot input, so only h_{t-1}
// W_hh^T stays inside the time loop), then recurrentForwardLoop; backward is
// recurrentBackwardLoop (collects d(a) for every timestep), then recurrentWeightGrads (dW_ih and
// dW_hh each as one GEMM over all T·B rows). The split also lets bench/profile.ts time them.

import {
  gemm,
  gemmBlock,
  gemmPacked,
  packB,
  packedBytes,
  packPanels,
  panelsOf,
  panelStart,
} from "./gemm";
import { barrier, share, share4, share4End, shareEnd } from "./threads";
import { broadcastRows, sumRowsInto, sumRowsStrided, sumRowsTwice, transpose } from "./ops";
import { addInto, dsigmoid4, dtanh4, madd, sigmoid4, tanh4 } from "./simd";
import { embeddingBackward, embeddingForward } from "./embedding";

export const LSTM: i32 = 0;
export const GRU: i32 = 1;
export const RNN: i32 = 2;

/** Gate blocks of a cell: 4 for the LSTM, 3 for the GRU, 1 for the tanh RNN. */
// @ts-ignore: decorator
@inline export function blocksOf(cell: i32): i32 {
  return cell == LSTM ? 4 : cell == GRU ? 3 : 1;
}

// Lane-generic load/store: full = four lanes, else lane 0 only (row tails).
// @ts-ignore: decorator
@inline function ld(p: usize, full: bool): v128 {
  return full ? v128.load(p) : f32x4.splat(load<f32>(p));
}

// @ts-ignore: decorator
@inline function st(p: usize, v: v128, full: bool): void {
  if (full) v128.store(p, v);
  else store<f32>(p, f32x4.extract_lane(v, 0));
}

// The cell functions below compute one group of lanes (four, or one when not `full`) from unit
// j of a row; every pointer is at unit 0 of the row. g points at the row's first gate block,
// the other blocks follow at multiples of hb = H·4 bytes.

// LSTM gate pointwise forward.
// @ts-ignore: decorator
@inline function lstmCellForward(
  g: usize, hb: usize, cPrev: usize, cNext: usize, hNext: usize, j: i32, full: bool,
): void {
  const u = <usize>j * 4;
  g += u;
  const i = sigmoid4(ld(g, full));
  const f = sigmoid4(ld(g + hb, full));
  const gg = tanh4(ld(g + hb * 2, full));
  const o = sigmoid4(ld(g + hb * 3, full));
  st(g, i, full);
  st(g + hb, f, full);
  st(g + hb * 2, gg, full);
  st(g + hb * 3, o, full);
  const c = madd(f, ld(cPrev + u, full), f32x4.mul(i, gg));
  st(cNext + u, c, full);
  st(hNext + u, f32x4.mul(o, tanh4(c)), full);
}

// LSTM gate pointwise backward: reads the activated gates at g and writes d(a) over them; dc
// holds dLoss/dc_t on entry and dLoss/dc_{t-1} on exit.
// @ts-ignore: decorator
@inline function lstmCellBackward(
  g: usize, hb: usize, cPrev: usize, cNext: usize, dh: usize, dc: usize, j: i32, full: bool,
): void {
  const u = <usize>j * 4;
  g += u;
  dc += u;
  const i = ld(g, full);
  const f = ld(g + hb, full);
  const gg = ld(g + hb * 2, full);
  const o = ld(g + hb * 3, full);
  const tc = tanh4(ld(cNext + u, full));
  const dhv = ld(dh + u, full);
  const dcv = madd(f32x4.mul(dhv, o), dtanh4(tc), ld(dc, full));
  const dOut = f32x4.mul(dhv, tc);
  st(g, f32x4.mul(f32x4.mul(dcv, gg), dsigmoid4(i)), full);
  st(g + hb, f32x4.mul(f32x4.mul(dcv, ld(cPrev + u, full)), dsigmoid4(f)), full);
  st(g + hb * 2, f32x4.mul(f32x4.mul(dcv, i), dtanh4(gg)), full);
  st(g + hb * 3, f32x4.mul(dOut, dsigmoid4(o)), full);
  st(dc, f32x4.mul(dcv, f), full);
}

// GRU pointwise forward: g holds a_r, a_z and the input part of a_n (biases included); hn
// holds W_hn h_{t-1} + b_hn.
// @ts-ignore: decorator
@inline function gruCellForward(
  g: usize, hb: usize, hn: usize, hPrev: usize, hNext: usize, j: i32, full: bool,
): void {
  const u = <usize>j * 4;
  g += u;
  const r = sigmoid4(ld(g, full));
  const z = sigmoid4(ld(g + hb, full));
  const n = tanh4(madd(r, ld(hn + u, full), ld(g + hb * 2, full)));
  st(g, r, full);
  st(g + hb, z, full);
  st(g + hb * 2, n, full);
  st(hNext + u, madd(z, f32x4.sub(ld(hPrev + u, full), n), n), full);
}

// GRU pointwise backward: writes d(a_r), d(a_z), d(a_n) over the gates, d(W_hn h + b_hn) over
// hn, and adds the direct path z ⊙ dh_t into dh_{t-1}.
// @ts-ignore: decorator
@inline function gruCellBackward(
  g: usize, hb: usize, hn: usize, hPrev: usize, dh: usize, dhPrev: usize, j: i32, full: bool,
): void {
  const u = <usize>j * 4;
  g += u;
  hn += u;
  dhPrev += u;
  const r = ld(g, full);
  const z = ld(g + hb, full);
  const n = ld(g + hb * 2, full);
  const dhv = ld(dh + u, full);
  const dan = f32x4.mul(f32x4.mul(dhv, f32x4.sub(f32x4.splat(1), z)), dtanh4(n));
  const dar = f32x4.mul(f32x4.mul(dan, ld(hn, full)), dsigmoid4(r));
  const daz = f32x4.mul(f32x4.mul(dhv, f32x4.sub(ld(hPrev + u, full), n)), dsigmoid4(z));
  st(hn, f32x4.mul(dan, r), full);
  st(g, dar, full);
  st(g + hb, daz, full);
  st(g + hb * 2, dan, full);
  st(dhPrev, madd(dhv, z, ld(dhPrev, full)), full);
}

// RNN pointwise forward: h_t = tanh(a), kept in the gates too for backward.
// @ts-ignore: decorator
@inline function rnnCellForward(g: usize, hNext: usize, j: i32, full: bool): void {
  const u = <usize>j * 4;
  const h = tanh4(ld(g + u, full));
  st(g + u, h, full);
  st(hNext + u, h, full);
}

// RNN pointwise backward: d(a) = dh ⊙ (1 - h²) over the gates.
// @ts-ignore: decorator
@inline function rnnCellBackward(g: usize, dh: usize, j: i32, full: bool): void {
  const u = <usize>j * 4;
  const h = ld(g + u, full);
  st(g + u, f32x4.mul(ld(dh + u, full), dtanh4(h)), full);
}

// Forward pointwise over units [j0, j1) of one row: four lanes at a time, then the tail. One
// branch on the cell per row, none per lane group.
// @ts-ignore: decorator
@inline function rowForward(
  cell: i32, g: usize, hb: usize, hPrev: usize, cPrev: usize, hNext: usize, cNext: usize,
  j0: i32, j1: i32,
): void {
  let j = j0;
  if (cell == LSTM) {
    for (; j + 4 <= j1; j += 4) lstmCellForward(g, hb, cPrev, cNext, hNext, j, true);
    for (; j < j1; j++) lstmCellForward(g, hb, cPrev, cNext, hNext, j, false);
  } else if (cell == GRU) {
    for (; j + 4 <= j1; j += 4) gruCellForward(g, hb, cNext, hPrev, hNext, j, true);
    for (; j < j1; j++) gruCellForward(g, hb, cNext, hPrev, hNext, j, false);
  } else {
    for (; j + 4 <= j1; j += 4) rnnCellForward(g, hNext, j, true);
    for (; j < j1; j++) rnnCellForward(g, hNext, j, false);
  }
}

// Backward pointwise over units [j0, j1) of one row, as rowForward.
// @ts-ignore: decorator
@inline function rowBackward(
  cell: i32, g: usize, hb: usize, hPrev: usize, cPrev: usize, cNext: usize, dh: usize,
  dhPrev: usize, dc: usize, j0: i32, j1: i32,
): void {
  let j = j0;
  if (cell == LSTM) {
    for (; j + 4 <= j1; j += 4) lstmCellBackward(g, hb, cPrev, cNext, dh, dc, j, true);
    for (; j < j1; j++) lstmCellBackward(g, hb, cPrev, cNext, dh, dc, j, false);
  } else if (cell == GRU) {
    for (; j + 4 <= j1; j += 4) gruCellBackward(g, hb, cNext, hPrev, dh, dhPrev, j, true);
    for (; j < j1; j++) gruCellBackward(g, hb, cNext, hPrev, dh, dhPrev, j, false);
  } else {
    for (; j + 4 <= j1; j += 4) rnnCellBackward(g, dh, j, true);
    for (; j < j1; j++) rnnCellBackward(g, dh, j, false);
  }
}

/**
 * Bytes of a layer's packed weights, kept between calls: W_hh^T packed as one block per gate
 * (so a thread owns whole hidden units: every gate of unit j lands in its columns), then the
 * input weights (W_ih^T rows to gather for one-hot input, else W_ih^T packed the same way).
 */
export function recurrentPackedBytes(cell: i32, inSize: i32, oneHot: bool, H: i32): usize {
  const blocks = <usize>blocksOf(cell);
  const input = oneHot ? <usize>inSize * blocks * <usize>H * 4 : blocks * packedBytes(inSize, H);
  return blocks * packedBytes(H, H) + input;
}

/**
 * Packs a layer's weights into `packed` (recurrentPackedBytes): W_hh^T and, for dense input,
 * W_ih^T as gate blocks of [K, H] panels; for one-hot input, W_ih^T [V, G] as plain rows.
 * Each thread packs the panels of its own hidden units.
 */
export function recurrentPack(
  cell: i32, oneHot: bool, inSize: i32, wih: usize, whh: usize, packed: usize, H: i32,
): void {
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const blockBytes = packedBytes(H, H);
  const packedIn = packed + <usize>blocks * blockBytes;
  const inBlockBytes = packedBytes(inSize, H);
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  for (let k = 0; k < blocks; k++) {
    const rowsK = <usize>k * <usize>H;
    packPanels(whh + rowsK * <usize>H * 4, H, true, H, H, packed + <usize>k * blockBytes, p0, p1);
    if (!oneHot) {
      const dst = packedIn + <usize>k * inBlockBytes;
      packPanels(wih + rowsK * <usize>inSize * 4, inSize, true, inSize, H, dst, p0, p1);
    }
  }
  // W_ih is [G, V]: its transpose makes each token's column a contiguous row to copy.
  if (oneHot) transpose(wih, G, inSize, packedIn, false);
  else barrier();
}

/** Bytes of `scratch` that recurrentBackwardLoop and recurrentWeightGrads need. */
export function recurrentScratchBytes(
  cell: i32, inSize: i32, oneHot: bool, T: i32, B: i32, H: i32,
): usize {
  const G = blocksOf(cell) * H;
  let bytes = packedBytes(G, H); // W_hh packed for dh
  bytes = max(bytes, packedBytes(T * B, H)); // h_{0..T-1} packed for dW_hh
  if (oneHot) {
    bytes = max(bytes, <usize>inSize * <usize>G * 4); // dW_ih^T rows
  } else {
    bytes = max(bytes, packedBytes(T * B, inSize)); // x packed for dW_ih
    bytes = max(bytes, packedBytes(G, inSize)); // W_ih packed for dx
  }
  return bytes;
}

/**
 * Forward, first phase: the part that needs no recurrence. With `repack`, packs the weights
 * into `packed` (recurrentPackedBytes; without, reuses them: sampling, where the weights do not
 * change between characters), then the input projection of all T·B rows at once, gates =
 * x W_ih^T + b_ih + b_hh (the GRU's b_hn apart), as one GEMM (a row gather for one-hot input).
 * Returns after a barrier. recurrentForwardLoop then fills gates, h and c slots 1..T.
 */
export function recurrentForwardInput(
  cell: i32,
  x: usize,
  oneHot: bool,
  inSize: i32,
  wih: usize,
  whh: usize,
  bih: usize,
  bhh: usize,
  gates: usize,
  packed: usize,
  repack: bool,
  T: i32,
  B: i32,
  H: i32,
): void {
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const rows = T * B;
  const hb = <usize>H * 4;
  const packedIn = packed + <usize>blocks * packedBytes(H, H);
  const inBlockBytes = packedBytes(inSize, H);
  if (repack) recurrentPack(cell, oneHot, inSize, wih, whh, packed, H);
  if (oneHot) {
    // One-hot times W_ih^T is a row lookup in W_ih^T: an embedding of width G.
    embeddingForward(x, packedIn, gates, T, B, G);
    broadcastRows(gates, bih, rows, G, true);
  } else {
    broadcastRows(gates, bih, rows, G, false);
    for (let k = 0; k < blocks; k++) {
      const block = packedIn + <usize>k * inBlockBytes;
      gemmPacked(x, inSize, false, block, gates + <usize>k * hb, G, rows, H, inSize, true);
    }
  }
  // The GRU's b_hn belongs inside the reset product: it joins W_hn h in c, not the gates.
  if (cell == GRU) addRowsStrided(gates, G, bhh, rows, 2 * H);
  else broadcastRows(gates, bhh, rows, G, true);
}

/**
 * The time loop of forward over packed weights: per timestep, gates += h_{t-1} W_hh^T for this
 * thread's hidden units, then the cell's pointwise step; one barrier per timestep.
 */
export function recurrentForwardLoop(
  cell: i32,
  bhh: usize,
  gates: usize,
  h: usize,
  c: usize,
  packed: usize,
  T: i32,
  B: i32,
  H: i32,
): void {
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const hb = <usize>H * 4;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * hb;
  const blockBytes = packedBytes(H, H);
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  // This thread's hidden units: [j0, j1), whole panels of the gate blocks.
  const j0 = panelStart(p0, H), j1 = panelStart(p1, H);
  const mine = <usize>(j1 - j0) * 4;
  const bhn = bhh + 2 * hb;
  for (let t = 0; t < T; t++) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const hPrev = h + <usize>t * stateStep, hNext = hPrev + stateStep;
    const cPrev = c + <usize>t * stateStep, cNext = cPrev + stateStep;
    for (let k = 0; k < blocks; k++) {
      if (cell == GRU && k == 2) {
        // The GRU's W_hn h_{t-1} + b_hn goes to c slot t+1 (cNext).
        for (let b = 0; b < B; b++) {
          memory.copy(cNext + <usize>b * hb + <usize>j0 * 4, bhn + <usize>j0 * 4, mine);
        }
        gemmBlock(hPrev, H, false, packed + 2 * blockBytes, cNext, H, H, H, true, 0, B, p0, p1);
      } else {
        const gk = gt + <usize>k * hb;
        gemmBlock(hPrev, H, false, packed + <usize>k * blockBytes, gk, G, H, H, true, 0, B, p0, p1);
      }
    }
    for (let b = 0; b < B; b++) {
      const s = <usize>b * hb, g = gt + <usize>b * gateRow;
      rowForward(cell, g, hb, hPrev + s, cPrev + s, hNext + s, cNext + s, j0, j1);
    }
    barrier();
  }
}

/**
 * Backward, first phase, after the forward phases on the same buffers: the time loop. Per
 * timestep (last first), the cell's pointwise backward writes d(a_t) over the gates, then
 * dh_{t-1} += d(a_t) W_hh for this thread's units. Reads dLoss/dh_t from dh slots 1..T and
 * dLoss/dc_T from dc; leaves every d(a) in gates, dh0 in dh slot 0 and dc0 in dc. Returns after
 * a barrier.
 */
export function recurrentBackwardLoop(
  cell: i32,
  whh: usize,
  gates: usize,
  h: usize,
  c: usize,
  dh: usize,
  dc: usize,
  scratch: usize,
  T: i32,
  B: i32,
  H: i32,
): void {
  const G = blocksOf(cell) * H;
  const hb = <usize>H * 4;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * hb;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  const j0 = panelStart(p0, H), j1 = panelStart(p1, H);
  const mine = <usize>(j1 - j0) * 4;
  for (let b = 0; b < B; b++) memory.fill(dh + <usize>b * hb + <usize>j0 * 4, 0, mine);
  // W_hh packed for dh_{t-1} = d(a_t) W_hh. The GRU's third block multiplies d(W_hn h + b_hn)
  // (kept in c), not d(a_n), so its rows are packed apart.
  const split = cell == GRU ? 2 * H : G;
  const whhRest = scratch + packedBytes(split, H);
  packB(whh, H, false, split, H, scratch);
  if (cell == GRU) packB(whh + <usize>split * hb, H, false, H, H, whhRest);
  for (let t = T - 1; t >= 0; t--) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const hPrev = h + <usize>t * stateStep;
    const cPrev = c + <usize>t * stateStep, cNext = cPrev + stateStep;
    const dhPrev = dh + <usize>t * stateStep, dhNext = dhPrev + stateStep;
    for (let b = 0; b < B; b++) {
      const s = <usize>b * hb, g = gt + <usize>b * gateRow;
      rowBackward(
        cell, g, hb, hPrev + s, cPrev + s, cNext + s, dhNext + s, dhPrev + s, dc + s, j0, j1,
      );
    }
    barrier();
    // dh_{t-1}[:, my units] += d(a_t) · W_hh[:, my units]: needs every unit's d(a_t).
    gemmBlock(gt, G, false, scratch, dhPrev, H, H, split, true, 0, B, p0, p1);
    if (cell == GRU) gemmBlock(cNext, H, false, whhRest, dhPrev, H, H, H, true, 0, B, p0, p1);
  }
  barrier();
}

/**
 * Backward, second phase: the weight gradients of every timestep at once, after
 * recurrentBackwardLoop. Accumulates dW_hh += d(a)^T h_{0..T-1}, the biases, dW_ih += d(a)^T x
 * (a scatter for one-hot input) and, for dense input with dx ≠ 0, writes dx = d(a) W_ih [T·B, in].
 */
export function recurrentWeightGrads(
  cell: i32,
  x: usize,
  oneHot: bool,
  inSize: i32,
  wih: usize,
  gates: usize,
  h: usize,
  c: usize,
  dwih: usize,
  dwhh: usize,
  dbih: usize,
  dbhh: usize,
  dx: usize,
  scratch: usize,
  T: i32,
  B: i32,
  H: i32,
): void {
  const G = blocksOf(cell) * H;
  const rows = T * B;
  const hb = <usize>H * 4;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * hb;
  const split = cell == GRU ? 2 * H : G;
  // dW_hh += d(a)^T · h_{0..T-1}: all timesteps in one GEMM (two for the GRU).
  packB(h, H, false, rows, H, scratch);
  gemmPacked(gates, G, true, scratch, dwhh, H, split, H, rows, true);
  if (cell == GRU) {
    sumRowsInto(dbih, gates, rows, G);
    gemmPacked(c + stateStep, H, true, scratch, dwhh + <usize>split * hb, H, H, H, rows, true);
    sumRowsStrided(dbhh, gates, G, rows, split);
    sumRowsStrided(dbhh + <usize>split * 4, c + stateStep, H, rows, H);
  } else {
    // b_ih and b_hh enter the gates alike: one sum of d(a) for both.
    sumRowsTwice(dbih, dbhh, gates, G, rows, G);
  }

  if (oneHot) {
    // dW_ih[:, v] += Σ d(a) rows whose token is v: the one-hot layer is an embedding of W_ih^T,
    // so sum rows into dW_ih^T as an embedding's gradient (each thread its own columns, the
    // same split for the zeroing), then transpose once.
    const c0 = share4(G), c1 = share4End(G);
    for (let v = 0; v < inSize; v++) {
      memory.fill(scratch + <usize>v * gateRow + <usize>c0 * 4, 0, <usize>(c1 - c0) * 4);
    }
    embeddingBackward(x, gates, scratch, T, B, G);
    transpose(scratch, inSize, G, dwih, true);
  } else {
    gemm(gates, G, true, x, inSize, false, dwih, inSize, G, inSize, rows, true, scratch);
    if (dx != 0) {
      gemm(gates, G, false, wih, inSize, false, dx, inSize, rows, inSize, G, false, scratch);
    }
  }
}

/** u32 fields per layer in sampleStep's table. */
const DESC = 8;

/**
 * One character of sampling: batch 1, one timestep, every layer and the output layer in one
 * call over packed weights (recurrentPack, and W_fc^T packed by linearForward), one barrier
 * per layer. Each thread computes the gates and state of its own hidden units, then its panels
 * of the logits. The new state replaces the old (slot 1 is copied into slot 0).
 *
 * `desc` holds, per layer, 8 u32: packed, b_ih, b_hh, gates, h, c (h and c: [2, H]), input
 * width, embedding table (layer 0 with a learned embedding, else 0); then fcPacked, fcBias,
 * logits.
 */
export function sampleStep(cell: i32, token: i32, layers: i32, H: i32, V: i32, desc: usize): void {
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const hb = <usize>H * 4;
  const blockBytes = packedBytes(H, H);
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  const j0 = panelStart(p0, H), j1 = panelStart(p1, H);
  const mine = <usize>(j1 - j0) * 4;
  for (let l = 0; l < layers; l++) {
    const d = desc + <usize>l * DESC * 4;
    const packed = <usize>load<u32>(d), bih = <usize>load<u32>(d, 4), bhh = <usize>load<u32>(d, 8);
    const gates = <usize>load<u32>(d, 12), h = <usize>load<u32>(d, 16), c = <usize>load<u32>(d, 20);
    const inSize = <i32>load<u32>(d, 24), table = <usize>load<u32>(d, 28);
    const packedIn = packed + <usize>blocks * blockBytes;
    const inBlockBytes = packedBytes(inSize, H);
    const oneHot = l == 0 && table == 0;
    // The layer's input vector: a row of the embedding table, or the layer below's new h.
    const input = l == 0
      ? table + <usize>token * <usize>inSize * 4
      : <usize>load<u32>(desc + <usize>(l - 1) * DESC * 4, 16) + hb;
    for (let k = 0; k < blocks; k++) {
      const col = <usize>(k * H + j0) * 4;
      const gk = gates + <usize>k * hb, whhK = packed + <usize>k * blockBytes;
      if (oneHot) {
        memory.copy(gates + col, packedIn + <usize>token * <usize>G * 4 + col, mine);
        addInto(gates + col, bih + col, j1 - j0);
      } else {
        memory.copy(gates + col, bih + col, mine);
        const wihK = packedIn + <usize>k * inBlockBytes;
        gemmBlock(input, inSize, false, wihK, gk, G, H, inSize, true, 0, 1, p0, p1);
      }
      if (cell == GRU && k == 2) {
        memory.copy(c + hb + <usize>j0 * 4, bhh + col, mine);
        gemmBlock(h, H, false, whhK, c + hb, H, H, H, true, 0, 1, p0, p1);
      } else {
        addInto(gates + col, bhh + col, j1 - j0);
        gemmBlock(h, H, false, whhK, gk, G, H, H, true, 0, 1, p0, p1);
      }
    }
    rowForward(cell, gates, hb, h, c, h + hb, c + hb, j0, j1);
    barrier();
  }
  // Output layer over this thread's panels of the vocabulary, then the state moves to slot 0
  // (every thread has finished reading slot 0 at the last barrier).
  const top = <usize>load<u32>(desc + <usize>(layers - 1) * DESC * 4, 16) + hb;
  const f = desc + <usize>layers * DESC * 4;
  const fcPacked = <usize>load<u32>(f);
  const fcBias = <usize>load<u32>(f, 4);
  const logits = <usize>load<u32>(f, 8);
  const vPanels = panelsOf(V);
  const v0 = share(vPanels), v1 = shareEnd(vPanels);
  const c0 = panelStart(v0, V), c1 = panelStart(v1, V);
  memory.copy(logits + <usize>c0 * 4, fcBias + <usize>c0 * 4, <usize>(c1 - c0) * 4);
  gemmBlock(top, H, false, fcPacked, logits, V, V, H, true, 0, 1, v0, v1);
  for (let l = 0; l < layers; l++) {
    const d = desc + <usize>l * DESC * 4;
    const h = <usize>load<u32>(d, 16), c = <usize>load<u32>(d, 20);
    memory.copy(h + <usize>j0 * 4, h + hb + <usize>j0 * 4, mine);
    memory.copy(c + <usize>j0 * 4, c + hb + <usize>j0 * 4, mine);
  }
  barrier();
}

// y[i, 0:N] += b for rows i of a [M, ldy] matrix, shared by rows; returns after a barrier.
function addRowsStrided(y: usize, ldy: i32, b: usize, M: i32, N: i32): void {
  for (let i = share(M), end = shareEnd(M); i < end; i++) {
    addInto(y + <usize>i * <usize>ldy * 4, b, N);
  }
  barrier();
}
