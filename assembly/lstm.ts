// One LSTM layer over T timesteps for B sequences, PyTorch nn.LSTM equations, gate order
// i, f, g, o:
//   a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          a: [B, 4H] = [a_i | a_f | a_g | a_o]
//   i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
//   c_t = f ⊙ c_{t-1} + i ⊙ g        h_t = o ⊙ tanh(c_t)
//
// Buffers (f32, row-major, time-major):
//   x      layer 0: i32 token ids [B, T]; later layers: f32 [T·B, in]
//   gates  [T, B, 4H]  activated i, f, g, o after forward; overwritten by d(a) in backward
//   h, c   [T+1, B, H] slot 0 holds (h0, c0), slot t+1 the state after timestep t
//   dh     [T+1, B, H] slots 1..T: dLoss/dh_t from above; slot 0 receives dLoss/dh0
//   dc     [B, H]      in: dLoss/dc_T; out: dLoss/dc0
// The input projection for all timesteps is one GEMM (a row gather for one-hot input), so only
// h_{t-1} W_hh^T stays inside the time loop; backward collects d(a) for every timestep, then
// forms dW_ih and dW_hh each as one GEMM over all T·B rows.

import { gemmBlock, gemmPacked, packB, packPanels, panelsOf } from "./gemm";
import { barrier, share, shareEnd } from "./threads";
import { broadcastRows, sumRowsInto, transpose } from "./ops";
import { madd, sigmoid4, tanh4 } from "./simd";

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

// Gate pointwise forward for one group of lanes; g points at a_i, the other gates follow at
// multiples of hb = H·4 bytes.
// @ts-ignore: decorator
@inline function cellForward(g: usize, hb: usize, cPrev: usize, cNext: usize, hNext: usize, full: bool): void {
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

// Gate pointwise backward for one group of lanes: reads the activated gates at g and writes
// d(a) over them; dc holds dLoss/dc_t on entry and dLoss/dc_{t-1} on exit.
// @ts-ignore: decorator
@inline function cellBackward(g: usize, hb: usize, cPrev: usize, cNext: usize, dh: usize, dc: usize, full: bool): void {
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

// @ts-ignore: decorator
@inline function pad8(n: i32): usize {
  return <usize>((n + 7) & ~7);
}

/**
 * Bytes of a layer's packed weights, kept between calls: W_hh^T packed as four gate blocks
 * (so a thread owns whole hidden units: the four gates of unit j land in its columns), then
 * the input weights (W_ih^T rows to gather for one-hot input, else W_ih^T packed).
 */
export function lstmPackedBytes(inSize: i32, oneHot: bool, H: i32): usize {
  const input = oneHot ? <usize>inSize * <usize>(4 * H) : 4 * <usize>inSize * pad8(H);
  return (4 * <usize>H * pad8(H) + input) * 4;
}

/**
 * Packs a layer's weights into `packed` (lstmPackedBytes): W_hh^T and, for dense input, W_ih^T
 * as four gate blocks of [K, H] panels; for one-hot input, W_ih^T [V, 4H] as plain rows.
 * Each thread packs the panels of its own hidden units.
 */
export function lstmPack(oneHot: bool, inSize: i32, wih: usize, whh: usize, packed: usize, H: i32): void {
  const G = 4 * H;
  const blockBytes = <usize>H * pad8(H) * 4;
  const packedIn = packed + 4 * blockBytes;
  const inBlockBytes = <usize>inSize * pad8(H) * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  for (let k = 0; k < 4; k++) {
    const rowsK = <usize>k * <usize>H;
    packPanels(whh + rowsK * <usize>H * 4, H, true, H, H, packed + <usize>k * blockBytes, p0, p1);
    if (!oneHot) {
      packPanels(wih + rowsK * <usize>inSize * 4, inSize, true, inSize, H, packedIn + <usize>k * inBlockBytes, p0, p1);
    }
  }
  // W_ih is [4H, V]: its transpose makes each token's column a contiguous row to copy.
  if (oneHot) transpose(wih, G, inSize, packedIn, false);
  else barrier();
}

/** Bytes of `scratch` that lstmBackward needs. */
export function lstmScratchBytes(inSize: i32, oneHot: bool, T: i32, B: i32, H: i32): usize {
  const G = 4 * H;
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
 * `repack`, first packs the weights into `packed` (lstmPackedBytes); without, reuses them
 * (sampling: the weights do not change between characters).
 */
export function lstmForward(
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
  const G = 4 * H;
  const rows = T * B;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * <usize>H * 4;
  const blockBytes = <usize>H * pad8(H) * 4;
  const packedIn = packed + 4 * blockBytes;
  const inBlockBytes = <usize>inSize * pad8(H) * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  if (repack) lstmPack(oneHot, inSize, wih, whh, packed, H);
  if (oneHot) {
    for (let r = share(rows), end = shareEnd(rows); r < end; r++) {
      const t = r / B;
      const b = r - t * B;
      const token = load<i32>(x + (<usize>b * <usize>T + <usize>t) * 4);
      memory.copy(gates + <usize>r * gateRow, packedIn + <usize>token * gateRow, gateRow);
    }
    barrier();
    broadcastRows(gates, bih, rows, G, true);
  } else {
    broadcastRows(gates, bih, rows, G, false);
    for (let k = 0; k < 4; k++) {
      const block = packedIn + <usize>k * inBlockBytes;
      gemmPacked(x, inSize, false, block, gates + <usize>k * <usize>H * 4, G, rows, H, inSize, true);
    }
  }
  broadcastRows(gates, bhh, rows, G, true);

  // This thread's hidden units: [j0, j1), whole panels of the gate blocks.
  const j0 = p0 * 8, j1 = min(p1 * 8, H);
  const hb = <usize>H * 4;
  for (let t = 0; t < T; t++) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const hPrev = h + <usize>t * stateStep;
    const cPrev = c + <usize>t * stateStep;
    for (let k = 0; k < 4; k++) {
      gemmBlock(hPrev, H, false, packed + <usize>k * blockBytes, gt + <usize>k * hb, G, H, H, true, 0, B, p0, p1);
    }
    for (let b = 0; b < B; b++) {
      const g = gt + <usize>b * gateRow;
      const s = <usize>b * hb;
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const o = <usize>j * 4;
        cellForward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, hPrev + stateStep + s + o, true);
      }
      for (; j < j1; j++) {
        const o = <usize>j * 4;
        cellForward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, hPrev + stateStep + s + o, false);
      }
    }
    barrier();
  }
}

