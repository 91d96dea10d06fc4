// A learned input embedding (PyTorch nn.Embedding): each token selects a row of E [V, N].
// Forward gathers rows into the time-major input of the first recurrent layer; backward adds
// each row's gradient back into the row of its token.

import { addInto } from "./simd";
import { barrier, share, share4, share4End, shareEnd } from "./threads";

/** out[t·B + b, :] = E[tokens[b, t], :]: tokens are [B, T], out is time-major [T·B, N]. */
export function embeddingForward(
  tokens: usize, table: usize, out: usize, T: i32, B: i32, N: i32,
): void {
  const rowBytes = <usize>N * 4;
  const rows = T * B;
  for (let r = share(rows), end = shareEnd(rows); r < end; r++) {
    const t = r / B;
    const b = r - t * B;
    const token = load<i32>(tokens + (<usize>b * <usize>T + <usize>t) * 4);
    memory.copy(out + <usize>r * rowBytes, table + <usize>token * rowBytes, rowBytes);
  }
  barrier();
}

/**
 * dE[tokens[b, t], :] += dOut[t·B + b, :]. Each thread owns a range of columns and walks the
 * rows in order, so the sums are the same for any number of threads.
 */
export function embeddingBackward(
  tokens: usize, dOut: usize, dTable: usize, T: i32, B: i32, N: i32,
): void {
  const rowBytes = <usize>N * 4;
  const rows = T * B;
  // This thread's columns [c0, c0 + n), in every row of dTable and dOut.
  const c0 = share4(N), n = share4End(N) - c0;
  const dst = dTable + <usize>c0 * 4, src = dOut + <usize>c0 * 4;
  for (let r = 0; r < rows; r++) {
    const t = r / B;
    const b = r - t * B;
    const token = load<i32>(tokens + (<usize>b * <usize>T + <usize>t) * 4);
    addInto(dst + <usize>token * rowBytes, src + <usize>r * rowBytes, n);
  }
  barrier();
}
