// Training batches and the validation split, exactly as in the char-RNN tutorial:
//
//   val_idx = int(len(data)*(1-val_frac))
//   data, val_data = data[:val_idx], data[val_idx:]
//
//   def get_batches(arr, batch_size, seq_length):
//       chars_in_batch = batch_size * seq_length
//       n_batches = len(arr) // chars_in_batch
//       arr = arr[:n_batches * chars_in_batch]
//       arr = arr.reshape((batch_size, -1))
//       for n in range(0, arr.shape[1], seq_length):
//           x = arr[:, n:n+seq_length]
//           y = np.zeros_like(x)
//           try:
//               y[:, :-1], y[:, -1] = x[:, 1:], arr[:, n+seq_length]
//           except IndexError:
//               y[:, :-1], y[:, -1] = x[:, 1:], arr[:, 0]
//           yield x, y
//
// Each row of the reshaped array is a contiguous stretch of the text, so the targets are the
// inputs shifted by one within the row, the last target of the last window wrapping around to
// the row's first character.

function checkPositive(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`Invalid ${name}: must be a positive integer, got ${String(value)}`);
  }
}

function checkLength(length: number): void {
  if (typeof length !== "number" || !Number.isInteger(length) || length < 0) {
    throw new RangeError(
      `Invalid length: must be a non-negative integer, got ${String(length)}`,
    );
  }
}

/**
 * Splits encoded text into training and validation parts exactly as the tutorial does:
 * `val_idx = int(len(data) * (1 - fraction))`, training is `data[:val_idx]` and validation
 * `data[val_idx:]`. Both parts are views of `encoded` (no copy).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitValidation } from "./batches.ts";
 *
 * const { train, val } = splitValidation(new Int32Array(1985), 0.1);
 * assert.deepEqual([train.length, val.length], [1786, 199]);
 * assert.equal(splitValidation(new Int32Array(10), 0).val.length, 0);
 * ```
 *
 * @param encoded The encoded corpus.
 * @param fraction The share held out for validation, in [0, 1).
 * @returns The training prefix and the validation suffix.
 * @throws {RangeError} If `fraction` is not in [0, 1).
 */
export function splitValidation(
  encoded: Int32Array,
  fraction: number,
): { train: Int32Array; val: Int32Array } {
  if (typeof fraction !== "number" || !(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`Invalid validation fraction: must be in [0, 1), got ${String(fraction)}`);
  }
  const valIdx = Math.trunc(encoded.length * (1 - fraction));
  return { train: encoded.subarray(0, valIdx), val: encoded.subarray(valIdx) };
}

/**
 * The number of full batches in `length` characters: `floor(length / (batch * seq))`. The
 * characters past the last full batch are never used.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchCount } from "./batches.ts";
 *
 * assert.equal(batchCount(1985, 8, 50), 4);
 * assert.equal(batchCount(399, 8, 50), 0);
 * ```
 *
 * @param length Characters available.
 * @param batch Sequences per batch.
 * @param seq Characters per sequence.
 * @returns The number of batches {@linkcode getBatches} yields.
 * @throws {RangeError} If `length` is not a non-negative integer, or `batch` or `seq` not a
 * positive integer.
 */
export function batchCount(length: number, batch: number, seq: number): number {
  checkLength(length);
  checkPositive("batch", batch);
  checkPositive("seq", seq);
  return Math.floor(length / (batch * seq));
}

/**
 * The fewest characters that make one full batch: `batch * seq`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { minimumLength } from "./batches.ts";
 *
 * assert.equal(minimumLength(8, 50), 400);
 * ```
 *
 * @param batch Sequences per batch.
 * @param seq Characters per sequence.
 * @returns `batch * seq`.
 * @throws {RangeError} If `batch` or `seq` is not a positive integer.
 */
export function minimumLength(batch: number, seq: number): number {
  checkPositive("batch", batch);
  checkPositive("seq", seq);
  return batch * seq;
}