/**
 * Backward through T timesteps after lstmForward on the same buffers. Accumulates into dwih,
 * dwhh, dbih, dbhh (+=); writes dh slot 0 (dh0), dc (dc0) and, for dense input, dx [T·B, in]
 * (dx may be 0 to skip it). Overwrites gates with d(a).
 */
export function lstmBackward(
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
  const G = 4 * H;
  const rows = T * B;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * <usize>H * 4;
  const hb = <usize>H * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  const j0 = p0 * 8, j1 = min(p1 * 8, H);
  for (let b = 0; b < B; b++) memory.fill(dh + <usize>b * hb + <usize>j0 * 4, 0, <usize>max(0, j1 - j0) * 4);
  packB(whh, H, false, G, H, scratch);
  for (let t = T - 1; t >= 0; t--) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const cPrev = c + <usize>t * stateStep;
    const dht = dh + <usize>(t + 1) * stateStep;
    for (let b = 0; b < B; b++) {
      const g = gt + <usize>b * gateRow;
      const s = <usize>b * hb;
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const o = <usize>j * 4;
        cellBackward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, dht + s + o, dc + s + o, true);
      }
      for (; j < j1; j++) {
        const o = <usize>j * 4;
        cellBackward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, dht + s + o, dc + s + o, false);
      }
    }
    barrier();
    // dh_{t-1}[:, my units] += d(a_t) · W_hh[:, my units]: needs every unit's d(a_t).
    gemmBlock(gt, G, false, scratch, dht - stateStep, H, H, G, true, 0, B, p0, p1);
  }
  barrier();

  // dW_hh += d(a)^T · h_{0..T-1}: all timesteps in one GEMM.
  packB(h, H, false, rows, H, scratch);
  gemmPacked(gates, G, true, scratch, dwhh, H, G, H, rows, true);
  sumRowsInto(dbih, gates, rows, G);
  sumRowsInto(dbhh, gates, rows, G);

  if (oneHot) {
    // dW_ih[:, v] += Σ d(a) rows whose token is v: sum rows into dW_ih^T (each thread its own
    // columns), then transpose once.
    const groups = G / 4;
    const c0 = share(groups) * 4, c1 = shareEnd(groups) * 4;
    for (let v = 0; v < inSize; v++) memory.fill(scratch + <usize>v * gateRow + <usize>c0 * 4, 0, <usize>(c1 - c0) * 4);
    for (let r = 0; r < rows; r++) {
      const t = r / B;
      const b = r - t * B;
      const token = load<i32>(x + (<usize>b * <usize>T + <usize>t) * 4);
      const dst = scratch + <usize>token * gateRow;
      const src = gates + <usize>r * gateRow;
      for (let j = c0; j < c1; j += 4) {
        const o = <usize>j * 4;
        v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
      }
    }
    barrier();
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

/**
 * One character of sampling: batch 1, one timestep, every layer and the output layer in one
 * call over packed weights (lstmPack, and W_fc^T packed by linearForward), one barrier per
 * layer. Each thread computes the gates and state of its own hidden units, then its panels of
 * the logits. The new state replaces the old (slot 1 is copied into slot 0).
 *
 * `desc` holds, per layer, 6 u32: packed, b_ih, b_hh, gates, h, c (h and c: [2, H]); then
 * fcPacked, fcBias, logits.
 */
export function sampleStep(token: i32, layers: i32, H: i32, V: i32, desc: usize): void {
  const G = 4 * H;
  const hb = <usize>H * 4;
  const blockBytes = <usize>H * pad8(H) * 4;
  const inBlockBytes = <usize>H * pad8(H) * 4;
  const panels = panelsOf(H);
  const p0 = share(panels), p1 = shareEnd(panels);
  const j0 = p0 * 8, j1 = min(p1 * 8, H);
  for (let l = 0; l < layers; l++) {
    const d = desc + <usize>l * 24;
    const packed = <usize>load<u32>(d), bih = <usize>load<u32>(d, 4), bhh = <usize>load<u32>(d, 8);
    const gates = <usize>load<u32>(d, 12), h = <usize>load<u32>(d, 16), c = <usize>load<u32>(d, 20);
    const packedIn = packed + 4 * blockBytes;
    for (let k = 0; k < 4; k++) {
      const col = <usize>(k * H + j0) * 4;
      const n = <usize>max(0, j1 - j0) * 4;
      if (l == 0) {
        memory.copy(gates + col, packedIn + <usize>token * <usize>G * 4 + col, n);
        addInto(gates + col, bih + col, j1 - j0);
      } else {
        memory.copy(gates + col, bih + col, n);
        const below = <usize>load<u32>(desc + <usize>(l - 1) * 24, 16) + hb; // h_{l-1}, slot 1
        gemmBlock(below, H, false, packedIn + <usize>k * inBlockBytes, gates + <usize>k * hb, G, H, H, true, 0, 1, p0, p1);
      }
      addInto(gates + col, bhh + col, j1 - j0);
      gemmBlock(h, H, false, packed + <usize>k * blockBytes, gates + <usize>k * hb, G, H, H, true, 0, 1, p0, p1);
    }
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j * 4;
      cellForward(gates + o, hb, c + o, c + hb + o, h + hb + o, true);
    }
    for (; j < j1; j++) {
      const o = <usize>j * 4;
      cellForward(gates + o, hb, c + o, c + hb + o, h + hb + o, false);
    }
    barrier();
  }
  // Output layer over this thread's panels of the vocabulary, then the state moves to slot 0
  // (every thread has finished reading slot 0 at the last barrier).
  const top = <usize>load<u32>(desc + <usize>(layers - 1) * 24, 16) + hb;
  const f = desc + <usize>layers * 24;
  const fcPacked = <usize>load<u32>(f), fcBias = <usize>load<u32>(f, 4), logits = <usize>load<u32>(f, 8);
  const vPanels = panelsOf(V);
  const v0 = share(vPanels), v1 = shareEnd(vPanels);
  const c0 = v0 * 8, c1 = min(v1 * 8, V);
  memory.copy(logits + <usize>c0 * 4, fcBias + <usize>c0 * 4, <usize>max(0, c1 - c0) * 4);
  gemmBlock(top, H, false, fcPacked, logits, V, V, H, true, 0, 1, v0, v1);
  for (let l = 0; l < layers; l++) {
    const d = desc + <usize>l * 24;
    const h = <usize>load<u32>(d, 16), c = <usize>load<u32>(d, 20);
    const n = <usize>max(0, j1 - j0) * 4;
    memory.copy(h + <usize>j0 * 4, h + hb + <usize>j0 * 4, n);
    memory.copy(c + <usize>j0 * 4, c + hb + <usize>j0 * 4, n);
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
