// Row-wise helpers around the GEMMs: bias broadcast, bias gradient, transposes, elementwise
// products. Rows may be any length; the tails run lane by lane. Each is shared among the
// threads (rows, column groups or elements) and returns after a barrier.

import { addInto } from "./simd";
import { barrier, share, share4, share4End, shareEnd } from "./threads";

/** y[i, :] = b for every row i of y[M, N]; with `accumulate`, y[i, :] += b. */
export function broadcastRows(y: usize, b: usize, M: i32, N: i32, accumulate: bool): void {
  const rowBytes = <usize>N * 4;
  for (let i = share(M), end = shareEnd(M); i < end; i++) {
    const row = y + <usize>i * rowBytes;
    if (accumulate) addInto(row, b, N);
    else memory.copy(row, b, rowBytes);
  }
  barrier();
}

/** db[j] += Σ_i dy[i, j] over dy[M, N]: the bias gradient of a row-broadcast bias. */
export function sumRowsInto(db: usize, dy: usize, M: i32, N: i32): void {
  sumRowsStrided(db, dy, N, M, N);
}

/** db[j] += Σ_i dy[i, j] over the first N columns of dy[M, ldy]. */
export function sumRowsStrided(db: usize, dy: usize, ldy: i32, M: i32, N: i32): void {
  const rowBytes = <usize>ldy * 4;
  let j = share4(N);
  const j1 = share4End(N);
  for (; j + 4 <= j1; j += 4) {
    const off = <usize>j * 4;
    let acc = f32x4.splat(0);
    for (let i = 0; i < M; i++) acc = f32x4.add(acc, v128.load(dy + <usize>i * rowBytes + off));
    v128.store(db + off, f32x4.add(v128.load(db + off), acc));
  }
  for (; j < j1; j++) {
    const off = <usize>j * 4;
    let acc: f32 = 0;
    for (let i = 0; i < M; i++) acc += load<f32>(dy + <usize>i * rowBytes + off);
    store<f32>(db + off, load<f32>(db + off) + acc);
  }
  barrier();
}

/** dst[N, M] = src[M, N]^T, or dst += src^T with `accumulate`. Split by rows of dst. */
export function transpose(src: usize, M: i32, N: i32, dst: usize, accumulate: bool): void {
  for (let j = share(N), end = shareEnd(N); j < end; j++) {
    const out = dst + <usize>j * <usize>M * 4;
    for (let i = 0; i < M; i++) {
      const d = out + <usize>i * 4;
      const v = load<f32>(src + (<usize>i * <usize>N + <usize>j) * 4);
      store<f32>(d, accumulate ? load<f32>(d) + v : v);
    }
  }
  barrier();
}

/** out[i] = a[i] * b[i] for n elements; out may alias a or b. */
export function multiply(out: usize, a: usize, b: usize, n: i32): void {
  let i = share4(n);
  const i1 = share4End(n);
  for (; i + 4 <= i1; i += 4) {
    const off = <usize>i * 4;
    v128.store(out + off, f32x4.mul(v128.load(a + off), v128.load(b + off)));
  }
  for (; i < i1; i++) {
    const off = <usize>i * 4;
    store<f32>(out + off, load<f32>(a + off) * load<f32>(b + off));
  }
  barrier();
}
