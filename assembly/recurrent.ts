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
// The input projection for all timesteps is one GEMM (a row gather for one-hot input), so only
// h_{t-1} W_hh^T stays inside the time loop; backward collects d(a) for every timestep, then
// forms dW_ih and dW_hh each as one GEMM over all T·B rows.

import { gemmBlock, gemmPacked, packB, packPanels, panelsOf } from "./gemm";
import { barrier, share, shareEnd } from "./threads";
import { broadcastRows, sumRowsInto, sumRowsStrided, transpose } from "./ops";
import { madd, sigmoid4, tanh4 } from "./simd";
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

// LSTM gate pointwise forward for one group of lanes; g points at a_i, the other gates follow
// at multiples of hb = H·4 bytes.
// @ts-ignore: decorator
@inline function lstmCellForward(g: usize, hb: usize, cPrev: usize, cNext: usize, hNext: usize, full: bool): void {
  const i = sigmoid4(ld(g, full));
  const f = sigmoid4(ld(g + hb, full));
  const gg = tanh4(ld(g + hb * 2, full));
  const o = sigmoid4(ld(g + hb * 3, full));
  st(g, i, full);
  st(g + hb, f, full);
  st(g + hb * 2, gg, full);
  st(g + hb * 3, o, full);
  const c = madd(f, ld(cPrev, full), f32x4.mul(i, gg));
  st(cNext, c, full);
  st(hNext, f32x4.mul(o, tanh4(c)), full);
}

// LSTM gate pointwise backward: reads the activated gates at g and writes d(a) over them; dc
// holds dLoss/dc_t on entry and dLoss/dc_{t-1} on exit.
// @ts-ignore: decorator
@inline function lstmCellBackward(g: usize, hb: usize, cPrev: usize, cNext: usize, dh: usize, dc: usize, full: bool): void {
  const one = f32x4.splat(1);
  const i = ld(g, full);
  const f = ld(g + hb, full);
  const gg = ld(g + hb * 2, full);
  const o = ld(g + hb * 3, full);
  const tc = tanh4(ld(cNext, full));
  const dhv = ld(dh, full);
  const dcv = madd(f32x4.mul(dhv, o), f32x4.sub(one, f32x4.mul(tc, tc)), ld(dc, full));
  const dOut = f32x4.mul(dhv, tc);
  st(g, f32x4.mul(f32x4.mul(dcv, gg), f32x4.mul(i, f32x4.sub(one, i))), full);
  st(g + hb, f32x4.mul(f32x4.mul(dcv, ld(cPrev, full)), f32x4.mul(f, f32x4.sub(one, f))), full);
  st(g + hb * 2, f32x4.mul(f32x4.mul(dcv, i), f32x4.sub(one, f32x4.mul(gg, gg))), full);
  st(g + hb * 3, f32x4.mul(dOut, f32x4.mul(o, f32x4.sub(one, o))), full);
  st(dc, f32x4.mul(dcv, f), full);
}

// GRU pointwise forward: g holds a_r, a_z and the input part of a_n (biases included); hn
// holds W_hn h_{t-1} + b_hn.
// @ts-ignore: decorator
@inline function gruCellForward(g: usize, hb: usize, hn: usize, hPrev: usize, hNext: usize, full: bool): void {
  const r = sigmoid4(ld(g, full));
  const z = sigmoid4(ld(g + hb, full));
  const n = tanh4(madd(r, ld(hn, full), ld(g + hb * 2, full)));
  st(g, r, full);
  st(g + hb, z, full);
  st(g + hb * 2, n, full);
  st(hNext, madd(z, f32x4.sub(ld(hPrev, full), n), n), full);
}