/**
 * Fills caller-provided arrays with batch `index` of {@linkcode getBatches}, so a training loop
 * can reuse two buffers and allocate nothing per step. `x` and `y` are row-major
 * `[batch, seq]`: row `r` of `x` is characters `index * seq` to `index * seq + seq - 1` of the
 * `r`-th of `batch` equal, contiguous stretches of the truncated text, and `y` is `x` shifted
 * one character to the left, its last column taken from the next window (or, for the last
 * window, from the start of the row).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { getBatch } from "./batches.ts";
 *
 * const arr = Int32Array.from({ length: 13 }, (_, i) => i); // 12 used: rows 0..5 and 6..11
 * const x = new Int32Array(2 * 3);
 * const y = new Int32Array(2 * 3);
 * getBatch(arr, 2, 3, 1, x, y);
 * assert.deepEqual([...x], [3, 4, 5, 9, 10, 11]);
 * assert.deepEqual([...y], [4, 5, 0, 10, 11, 6]);
 * ```
 *
 * @param arr The encoded text.
 * @param batch Sequences per batch.
 * @param seq Characters per sequence.
 * @param index Which batch, in [0, batchCount(arr.length, batch, seq)).
 * @param x Receives the inputs; length `batch * seq`.
 * @param y Receives the targets; length `batch * seq`.
 * @throws {RangeError} If a size or `index` is out of range, or `x` or `y` has the wrong
 * length.
 */
export function getBatch(
  arr: Int32Array,
  batch: number,
  seq: number,
  index: number,
  x: Int32Array,
  y: Int32Array,
): void {
  const count = batchCount(arr.length, batch, seq);
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(
      `Invalid batch index ${String(index)}: ${arr.length} characters make ${count} batches ` +
        `of ${batch}×${seq}`,
    );
  }
  const size = batch * seq;
  if (x.length !== size || y.length !== size) {
    throw new RangeError(
      `Invalid batch buffers: x and y must hold ${batch}×${seq} = ${size} ids, got ` +
        `${x.length} and ${y.length}`,
    );
  }
  readBatch(
    arr.length,
    batch,
    seq,
    index,
    (from, out, at, n) => out.set(arr.subarray(from, from + n), at),
    x,
    y,
  );
}

/**
 * The rows of batch `index` (checked by the caller) read through `read`, which copies `count`
 * ids from position `from` of a text of `length` ids into `out` at `at`: {@linkcode getBatch}'s
 * arithmetic for any store of ids (an array, a token file), so both give the same batches.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBatch } from "./batches.ts";
 *
 * const arr = Int32Array.from({ length: 13 }, (_, i) => i);
 * const x = new Int32Array(6), y = new Int32Array(6);
 * readBatch(13, 2, 3, 1, (from, out, at, n) => out.set(arr.subarray(from, from + n), at), x, y);
 * assert.deepEqual([...y], [4, 5, 0, 10, 11, 6]);
 * ```
 */
export function readBatch(
  length: number,
  batch: number,
  seq: number,
  index: number,
  read: (from: number, out: Int32Array, at: number, count: number) => void,
  x: Int32Array,
  y: Int32Array,
): void {
  const row = batchCount(length, batch, seq) * seq; // arr.reshape((batch, -1)).shape[1]
  const start = index * seq;
  const wrap = start + seq === row;
  for (let r = 0; r < batch; r++) {
    const base = r * row + start;
    const out = r * seq;
    read(base, x, out, seq);
    y.set(x.subarray(out + 1, out + seq), out);
    // The last target: the next window's first id, or for the last window the row's first.
    read(wrap ? r * row : base + seq, y, out + seq - 1, 1);
  }
}

/**
 * Yields the batches of the tutorial's `get_batches(arr, batch, seq)`, in order: the text is
 * truncated to `batchCount` full batches, split into `batch` contiguous rows, and walked in
 * windows of `seq`. Each step yields freshly allocated row-major `[batch, seq]` arrays (use
 * {@linkcode getBatch} to fill reused buffers instead). Yields nothing if `arr` is shorter
 * than {@linkcode minimumLength}.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { getBatches } from "./batches.ts";
 *
 * const arr = Int32Array.from({ length: 8 }, (_, i) => i); // rows 0..3 and 4..7
 * const batches = [...getBatches(arr, 2, 2)].map(({ x, y }) => [[...x], [...y]]);
 * assert.deepEqual(batches, [
 *   [[0, 1, 4, 5], [1, 2, 5, 6]],
 *   [[2, 3, 6, 7], [3, 0, 7, 4]],
 * ]);
 * ```
 *
 * @param arr The encoded text.
 * @param batch Sequences per batch.
 * @param seq Characters per sequence.
 * @returns A generator of `{ x, y }` pairs, `batchCount(arr.length, batch, seq)` of them.
 * @throws {RangeError} If `batch` or `seq` is not a positive integer (when iteration starts).
 */
export function* getBatches(
  arr: Int32Array,
  batch: number,
  seq: number,
): Generator<{ x: Int32Array; y: Int32Array }> {
  const count = batchCount(arr.length, batch, seq);
  for (let index = 0; index < count; index++) {
    const x = new Int32Array(batch * seq);
    const y = new Int32Array(batch * seq);
    getBatch(arr, batch, seq, index, x, y);
    yield { x, y };
  }
}
