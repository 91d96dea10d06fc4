// Line mode, for corpora of short independent examples (dinosaur names, short poems): each
// line is one sequence that starts from a zero state. As in the exercises, the model reads a
// newline first and learns to end each line with one:
//   x = "\n" + line        y = line + "\n"
// Rows are padded to the batch's seq with target -1, which the loss leaves out. Lines longer
// than seq - 1 are cut (their final newline is not predicted). The order of lines is shuffled
// each epoch by a permutation that depends only on (seed, epoch), so a resumed run draws the
// same order without saving generator state.

import { Random } from "../_random.ts";

/** The non-empty lines of `text`, without their newlines. */
export function splitLines(text: string): string[] {
  return text.split("\n").filter((line) => line.length > 0);
}

/** A permutation of 0..count-1 for `epoch` (Fisher-Yates on a generator seeded by both). */
export function linePermutation(count: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const random = new Random(
    Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35),
  );
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * Fills `x` and `y` (`[batch, seq]`, row-major) with batch `index` of `lines` taken in `order`.
 * Rows past the last line are all padding.
 *
 * @example A batch of lines
 * ```ts
 * import { getLineBatch } from "./lines.ts";
 * const lines = [Int32Array.of(1, 2), Int32Array.of(3)];
 * const x = new Int32Array(2 * 4), y = new Int32Array(2 * 4);
 * getLineBatch(lines, Uint32Array.of(0, 1), 2, 4, 0, 0, x, y);
 * console.log(x, y); // [0,1,2,0, 0,3,0,0] and [1,2,0,-1, 3,0,-1,-1]
 * ```
 */
export function getLineBatch(
  lines: Int32Array[],
  order: Uint32Array,
  batch: number,
  seq: number,
  index: number,
  newline: number,
  x: Int32Array,
  y: Int32Array,
): void {
  x.fill(newline);
  y.fill(-1);
  for (let b = 0; b < batch; b++) {
    const k = index * batch + b;
    if (k >= order.length) break;
    const line = lines[order[k]];
    const n = Math.min(line.length, seq - 1);
    const row = b * seq;
    x.set(line.subarray(0, n), row + 1);
    y.set(line.subarray(0, Math.min(line.length, seq)), row);
    if (line.length < seq) y[row + line.length] = newline;
  }
}
