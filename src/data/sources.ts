// Where training batches come from: the text as `batch` parallel streams with its validation
// tail (the tutorial's get_batches), or its lines, one example each (line mode). A source fills
// caller-provided input and target arrays by index, so a training loop allocates nothing per
// step.

import { batchCount, readBatch, splitValidation } from "./batches.ts";
import type { Corpus } from "./corpus.ts";
import {
  arrayLines,
  corpusLines,
  fillLineBatch,
  linePermutation,
  type LineTable,
  sliceLines,
  splitLines,
} from "./lines.ts";
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
  /** Releases what the source holds open (a corpus's token files); fills fail after it. */
  close?(): void;
}

/**
 * The text as `batch` parallel streams read `seq` characters at a time, its last
 * `valFraction` held out for validation (exactly the tutorial's split and batches); with
 * `valText`, the whole text trains and `valText` validates.
 */
export function streamSource(
  vocab: Vocab,
  text: string | Corpus,
  batch: number,
  seq: number,
  valFraction: number,
  valText?: string | Corpus,
): BatchSource {
  const { train, val } = streamParts(vocab, text, valFraction, valText);
  const fill = (t: Tokens, index: number, x: Int32Array, y: Int32Array) => {
    const count = batchCount(t.length, batch, seq);
    if (!(Number.isInteger(index) && index >= 0 && index < count)) {
      throw new RangeError(
        `Invalid batch index ${index}: ${t.length} characters make ${count} batches of ` +
          `${batch}×${seq}`,
      );
    }
    readBatch(t.length, batch, seq, index, t.read, x, y);
  };
  return {
    kind: "stream",
    seq,
    batchesPerEpoch: batchCount(train.length, batch, seq),
    valBatches: batchCount(val.length, batch, seq),
    independentRows: false,
    trainCount: train.length,
    trainChars: train.length,
    valChars: val.length,
    fill: (_epoch, index, x, y) => fill(train, index, x, y),
    fillVal: (index, x, y) => fill(val, index, x, y),
    close: () => {
      train.close();
      val.close();
    },
  };
}

/**
 * The non-empty lines of the text, one per row, shuffled each epoch by `seed`; the last
 * `valFraction` of the lines held out (with `valText`: every line trains, and the lines of
 * `valText` validate). `seq` defaults to the longest line plus one (the newline each row starts
 * with). A corpus's lines are read by position from its token file (an index of 8 bytes a
 * line in memory): the same rows as its string's.
 *
 * @throws {RangeError} If the vocabulary has no newline.
 */
export function lineSource(
  vocab: Vocab,
  text: string | Corpus,
  batch: number,
  seq: number | undefined,
  valFraction: number,
  seed: number,
  valText?: string | Corpus,
): BatchSource {
  const newline = vocab.indexOf("\n");
  if (newline < 0) {
    throw new RangeError(
      'Cannot use line mode: the vocabulary has no "\\n": train on a text of lines',
    );
  }
  const table = (t: string | Corpus): LineTable =>
    typeof t === "string"
      ? arrayLines(splitLines(t).map((line) => vocab.encode(line)))
      : corpusLines(t, corpusMap(vocab, t));
  const all = table(text);
  let val: LineTable;
  let train: LineTable;
  try {
    const cut = valText === undefined ? Math.floor(all.count * (1 - valFraction)) : all.count;
    train = sliceLines(all, 0, cut);
    val = valText === undefined ? sliceLines(all, cut, all.count) : table(valText);
  } catch (e) {
    all.close();
    throw e;
  }
  const stats = (lines: LineTable) => {
    let longest = 0, chars = 0;
    for (let k = 0; k < lines.count; k++) {
      const n = lines.length(k);
      longest = Math.max(longest, n);
      chars += n + 1;
    }
    return { longest, chars };
  };
  const trainStats = stats(train), valStats = stats(val);
  const width = seq ?? Math.max(trainStats.longest, valStats.longest) + 1;
  const valOrder = Uint32Array.from({ length: val.count }, (_, k) => k);
  let orderEpoch = -1;
  let order: Uint32Array = new Uint32Array();
  return {
    kind: "lines",
    seq: width,
    batchesPerEpoch: Math.ceil(train.count / batch),
    valBatches: Math.ceil(val.count / batch),
    independentRows: true,
    trainCount: train.count,
    trainChars: trainStats.chars,
    valChars: valStats.chars,
    fill: (epoch, index, x, y) => {
      if (epoch !== orderEpoch) {
        order = linePermutation(train.count, seed, epoch);
        orderEpoch = epoch;
      }
      fillLineBatch(train, order, batch, width, index, newline, x, y);
    },
    fillVal: (index, x, y) => fillLineBatch(val, valOrder, batch, width, index, newline, x, y),
    close: () => {
      all.close();
      val.close();
    },
  };
}

