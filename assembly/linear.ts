// The output layer: y[M, N] = x[M, K] · W[N, K]^T + b (PyTorch nn.Linear layout).

import { gemmPacked, packB } from "./gemm";
import { broadcastRows, sumRowsInto } from "./ops";

/** Bytes of `scratch` that linearForward and linearBackward need. */
export function linearScratchBytes(M: i32, N: i32, K: i32): usize {
  const kPad = <usize>((K + 7) & ~7);
  const nPad = <usize>((N + 7) & ~7);
  return max(max(<usize>K * nPad, <usize>M * kPad), <usize>N * kPad) * 4;
}

/** y = x · W^T + b. */
export function linearForward(x: usize, w: usize, b: usize, y: usize, scratch: usize, M: i32, N: i32, K: i32): void {
  broadcastRows(y, b, M, N, false);
  packB(w, K, true, K, N, scratch);
  gemmPacked(x, K, false, scratch, y, N, M, N, K, true);
}

/** dW += dy^T · x, db += Σ rows of dy, dx = dy · W (skipped when dx is 0). */
export function linearBackward(
  x: usize,
  w: usize,
  dy: usize,
  dx: usize,
  dw: usize,
  db: usize,
  scratch: usize,
  M: i32,
  N: i32,
  K: i32,
): void {
  packB(x, K, false, M, K, scratch);
  gemmPacked(dy, N, true, scratch, dw, K, N, K, M, true);
  sumRowsInto(db, dy, M, N);
  if (dx != 0) {
    packB(w, K, false, N, K, scratch);
    gemmPacked(dy, N, false, scratch, dx, K, M, K, N, false);
  }
}
