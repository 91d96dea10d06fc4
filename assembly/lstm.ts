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

import { gemmPacked, packB } from "./gemm";
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

/** Bytes of `scratch` that lstmForward and lstmBackward need. */
export function lstmScratchBytes(inSize: i32, oneHot: bool, T: i32, B: i32, H: i32): usize {
  const G = 4 * H;
  let bytes = <usize>H * pad8(G); // W_hh^T packed, forward
  bytes = max(bytes, <usize>G * pad8(H)); // W_hh packed, backward
  bytes = max(bytes, <usize>T * <usize>B * pad8(H)); // h_{0..T-1} packed for dW_hh
  if (oneHot) {
    bytes = max(bytes, <usize>inSize * <usize>G); // W_ih^T rows to gather / dW_ih^T rows
  } else {
    bytes = max(bytes, <usize>inSize * pad8(G)); // W_ih^T packed
    bytes = max(bytes, <usize>T * <usize>B * pad8(inSize)); // x packed for dW_ih
    bytes = max(bytes, <usize>G * pad8(inSize)); // W_ih packed for dx
  }
  return bytes * 4;
}

/** Forward over T timesteps; fills gates, h and c slots 1..T (see the file header). */
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
  scratch: usize,
  T: i32,
  B: i32,
  H: i32,
): void {
  const G = 4 * H;
  const rows = T * B;
  const gateRow = <usize>G * 4;
  const stateStep = <usize>B * <usize>H * 4;
  if (oneHot) {
    // W_ih is [4H, V]; its transpose makes each token's column a contiguous row to copy.
    transpose(wih, G, inSize, scratch, false);
    for (let r = 0; r < rows; r++) {
      const t = r / B;
      const b = r - t * B;
      const token = load<i32>(x + (<usize>b * <usize>T + <usize>t) * 4);
      memory.copy(gates + <usize>r * gateRow, scratch + <usize>token * gateRow, gateRow);
    }
    broadcastRows(gates, bih, rows, G, true);
  } else {
    broadcastRows(gates, bih, rows, G, false);
    packB(wih, inSize, true, inSize, G, scratch);
    gemmPacked(x, inSize, false, scratch, gates, G, rows, G, inSize, true);
  }
  broadcastRows(gates, bhh, rows, G, true);

  packB(whh, H, true, H, G, scratch);
  const hb = <usize>H * 4;
  for (let t = 0; t < T; t++) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const hPrev = h + <usize>t * stateStep;
    const cPrev = c + <usize>t * stateStep;
    gemmPacked(hPrev, H, false, scratch, gt, G, B, G, H, true);
    for (let b = 0; b < B; b++) {
      const g = gt + <usize>b * gateRow;
      const s = <usize>b * hb;
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const o = <usize>j * 4;
        cellForward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, hPrev + stateStep + s + o, true);
      }
      for (; j < H; j++) {
        const o = <usize>j * 4;
        cellForward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, hPrev + stateStep + s + o, false);
      }
    }
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
  memory.fill(dh, 0, stateStep);

  packB(whh, H, false, G, H, scratch);
  for (let t = T - 1; t >= 0; t--) {
    const gt = gates + <usize>t * <usize>B * gateRow;
    const cPrev = c + <usize>t * stateStep;
    const dht = dh + <usize>(t + 1) * stateStep;
    for (let b = 0; b < B; b++) {
      const g = gt + <usize>b * gateRow;
      const s = <usize>b * hb;
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const o = <usize>j * 4;
        cellBackward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, dht + s + o, dc + s + o, true);
      }
      for (; j < H; j++) {
        const o = <usize>j * 4;
        cellBackward(g + o, hb, cPrev + s + o, cPrev + stateStep + s + o, dht + s + o, dc + s + o, false);
      }
    }
    // dh_{t-1} += d(a_t) · W_hh
    gemmPacked(gt, G, false, scratch, dht - stateStep, H, B, H, G, true);
  }

  // dW_hh += d(a)^T · h_{0..T-1}: all timesteps in one GEMM.
  packB(h, H, false, rows, H, scratch);
  gemmPacked(gates, G, true, scratch, dwhh, H, G, H, rows, true);
  sumRowsInto(dbih, gates, rows, G);
  sumRowsInto(dbhh, gates, rows, G);

  if (oneHot) {
    // dW_ih[:, v] += Σ d(a) rows whose token is v: sum rows into dW_ih^T, then transpose once.
    memory.fill(scratch, 0, <usize>inSize * gateRow);
    for (let r = 0; r < rows; r++) {
      const t = r / B;
      const b = r - t * B;
      const token = load<i32>(x + (<usize>b * <usize>T + <usize>t) * 4);
      broadcastRows(scratch + <usize>token * gateRow, gates + <usize>r * gateRow, 1, G, true);
    }
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