// Ids by position: an encoded string's, or a corpus's (read from its token file).
interface Tokens {
  readonly length: number;
  read(start: number, out: Int32Array, at: number, count: number): void;
  close(): void;
}

// The training and validation ids: the tutorial's split of `text` (splitValidation's cut), or
// all of `text` and all of `valText`. A string is encoded once; a corpus is read by position.
function streamParts(
  vocab: Vocab,
  text: string | Corpus,
  valFraction: number,
  valText?: string | Corpus,
): { train: Tokens; val: Tokens } {
  if (valText === undefined) {
    if (typeof text === "string") {
      const { train, val } = splitValidation(vocab.encode(text), valFraction);
      return { train: idsOf(train), val: idsOf(val) };
    }
    if (!(valFraction >= 0 && valFraction < 1)) {
      throw new RangeError(`Invalid validation fraction: must be in [0, 1), got ${valFraction}`);
    }
    const valIdx = Math.trunc(text.length * (1 - valFraction)); // splitValidation's cut
    return { train: corpusPart(vocab, text, 0, valIdx), val: corpusPart(vocab, text, valIdx) };
  }
  const train = typeof text === "string" ? idsOf(vocab.encode(text)) : corpusPart(vocab, text);
  try {
    const val = typeof valText === "string"
      ? idsOf(vocab.encode(valText))
      : corpusPart(vocab, valText);
    return { train, val };
  } catch (e) {
    train.close();
    throw e;
  }
}

function idsOf(ids: Int32Array): Tokens {
  return {
    length: ids.length,
    read: (from, out, at, count) => out.set(ids.subarray(from, from + count), at),
    close: () => {},
  };
}

// Positions `start` to `end` of a corpus, in `vocab`'s ids.
function corpusPart(vocab: Vocab, corpus: Corpus, start = 0, end = corpus.length): Tokens {
  const reader = corpus.reader(corpusMap(vocab, corpus));
  return {
    length: end - start,
    read: (from, out, at, count) => reader.read(start + from, out, at, count),
    close: () => reader.close(),
  };
}

/**
 * The ids in `vocab` of a corpus's ids: `map[corpusId]`. A character `vocab` lacks is its
 * unknown symbol's id, or the error encoding the text would throw.
 *
 * @throws {VocabError} If the corpus has a character `vocab` cannot encode.
 * @throws {RangeError} If `vocab` lowercases a character into more than one, or the text has a
 * capital sigma (its lowercase depends on the next character): read such a text as a string.
 */
export function corpusMap(vocab: Vocab, corpus: Corpus): Int32Array {
  const chars = corpus.vocab.chars;
  const map = new Int32Array(chars.length);
  const unknown = vocab.unknown === null ? -1 : vocab.indexOf(vocab.unknown);
  for (let i = 0; i < chars.length; i++) {
    const ch = vocab.lowercase ? chars[i].toLowerCase() : chars[i];
    if (
      vocab.lowercase && (chars[i] === "\u03A3" || ch !== String.fromCodePoint(ch.codePointAt(0)!))
    ) {
      throw new RangeError(
        `Cannot lowercase ${corpus.path} character by character: ${JSON.stringify(chars[i])} ` +
          "lowercases to another length or by context: read the text as a string (readText)",
      );
    }
    const id = vocab.indexOf(ch);
    map[i] = id >= 0 ? id : unknown;
  }
  // The error encoding the text would throw, listing every character the vocabulary lacks.
  if (map.includes(-1)) vocab.encode(chars.filter((_, i) => map[i] < 0).join(""));
  return map;
}
