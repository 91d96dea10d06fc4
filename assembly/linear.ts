// The output layer: y[M, N] = x[M, K] · W[N, K]^T + b (PyTorch nn.Linear layout).

import { gemm, gemmPacked, packB, packedBytes } from "./gemm";
import { broadcastRows, sumRowsInto } from "./ops";

/** Bytes of `scratch` that linearBackward needs: x packed, and later W packed. */
export function linearScratchBytes(M: i32, N: i32, K: i32): usize {
  return max(packedBytes(M, K), packedBytes(N, K));
}

/** Bytes of the packed W^T that linearForward keeps. */
export function linearPackedBytes(N: i32, K: i32): usize {
  return packedBytes(K, N);
}

/** y = x · W^T + b; with `repack`, first packs W^T into `packed` (else reuses it). */
export function linearForward(
  x: usize, w: usize, b: usize, y: usize, packed: usize, repack: bool, M: i32, N: i32, K: i32,
): void {
  if (repack) packB(w, K, true, K, N, packed);
  broadcastRows(y, b, M, N, false);
  gemmPacked(x, K, false, packed, y, N, M, N, K, true);
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
  gemm(dy, N, true, x, K, false, dw, K, N, K, M, true, scratch);
  sumRowsInto(db, dy, M, N);
  if (dx != 0) gemm(dy, N, false, w, K, false, dx, K, M, K, N, false, scratch);
}
