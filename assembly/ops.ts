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
  sumRowsTwice(db, 0, dy, ldy, M, N);
}

/**
 * sumRowsStrided into db and, when db2 ≠ 0, the same sums into db2 (the LSTM's and RNN's two
 * bias gradients are one sum of d(a): read the gates once). Each column's sum runs down the rows
 * in order from zero, so either target gets the bits a call of its own would give.
 */
export function sumRowsTwice(db: usize, db2: usize, dy: usize, ldy: i32, M: i32, N: i32): void {
  const rowBytes = <usize>ldy * 4;
  let j = share4(N);
  const j1 = share4End(N);
  // Sixteen columns (a 64-byte line) at a time: each line of dy is read once.
  for (; j + 16 <= j1; j += 16) {
    const off = <usize>j * 4;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let i = 0; i < M; i++) {
      const row = dy + <usize>i * rowBytes + off;
      a0 = f32x4.add(a0, v128.load(row));
      a1 = f32x4.add(a1, v128.load(row, 16));
      a2 = f32x4.add(a2, v128.load(row, 32));
      a3 = f32x4.add(a3, v128.load(row, 48));
    }
    addSums(db + off, a0, a1, a2, a3);
    if (db2 != 0) addSums(db2 + off, a0, a1, a2, a3);
  }
  for (; j + 4 <= j1; j += 4) {
    const off = <usize>j * 4;
    let acc = f32x4.splat(0);
    for (let i = 0; i < M; i++) acc = f32x4.add(acc, v128.load(dy + <usize>i * rowBytes + off));
    v128.store(db + off, f32x4.add(v128.load(db + off), acc));
    if (db2 != 0) v128.store(db2 + off, f32x4.add(v128.load(db2 + off), acc));
  }
  for (; j < j1; j++) {
    const off = <usize>j * 4;
    let acc: f32 = 0;
    for (let i = 0; i < M; i++) acc += load<f32>(dy + <usize>i * rowBytes + off);
    store<f32>(db + off, load<f32>(db + off) + acc);
    if (db2 != 0) store<f32>(db2 + off, load<f32>(db2 + off) + acc);
  }
  barrier();
}

// db[0..16) += the four sums.
// @ts-ignore: decorator
@inline function addSums(db: usize, a0: v128, a1: v128, a2: v128, a3: v128): void {
  v128.store(db, f32x4.add(v128.load(db), a0));
  v128.store(db, f32x4.add(v128.load(db, 16), a1), 16);
  v128.store(db, f32x4.add(v128.load(db, 32), a2), 32);
  v128.store(db, f32x4.add(v128.load(db, 48), a3), 48);
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
