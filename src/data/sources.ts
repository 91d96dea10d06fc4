// Where training batches come from: the text as `batch` parallel streams with its validation
// tail (the tutorial's get_batches), or its lines, one example each (line mode). A source fills
// caller-provided input and target arrays by index, so a training loop allocates nothing per
// step.

import { batchCount, getBatch, splitValidation } from "./batches.ts";
import { getLineBatch, linePermutation, splitLines } from "./lines.ts";
import type { Vocab } from "./vocab.ts";

/** Training and validation batches of one text, for one batch geometry. */
export interface BatchSource {
  /** `stream`: the text as parallel streams; `lines`: one line per row. */
  readonly kind: "stream" | "lines";
  /** Characters per sequence. */
  readonly seq: number;
  /** Training batches in one epoch. */
  readonly batchesPerEpoch: number;
  /** Validation batches (0: nothing held out, or too little for one batch). */
  readonly valBatches: number;
  /** Rows are separate examples: every batch starts from a zero state. */
  readonly independentRows: boolean;
  /** Training examples: characters (`stream`) or lines (`lines`). */
  readonly trainCount: number;
  /** Characters in the training part (a line's newline counted). */
  readonly trainChars: number;
  /** Characters in the validation part. */
  readonly valChars: number;
  /** Fills `x` and `y` (`[batch, seq]`) with training batch `index` of `epoch`. */
  fill(epoch: number, index: number, x: Int32Array, y: Int32Array): void;
  /** Fills `x` and `y` with validation batch `index`. */
  fillVal(index: number, x: Int32Array, y: Int32Array): void;
}

/**
 * The text as `batch` parallel streams read `seq` characters at a time, its last
 * `valFraction` held out for validation (exactly the tutorial's split and batches); with
 * `valText`, the whole text trains and `valText` validates.
 */
export function streamSource(
  vocab: Vocab,
  text: string,
  batch: number,
  seq: number,
  valFraction: number,
  valText?: string,
): BatchSource {
  const { train, val } = valText === undefined
    ? splitValidation(vocab.encode(text), valFraction)
    : { train: vocab.encode(text), val: vocab.encode(valText) };
  return {
    kind: "stream",
    seq,
    batchesPerEpoch: batchCount(train.length, batch, seq),
    valBatches: batchCount(val.length, batch, seq),
    independentRows: false,
    trainCount: train.length,
    trainChars: train.length,
    valChars: val.length,
    fill: (_epoch, index, x, y) => getBatch(train, batch, seq, index, x, y),
    fillVal: (index, x, y) => getBatch(val, batch, seq, index, x, y),
  };
}

/**
 * The non-empty lines of the text, one per row, shuffled each epoch by `seed`; the last
 * `valFraction` of the lines held out (with `valText`: every line trains, and the lines of
 * `valText` validate). `seq` defaults to the longest line plus one (the newline each row starts
 * with).
 *
 * @throws {RangeError} If the vocabulary has no newline.
 */
export function lineSource(
  vocab: Vocab,
  text: string,
  batch: number,
  seq: number | undefined,
  valFraction: number,
  seed: number,
  valText?: string,
): BatchSource {
  const newline = vocab.indexOf("\n");
  if (newline < 0) {
    throw new RangeError(
      'Cannot use line mode: the vocabulary has no "\\n": train on a text of lines',
    );
  }
  const all = splitLines(text).map((line) => vocab.encode(line));
  const cut = valText === undefined ? Math.floor(all.length * (1 - valFraction)) : all.length;
  const train = all.slice(0, cut);
  const val = valText === undefined
    ? all.slice(cut)
    : splitLines(valText).map((line) => vocab.encode(line));
  const width = seq ?? [...train, ...val].reduce((m, l) => Math.max(m, l.length), 0) + 1;
  const valOrder = Uint32Array.from(val.keys());
  let orderEpoch = -1;
  let order: Uint32Array = new Uint32Array();
  const count = (lines: Int32Array[]) => lines.reduce((n, l) => n + l.length + 1, 0);
  return {
    kind: "lines",
    seq: width,
    batchesPerEpoch: Math.ceil(train.length / batch),
    valBatches: Math.ceil(val.length / batch),
    independentRows: true,
    trainCount: train.length,
    trainChars: count(train),
    valChars: count(val),
    fill: (epoch, index, x, y) => {
      if (epoch !== orderEpoch) {
        order = linePermutation(train.length, seed, epoch);
        orderEpoch = epoch;
      }
      getLineBatch(train, order, batch, width, index, newline, x, y);
    },
    fillVal: (index, x, y) => getLineBatch(val, valOrder, batch, width, index, newline, x, y),
  };
}
