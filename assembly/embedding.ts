// A learned input embedding (PyTorch nn.Embedding): each token selects a row of E [V, N].
// Forward gathers rows into the time-major input of the first recurrent layer; backward adds
// each row's gradient back into the row of its token.

import { barrier, share, shareEnd } from "./threads";

/** out[t·B + b, :] = E[tokens[b, t], :]: tokens are [B, T], out is time-major [T·B, N]. */
export function embeddingForward(tokens: usize, table: usize, out: usize, T: i32, B: i32, N: i32): void {
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
export function embeddingBackward(tokens: usize, dOut: usize, dTable: usize, T: i32, B: i32, N: i32): void {
  const rowBytes = <usize>N * 4;
  const rows = T * B;
  const groups = (N + 3) / 4;
  const c0 = min(N, share(groups) * 4), c1 = min(N, shareEnd(groups) * 4);
  for (let r = 0; r < rows; r++) {
    const t = r / B;
    const b = r - t * B;
    const token = load<i32>(tokens + (<usize>b * <usize>T + <usize>t) * 4);
    const dst = dTable + <usize>token * rowBytes;
    const src = dOut + <usize>r * rowBytes;
    let j = c0;
    for (; j + 4 <= c1; j += 4) {
      const o = <usize>j * 4;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; j < c1; j++) {
      const o = <usize>j * 4;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
  barrier();
}