// GRU pointwise backward: writes d(a_r), d(a_z), d(a_n) over the gates, d(W_hn h + b_hn) over
// hn, and adds the direct path z ⊙ dh_t into dh_{t-1}.
// @ts-ignore: decorator
@inline function gruCellBackward(g: usize, hb: usize, hn: usize, hPrev: usize, dh: usize, dhPrev: usize, full: bool): void {
  const one = f32x4.splat(1);
  const r = ld(g, full);
  const z = ld(g + hb, full);
  const n = ld(g + hb * 2, full);
  const dhv = ld(dh, full);
  const dan = f32x4.mul(f32x4.mul(dhv, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
  const dar = f32x4.mul(f32x4.mul(dan, ld(hn, full)), f32x4.mul(r, f32x4.sub(one, r)));
  const daz = f32x4.mul(f32x4.mul(dhv, f32x4.sub(ld(hPrev, full), n)), f32x4.mul(z, f32x4.sub(one, z)));
  st(hn, f32x4.mul(dan, r), full);
  st(g, dar, full);
  st(g + hb, daz, full);
  st(g + hb * 2, dan, full);
  st(dhPrev, madd(dhv, z, ld(dhPrev, full)), full);
}

// RNN pointwise forward: h_t = tanh(a), kept in the gates too for backward.
// @ts-ignore: decorator
@inline function rnnCellForward(g: usize, hNext: usize, full: bool): void {
  const h = tanh4(ld(g, full));
  st(g, h, full);
  st(hNext, h, full);
}

// RNN pointwise backward: d(a) = dh ⊙ (1 - h²) over the gates.
// @ts-ignore: decorator
@inline function rnnCellBackward(g: usize, dh: usize, full: bool): void {
  const h = ld(g, full);
  st(g, f32x4.mul(ld(dh, full), f32x4.sub(f32x4.splat(1), f32x4.mul(h, h))), full);
}

// Forward pointwise over units [j0, j1) of one row (pointers at unit 0 of the row): four
// lanes at a time, then the tail. One branch on the cell per row, none per lane group.
// @ts-ignore: decorator
@inline function rowForward(cell: i32, g: usize, hb: usize, hPrev: usize, cPrev: usize, hNext: usize, cNext: usize, j0: i32, j1: i32): void {
  let j = j0;
  if (cell == LSTM) {
    for (; j + 4 <= j1; j += 4) { const o = <usize>j * 4; lstmCellForward(g + o, hb, cPrev + o, cNext + o, hNext + o, true); }
    for (; j < j1; j++) { const o = <usize>j * 4; lstmCellForward(g + o, hb, cPrev + o, cNext + o, hNext + o, false); }
  } else if (cell == GRU) {
    for (; j + 4 <= j1; j += 4) { const o = <usize>j * 4; gruCellForward(g + o, hb, cNext + o, hPrev + o, hNext + o, true); }
    for (; j < j1; j++) { const o = <usize>j * 4; gruCellForward(g + o, hb, cNext + o, hPrev + o, hNext + o, false); }
  } else {
    for (; j + 4 <= j1; j += 4) { const o = <usize>j * 4; rnnCellForward(g + o, hNext + o, true); }
    for (; j < j1; j++) { const o = <usize>j * 4; rnnCellForward(g + o, hNext + o, false); }
  }
}

// Backward pointwise over units [j0, j1) of one row, as rowForward.
// @ts-ignore: decorator
@inline function rowBackward(cell: i32, g: usize, hb: usize, hPrev: usize, cPrev: usize, cNext: usize, dh: usize, dhPrev: usize, dc: usize, j0: i32, j1: i32): void {
  let j = j0;
  if (cell == LSTM) {
    for (; j + 4 <= j1; j += 4) { const o = <usize>j * 4; lstmCellBackward(g + o, hb, cPrev + o, cNext + o, dh + o, dc + o, true); }
    for (; j < j1; j++) { const o = <usize>j * 4; lstmCellBackward(g + o, hb, cPrev + o, cNext + o, dh + o, dc + o, false); }
  } else if (cell == GRU) {
    for (; j + 4 <= j1; j += 4) { const o = <usize>j * 4; gruCellBackward(g + o, hb, cNext + o, hPrev + o, dh + o, dhPrev + o, true); }
    for (; j < j1; j++) { const o = <usize>j * 4; gruCellBackward(g + o, hb, cNext + o, hPrev + o, dh + o, dhPrev + o, false); }
  } else {
    for (; j + 4 <= j1; j += 4) { const o = <usize>j * 4; rnnCellBackward(g + o, dh + o, true); }
    for (; j < j1; j++) { const o = <usize>j * 4; rnnCellBackward(g + o, dh + o, false); }
  }
}

// @ts-ignore: decorator
@inline function pad8(n: i32): usize {
  return <usize>((n + 7) & ~7);
}

/**
 * Bytes of a layer's packed weights, kept between calls: W_hh^T packed as one block per gate
 * (so a thread owns whole hidden units: every gate of unit j lands in its columns), then the
 * input weights (W_ih^T rows to gather for one-hot input, else W_ih^T packed the same way).
 */
export function recurrentPackedBytes(cell: i32, inSize: i32, oneHot: bool, H: i32): usize {
  const blocks = <usize>blocksOf(cell);
  const input = oneHot ? <usize>inSize * blocks * <usize>H : blocks * <usize>inSize * pad8(H);
  return (blocks * <usize>H * pad8(H) + input) * 4;
}

/**
 * Packs a layer's weights into `packed` (recurrentPackedBytes): W_hh^T and, for dense input,
 * W_ih^T as gate blocks of [K, H] panels; for one-hot input, W_ih^T [V, G] as plain rows.
 * Each thread packs the panels of its own hidden units.
 */
export function recurrentPack(cell: i32, oneHot: bool, inSize: i32, wih: usize, whh: usize, packed: usize, H: i32): void {
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const blockBytes = <usize>H * pad8(H) * 4;
  const packedIn = packed + <usize>blocks * blockBytes;
  const inBlockBytes = <usize>inSize * pad8(H) * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  for (let k = 0; k < blocks; k++) {
    const rowsK = <usize>k * <usize>H;
    packPanels(whh + rowsK * <usize>H * 4, H, true, H, H, packed + <usize>k * blockBytes, p0, p1);
    if (!oneHot) {
      packPanels(wih + rowsK * <usize>inSize * 4, inSize, true, inSize, H, packedIn + <usize>k * inBlockBytes, p0, p1);
    }
  }
  // W_ih is [G, V]: its transpose makes each token's column a contiguous row to copy.
  if (oneHot) transpose(wih, G, inSize, packedIn, false);
  else barrier();
}

/** Bytes of `scratch` that recurrentBackward needs. */
export function recurrentScratchBytes(cell: i32, inSize: i32, oneHot: bool, T: i32, B: i32, H: i32): usize {
  const G = blocksOf(cell) * H;
  let bytes = <usize>G * pad8(H); // W_hh packed for dh
  bytes = max(bytes, <usize>T * <usize>B * pad8(H)); // h_{0..T-1} packed for dW_hh
  if (oneHot) {
    bytes = max(bytes, <usize>inSize * <usize>G); // dW_ih^T rows
  } else {
    bytes = max(bytes, <usize>T * <usize>B * pad8(inSize)); // x packed for dW_ih
    bytes = max(bytes, <usize>G * pad8(inSize)); // W_ih packed for dx
  }
  return bytes * 4;
}

/**
 * Forward over T timesteps; fills gates, h and c slots 1..T (see the file header). With
 * `repack`, first packs the weights into `packed` (recurrentPackedBytes); without, reuses them
 * (sampling: the weights do not change between characters).
 */
export function recurrentForward(
  cell: i32,
  x: usize,
  oneHot: bool,
  inSize: i32,
  wih: usize,
  whh: usize,
  bih: usize,
  bhh: usize,
  gates: usize,
  h: usize,
  c: usize,
  packed: usize,
  repack: bool,
  T: i32,
  B: i32,
  H: i32,
): void {
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const rows = T * B;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * <usize>H * 4;
  const blockBytes = <usize>H * pad8(H) * 4;
  const packedIn = packed + <usize>blocks * blockBytes;
  const inBlockBytes = <usize>inSize * pad8(H) * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  if (repack) recurrentPack(cell, oneHot, inSize, wih, whh, packed, H);
  if (oneHot) {
    // One-hot times W_ih^T is a row lookup in W_ih^T: an embedding of width G.
    embeddingForward(x, packedIn, gates, T, B, G);
    broadcastRows(gates, bih, rows, G, true);
  } else {
    broadcastRows(gates, bih, rows, G, false);
    for (let k = 0; k < blocks; k++) {
      const block = packedIn + <usize>k * inBlockBytes;
      gemmPacked(x, inSize, false, block, gates + <usize>k * <usize>H * 4, G, rows, H, inSize, true);
    }
  }
  // The GRU's b_hn belongs inside the reset product: it joins W_hn h in c, not the gates.
  if (cell == GRU) addRowsStrided(gates, G, bhh, rows, 2 * H);
  else broadcastRows(gates, bhh, rows, G, true);

  // This thread's hidden units: [j0, j1), whole panels of the gate blocks.
  const j0 = p0 * 8, j1 = min(p1 * 8, H);
  const mine = <usize>max(0, j1 - j0) * 4;
  const hb = <usize>H * 4;
  const bhn = bhh + 2 * hb;
  for (let t = 0; t < T; t++) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const hPrev = h + <usize>t * stateStep;
    const cPrev = c + <usize>t * stateStep;
    for (let k = 0; k < blocks; k++) {
      if (cell == GRU && k == 2) {
        const hn = cPrev + stateStep;
        for (let b = 0; b < B; b++) memory.copy(hn + <usize>b * hb + <usize>j0 * 4, bhn + <usize>j0 * 4, mine);
        gemmBlock(hPrev, H, false, packed + 2 * blockBytes, hn, H, H, H, true, 0, B, p0, p1);
      } else {
        gemmBlock(hPrev, H, false, packed + <usize>k * blockBytes, gt + <usize>k * hb, G, H, H, true, 0, B, p0, p1);
      }
    }
    for (let b = 0; b < B; b++) {
      const s = <usize>b * hb;
      rowForward(cell, gt + <usize>b * gateRow, hb, hPrev + s, cPrev + s, hPrev + stateStep + s, cPrev + stateStep + s, j0, j1);
    }
    barrier();
  }
}

/**
 * Backward through T timesteps after recurrentForward on the same buffers. Accumulates into
 * dwih, dwhh, dbih, dbhh (+=); writes dh slot 0 (dh0), dc (dc0, LSTM) and, for dense input,
 * dx [T·B, in] (dx may be 0 to skip it). Overwrites gates with d(a).
 */
export function recurrentBackward(
  cell: i32,
  x: usize,
  oneHot: bool,
  inSize: i32,
  wih: usize,
  whh: usize,
  gates: usize,
  h: usize,
  c: usize,
  dh: usize,
  dc: usize,
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
  const blocks = blocksOf(cell);
  const G = blocks * H;
  const rows = T * B;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * <usize>H * 4;
  const hb = <usize>H * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  const j0 = p0 * 8, j1 = min(p1 * 8, H);
  for (let b = 0; b < B; b++) memory.fill(dh + <usize>b * hb + <usize>j0 * 4, 0, <usize>max(0, j1 - j0) * 4);
  // W_hh packed for dh_{t-1} = d(a_t) W_hh. The GRU's third block multiplies d(W_hn h + b_hn)
  // (kept in c), not d(a_n), so its rows are packed apart.
  const split = cell == GRU ? 2 * H : G;
  const whhRest = scratch + <usize>split * pad8(H) * 4;
  packB(whh, H, false, split, H, scratch);
  if (cell == GRU) packB(whh + <usize>split * hb, H, false, H, H, whhRest);
  for (let t = T - 1; t >= 0; t--) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const hPrev = h + <usize>t * stateStep;
    const cPrev = c + <usize>t * stateStep;
    const dht = dh + <usize>(t + 1) * stateStep;
    for (let b = 0; b < B; b++) {
      const s = <usize>b * hb;
      rowBackward(cell, gt + <usize>b * gateRow, hb, hPrev + s, cPrev + s, cPrev + stateStep + s, dht + s, dht - stateStep + s, dc + s, j0, j1);
    }
    barrier();
    // dh_{t-1}[:, my units] += d(a_t) · W_hh[:, my units]: needs every unit's d(a_t).
    gemmBlock(gt, G, false, scratch, dht - stateStep, H, H, split, true, 0, B, p0, p1);
    if (cell == GRU) gemmBlock(cPrev + stateStep, H, false, whhRest, dht - stateStep, H, H, H, true, 0, B, p0, p1);
  }
  barrier();

  // dW_hh += d(a)^T · h_{0..T-1}: all timesteps in one GEMM (two for the GRU).
  packB(h, H, false, rows, H, scratch);
  gemmPacked(gates, G, true, scratch, dwhh, H, split, H, rows, true);
  sumRowsInto(dbih, gates, rows, G);
  if (cell == GRU) {
    gemmPacked(c + stateStep, H, true, scratch, dwhh + <usize>split * hb, H, H, H, rows, true);
    sumRowsStrided(dbhh, gates, G, rows, split);
    sumRowsStrided(dbhh + <usize>split * 4, c + stateStep, H, rows, H);
  } else {
    sumRowsInto(dbhh, gates, rows, G);
  }

  if (oneHot) {
    // dW_ih[:, v] += Σ d(a) rows whose token is v: the one-hot layer is an embedding of W_ih^T,
    // so sum rows into dW_ih^T as an embedding's gradient (each thread its own columns, the
    // same split for the zeroing), then transpose once.
    const groups = (G + 3) / 4;
    const c0 = min(G, share(groups) * 4), c1 = min(G, shareEnd(groups) * 4);
    for (let v = 0; v < inSize; v++) memory.fill(scratch + <usize>v * gateRow + <usize>c0 * 4, 0, <usize>(c1 - c0) * 4);
    embeddingBackward(x, gates, scratch, T, B, G);
    transpose(scratch, inSize, G, dwih, true);
  } else {
    packB(x, inSize, false, rows, inSize, scratch);
    gemmPacked(gates, G, true, scratch, dwih, inSize, G, inSize, rows, true);
    if (dx != 0) {
      packB(wih, inSize, false, G, inSize, scratch);
      gemmPacked(gates, G, false, scratch, dx, inSize, rows, inSize, G, false);
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
  const blockBytes = <usize>H * pad8(H) * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  const j0 = p0 * 8, j1 = min(p1 * 8, H);
  const mine = <usize>max(0, j1 - j0) * 4;
  for (let l = 0; l < layers; l++) {
    const d = desc + <usize>l * DESC * 4;
    const packed = <usize>load<u32>(d), bih = <usize>load<u32>(d, 4), bhh = <usize>load<u32>(d, 8);
    const gates = <usize>load<u32>(d, 12), h = <usize>load<u32>(d, 16), c = <usize>load<u32>(d, 20);
    const inSize = <i32>load<u32>(d, 24), table = <usize>load<u32>(d, 28);
    const packedIn = packed + <usize>blocks * blockBytes;
    const inBlockBytes = <usize>inSize * pad8(H) * 4;
    const oneHot = l == 0 && table == 0;
    // The layer's input vector: a row of the embedding table, or the layer below's new h.
    const input = l == 0 ? table + <usize>token * <usize>inSize * 4 : <usize>load<u32>(desc + <usize>(l - 1) * DESC * 4, 16) + hb;
    for (let k = 0; k < blocks; k++) {
      const col = <usize>(k * H + j0) * 4;
      if (oneHot) {
        memory.copy(gates + col, packedIn + <usize>token * <usize>G * 4 + col, mine);
        addInto(gates + col, bih + col, j1 - j0);
      } else {
        memory.copy(gates + col, bih + col, mine);
        gemmBlock(input, inSize, false, packedIn + <usize>k * inBlockBytes, gates + <usize>k * hb, G, H, inSize, true, 0, 1, p0, p1);
      }
      if (cell == GRU && k == 2) {
        memory.copy(c + hb + <usize>j0 * 4, bhh + col, mine);
        gemmBlock(h, H, false, packed + <usize>k * blockBytes, c + hb, H, H, H, true, 0, 1, p0, p1);
      } else {
        addInto(gates + col, bhh + col, j1 - j0);
        gemmBlock(h, H, false, packed + <usize>k * blockBytes, gates + <usize>k * hb, G, H, H, true, 0, 1, p0, p1);
      }
    }
    rowForward(cell, gates, hb, h, c, h + hb, c + hb, j0, j1);
    barrier();
  }
  // Output layer over this thread's panels of the vocabulary, then the state moves to slot 0
  // (every thread has finished reading slot 0 at the last barrier).
  const top = <usize>load<u32>(desc + <usize>(layers - 1) * DESC * 4, 16) + hb;
  const f = desc + <usize>layers * DESC * 4;
  const fcPacked = <usize>load<u32>(f), fcBias = <usize>load<u32>(f, 4), logits = <usize>load<u32>(f, 8);
  const vPanels = panelsOf(V);
  const v0 = share(vPanels), v1 = shareEnd(vPanels);
  const c0 = v0 * 8, c1 = min(v1 * 8, V);
  memory.copy(logits + <usize>c0 * 4, fcBias + <usize>c0 * 4, <usize>max(0, c1 - c0) * 4);
  gemmBlock(top, H, false, fcPacked, logits, V, V, H, true, 0, 1, v0, v1);
  for (let l = 0; l < layers; l++) {
    const d = desc + <usize>l * DESC * 4;
    const h = <usize>load<u32>(d, 16), c = <usize>load<u32>(d, 20);
    memory.copy(h + <usize>j0 * 4, h + hb + <usize>j0 * 4, mine);
    memory.copy(c + <usize>j0 * 4, c + hb + <usize>j0 * 4, mine);
  }
  barrier();
}

// y[i] += x[i] for n floats.
// @ts-ignore: decorator
@inline function addInto(y: usize, x: usize, n: i32): void {
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

// y[i, 0:N] += b for rows i of a [M, ldy] matrix, shared by rows; returns after a barrier.
function addRowsStrided(y: usize, ldy: i32, b: usize, M: i32, N: i32): void {
  for (let i = share(M), end = shareEnd(M); i < end; i++) addInto(y + <usize>i * <usize>ldy * 4, b, N);
  barrier();
}
