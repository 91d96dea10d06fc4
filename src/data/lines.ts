// Line mode, for corpora of short independent examples (dinosaur names, short poems): each
// line is one sequence that starts from a zero state. As in the exercises, the model reads a
// newline first and learns to end each line with one:
//   x = "\n" + line        y = line + "\n"
// Rows are padded to the batch's seq with target -1, which the loss leaves out. Lines longer
// than seq - 1 are cut (their final newline is not predicted). The order of lines is shuffled
// each epoch by a permutation that depends only on (seed, epoch), so a resumed run draws the
// same order without saving generator state.

import { Random } from "../_random.ts";
import type { Corpus } from "./corpus.ts";

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

/** Lines read by number: the non-empty lines of a text, without their newlines, as ids. */
export interface LineTable {
  /** How many lines. */
  readonly count: number;
  /** Line `k`'s length in characters. */
  length(k: number): number;
  /** Writes the first `n` ids of line `k` to `out` from `at`. */
  read(k: number, out: Int32Array, at: number, n: number): void;
  /** Releases what the table holds open. */
  close(): void;
}

/** Encoded lines in memory as a table. */
export function arrayLines(lines: Int32Array[]): LineTable {
  return {
    count: lines.length,
    length: (k) => lines[k].length,
    read: (k, out, at, n) => out.set(lines[k].subarray(0, n), at),
    close: () => {},
  };
}

/**
 * The non-empty lines of a corpus (as `splitLines` finds them in its string) as a table: an
 * index of where each starts and how long it is (8 bytes a line: 4 + 4 while the corpus has
 * fewer than 2^32 characters), built by one read of its token file; a line's ids are read
 * from the file when a batch needs them, through `map` (see `Corpus.reader`).
 */
export function corpusLines(corpus: Corpus, map?: Int32Array): LineTable {
  const Index = corpus.length < 2 ** 32 ? Uint32Array : Float64Array;
  let starts: Uint32Array | Float64Array = new Index(1024);
  let lengths: Uint32Array | Float64Array = new Index(1024);
  let count = 0;
  const push = (start: number, length: number) => {
    if (count === starts.length) {
      const grow = (a: Uint32Array | Float64Array) => {
        const b = new Index(a.length * 2);
        b.set(a);
        return b;
      };
      starts = grow(starts);
      lengths = grow(lengths);
    }
    starts[count] = start;
    lengths[count++] = length;
  };
  const newline = corpus.vocab.indexOf("\n");
  let lineStart = 0;
  if (newline >= 0) {
    using raw = corpus.reader();
    const ids = new Int32Array(1 << 20);
    for (let at = 0; at < corpus.length; at += ids.length) {
      const n = Math.min(ids.length, corpus.length - at);
      raw.read(at, ids, 0, n);
      for (let i = 0; i < n; i++) {
        if (ids[i] !== newline) continue;
        if (at + i > lineStart) push(lineStart, at + i - lineStart);
        lineStart = at + i + 1;
      }
    }
  }
  if (corpus.length > lineStart) push(lineStart, corpus.length - lineStart);
  const reader = corpus.reader(map);
  const s = starts.subarray(0, count), l = lengths.subarray(0, count);
  return {
    count,
    length: (k) => l[k],
    read: (k, out, at, n) => reader.read(s[k], out, at, n),
    close: () => reader.close(),
  };
}

/** Lines `from` to `to - 1` of a table, numbered from 0 (closing it closes `table`). */
export function sliceLines(table: LineTable, from: number, to: number): LineTable {
  return {
    count: to - from,
    length: (k) => table.length(from + k),
    read: (k, out, at, n) => table.read(from + k, out, at, n),
    close: () => table.close(),
  };
}

/**
 * Fills `x` and `y` (`[batch, seq]`, row-major) with batch `index` of `lines` taken in `order`:
 * a row is a newline then the line (`x`), the line then a newline (`y`), cut at `seq`; rows past
 * the last line are all padding (`x` newline, `y` -1).
 *
 * @example A batch of lines
 * ```ts
 * import { arrayLines, fillLineBatch } from "./lines.ts";
 * const lines = arrayLines([Int32Array.of(1, 2), Int32Array.of(3)]);
 * const x = new Int32Array(2 * 4), y = new Int32Array(2 * 4);
 * fillLineBatch(lines, Uint32Array.of(0, 1), 2, 4, 0, 0, x, y);
 * console.log(x, y); // [0,1,2,0, 0,3,0,0] and [1,2,0,-1, 3,0,-1,-1]
 * ```
 */
export function fillLineBatch(
  lines: LineTable,
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
    const line = order[k];
    const length = lines.length(line);
    const row = b * seq;
    lines.read(line, y, row, Math.min(length, seq));
    x.set(y.subarray(row, row + Math.min(length, seq - 1)), row + 1);
    if (length < seq) y[row + length] = newline;
  }
}
