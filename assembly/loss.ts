// Output layer loss: log-softmax and cross-entropy fused, one pass for the row maximum, one for
// the exponentials (kept as the gradient), no log-probabilities materialised.

import { exp1, exp4, max4, sum4 } from "./simd";
import { barrier, share, shareEnd, tid } from "./threads";

/**
 * Mean over the T·B rows of -log softmax(logits[r])[target]. logits: [T·B, V] time-major
 * (row t·B + b); targets: i32 [B, T], where a negative target marks padding: the row is left
 * out of the mean and gets a zero gradient. When dlogits ≠ 0 it receives d(mean)/d(logits).
 * Returns NaN when every row is padding. rowLoss: f64 [T·B] scratch, so that thread 0 sums the
 * rows in one fixed order whatever the thread count; other threads return 0.
 */
export function crossEntropy(
  logits: usize, targets: usize, dlogits: usize, rowLoss: usize, T: i32, B: i32, V: i32,
): f64 {
  const rows = T * B;
  let counted = 0;
  for (let i = 0; i < rows; i++) if (load<i32>(targets + <usize>i * 4) >= 0) counted++;
  const invRows: f32 = <f32>(1.0 / <f64>counted);
  const rowBytes = <usize>V * 4;
  for (let r = share(rows), end = shareEnd(rows); r < end; r++) {
    const z = logits + <usize>r * rowBytes;
    const t = r / B;
    const b = r - t * B;
    const target = load<i32>(targets + (<usize>b * <usize>T + <usize>t) * 4);
    if (target < 0) {
      if (dlogits != 0) memory.fill(dlogits + <usize>r * rowBytes, 0, rowBytes);
      store<f64>(rowLoss + <usize>r * 8, 0);
      continue;
    }
    let j = 0;
    let mx4 = f32x4.splat(-Infinity);
    for (; j + 4 <= V; j += 4) mx4 = f32x4.max(mx4, v128.load(z + <usize>j * 4));
    let mx = max4(mx4);
    for (; j < V; j++) mx = max(mx, load<f32>(z + <usize>j * 4));
    const m4 = f32x4.splat(mx);
    let s4 = f32x4.splat(0);
    let s: f32 = 0;
    j = 0;
    if (dlogits != 0) {
      const d = dlogits + <usize>r * rowBytes;
      for (; j + 4 <= V; j += 4) {
        const e = exp4(f32x4.sub(v128.load(z + <usize>j * 4), m4));
        v128.store(d + <usize>j * 4, e);
        s4 = f32x4.add(s4, e);
      }
      for (; j < V; j++) {
        const e = exp1(load<f32>(z + <usize>j * 4) - mx);
        store<f32>(d + <usize>j * 4, e);
        s += e;
      }
    } else {
      for (; j + 4 <= V; j += 4) {
        s4 = f32x4.add(s4, exp4(f32x4.sub(v128.load(z + <usize>j * 4), m4)));
      }
      for (; j < V; j++) s += exp1(load<f32>(z + <usize>j * 4) - mx);
    }
    s += sum4(s4);
    const lse = <f64>mx + Math.log(<f64>s);
    store<f64>(rowLoss + <usize>r * 8, lse - <f64>load<f32>(z + <usize>target * 4));
    if (dlogits != 0) {
      const d = dlogits + <usize>r * rowBytes;
      const k = f32x4.splat(invRows / s);
      j = 0;
      for (; j + 4 <= V; j += 4) {
        v128.store(d + <usize>j * 4, f32x4.mul(v128.load(d + <usize>j * 4), k));
      }
      for (; j < V; j++) store<f32>(d + <usize>j * 4, load<f32>(d + <usize>j * 4) * (invRows / s));
      const dt = d + <usize>target * 4;
      store<f32>(dt, load<f32>(dt) - invRows);
    }
  }
  barrier();
  if (tid() != 0) return 0;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) total += load<f64>(rowLoss + <usize>r * 8);
  return total / <f64>counted;
}
