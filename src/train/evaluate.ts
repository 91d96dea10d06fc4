// evaluate: the mean cross-entropy of a model on a text, without training it, on any engine.
// By default the exact figure of one stream read from a zero state (what PyTorch's forward of
// the whole text at batch 1 gives); the tutorial's batched estimate, and line mode's per-line
// figure, on request.

import { type BackendChoice, checkBackend, type EvaluateTotals } from "../engine/engine.ts";
import { createEngine } from "../engine/create.ts";
import { checkThreads, defaultThreads } from "../engine/threads.ts";
import { batchCount, getBatch } from "../data/batches.ts";
import type { Corpus } from "../data/corpus.ts";
import { arrayLines, fillLineBatch, splitLines } from "../data/lines.ts";
import { corpusMap, streamSource } from "../data/sources.ts";
import type { CharModel } from "../model/model.ts";

const MODES = ["stream", "batched"] as const;

// The defaults of evaluate's options.
const EVALUATE_DEFAULTS = {
  mode: "stream",
  /** Characters per window in mode `stream` (speed only: the figure does not depend on it). */
  window: 256,
  /** Rows in mode `batched`, and lines side by side with `lines: true`. */
  batch: 32,
  /** Characters per window in mode `batched`. */
  batchedSeq: 100,
} as const;

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /**
   * `stream` (default): the exact mean over every character after the first, read as one
   * stream from a zero state in windows of `seq` with the state carried. `batched`: the
   * tutorial's validation estimate (its `get_batches`: `batch` rows, whole batches only, the
   * tail dropped, the last target of each row wrapping to the row's first character; the mean
   * of the batches' means), what training's validation reports.
   */
  mode?: "stream" | "batched";
  /**
   * Score each non-empty line from a zero state, as line-mode training reads it: the model
   * reads a newline and then the line, and predicts the line and then a newline (inputs
   * `"\n" + line`, targets `line + "\n"`). In mode `stream` every character of every line and
   * its newline counts, however long the line; in mode `batched` lines are cut at `seq - 1`
   * characters and the figure is the mean of the batches' means, as line-mode validation
   * computes it. Needs `"\n"` in the vocabulary (default false).
   */
  lines?: boolean;
  /**
   * Mode `batched`: parallel rows (default 32, fewer when the text is short). With
   * `lines: true`: lines read side by side (default 32). Mode `stream` without lines reads one
   * stream: only 1 is accepted.
   */
  batch?: number;
  /**
   * Characters per window. Mode `stream`: 256 by default; it changes the speed, not the
   * figure. Mode `batched`: 100 by default (the text's length minus one when shorter); with
   * `lines: true`, the longest line plus one, as line-mode training.
   */
  seq?: number;
  /** Threads for the WASM core (default: the number of cores, at most 16). */
  threads?: number;
  /** The engine: `wasm` (default), `webgpu` or `auto`; every engine gives the same figure. */
  backend?: BackendChoice;
}

/**
 * Mean cross-entropy per character, in nats, of predicting each character of `text` from the
 * ones before it, dropout off: the text is read as one stream from a zero state and every
 * character after the first is a target, exactly what PyTorch's forward of the whole text at
 * batch 1 gives (within float32 rounding). The stream is read in windows of `seq` characters
 * with the state carried from window to window, on `threads` threads.
 *
 * `lines: true` scores each line from a zero state instead, as line-mode training reads it;
 * `mode: "batched"` gives the tutorial's batched estimate, the figure training's validation
 * reports (see {@linkcode EvaluateOptions}).
 *
 * @example Loss of an untrained model
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { evaluate } from "./evaluate.ts";
 * const model = createModel("abcd", { hidden: 8, layers: 1 });
 * console.log(await evaluate(model, "abcdabcdabcd", { threads: 1 })); // about ln 4 = 1.386
 * ```
 *
 * @example The tutorial's batched estimate, and per-line scoring
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { evaluate } from "./evaluate.ts";
 * const text = "ab\nba\nabba\n".repeat(20);
 * const model = createModel(text, { hidden: 8, layers: 1 });
 * console.log(await evaluate(model, text, { mode: "batched", batch: 4, seq: 10, threads: 1 }));
 * console.log(await evaluate(model, text, { lines: true, threads: 1 }));
 * ```
 *
 * @throws {RangeError} If an option is invalid (`Invalid option: …`), or the text cannot be
 * scored (`Cannot evaluate: …`: fewer than 2 characters, no lines, no newline in the vocabulary).
 * @throws {VocabError} If `text` has a character the vocabulary cannot encode.
 *
 * `text` may be a {@linkcode Corpus} (`openCorpus`): the same figure, its ids read by position
 * from the token file (with `lines: true`, read into a string).
 */
export async function evaluate(
  model: CharModel,
  text: string | Corpus,
  options: EvaluateOptions = {},
): Promise<number> {
  const o = checkEvaluateOptions(options);
  const runner = { model, backend: o.backend, threads: o.threads };
  if (typeof text !== "string") {
    // Line mode keeps its lines in memory: a corpus becomes a string for it.
    if (o.lines) text = text.text(0, text.length);
    else return await evaluateCorpus(runner, text, o);
  }
  if (o.lines) {
    const newline = model.vocab.indexOf("\n");
    if (newline < 0) {
      throw new RangeError(
        'Cannot evaluate: lines: true needs "\\n" in the model\'s vocabulary, which has none',
      );
    }
    const lines = splitLines(text).map((line) => model.vocab.encode(line));
    if (lines.length === 0) {
      throw new RangeError(
        "Cannot evaluate: lines: true needs a non-empty line, the text has none",
      );
    }
    if (o.mode === "batched") return await batchedLines(runner, lines, newline, o.batch, o.seq);
    const streams: Streams = {
      count: lines.length,
      length: (i) => lines[i].length + 1,
      input: (i, p) => p === 0 ? newline : lines[i][p - 1],
      target: (i, p) => p < lines[i].length ? lines[i][p] : newline,
    };
    const totals = await scoreStreams(runner, streams, o.batch ?? EVALUATE_DEFAULTS.batch, o.seq);
    return totals.sum / totals.count;
  }
  const encoded = model.vocab.encode(text);
  if (encoded.length < 2) {
    throw new RangeError(
      `Cannot evaluate: the text has ${encoded.length} characters: evaluation needs at least 2`,
    );
  }
  if (o.mode === "batched") return await batchedStream(runner, encoded, o.batch, o.seq);
  if (o.batch !== undefined && o.batch !== 1) {
    throw new RangeError(
      `Invalid option: batch must be 1 in mode "stream" (one stream, read in windows of seq), ` +
        `got ${o.batch}: mode "batched" gives the tutorial's batched estimate`,
    );
  }
  const stream: Streams = {
    count: 1,
    length: () => encoded.length - 1,
    input: (_, p) => encoded[p],
    target: (_, p) => encoded[p + 1],
  };
  const totals = await scoreStreams(runner, stream, 1, o.seq);
  return totals.sum / totals.count;
}

interface CheckedOptions {
  mode: "stream" | "batched";
  lines: boolean;
  batch?: number;
  seq?: number;
  threads: number;
  backend: BackendChoice;
}

function checkEvaluateOptions(options: EvaluateOptions): CheckedOptions {
  const mode = options.mode ?? EVALUATE_DEFAULTS.mode;
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new RangeError(
      `Invalid option: mode must be ${MODES.join(" or ")}, got ${JSON.stringify(mode)}`,
    );
  }
  const lines = options.lines ?? false;
  if (typeof lines !== "boolean") {
    throw new RangeError(`Invalid option: lines must be true or false, got ${String(lines)}`);
  }
  for (const name of ["batch", "seq"] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw new RangeError(`Invalid option: ${name} must be a positive integer, got ${value}`);
    }
  }
  return {
    mode,
    lines,
    batch: options.batch,
    seq: options.seq,
    threads: checkThreads(options.threads ?? defaultThreads()),
    backend: checkBackend(options.backend ?? "wasm"),
  };
}

interface Runner {
  model: CharModel;
  backend: BackendChoice;
  threads: number;
}

// Runs `count` batches of `batch` × `seq` on an engine loaded with the model's parameters.
async function run(
  r: Runner,
  batch: number,
  seq: number,
  count: number,
  fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
  fresh: boolean | ((index: number) => boolean),
): Promise<EvaluateTotals> {
  using engine = await createEngine({ ...r.model.config, batch, seq }, {
    backend: r.backend,
    threads: r.threads,
  });
  engine.load({ params: r.model.params });
  return await engine.evaluateBatches(count, fill, fresh);
}

/** Sequences each scored from a zero state: input and target at position p < length(i). */
interface Streams {
  count: number;
  length(i: number): number;
  input(i: number, p: number): number;
  target(i: number, p: number): number;
}

// Scores every target of every stream: the streams, longest first, `rows` side by side in
// windows of `window` with the state carried, zeroed when the next group of streams begins;
// a shorter stream's row is padding (input 0, target -1) after its end.
async function scoreStreams(
  r: Runner,
  s: Streams,
  rows: number,
  window: number | undefined,
): Promise<EvaluateTotals> {
  const order = Array.from({ length: s.count }, (_, i) => i)
    .sort((a, b) => s.length(b) - s.length(a) || a - b);
  const B = Math.min(rows, s.count);
  const T = Math.min(window ?? EVALUATE_DEFAULTS.window, s.length(order[0]));
  // Batch k is window windowOf[k] of the group of streams order[groupOf[k] * B, …+B).
  const groupOf: number[] = [], windowOf: number[] = [];
  for (let g = 0; g * B < s.count; g++) {
    const windows = Math.ceil(s.length(order[g * B]) / T);
    for (let w = 0; w < windows; w++) {
      groupOf.push(g);
      windowOf.push(w);
    }
  }
  const fill = (k: number, x: Int32Array, y: Int32Array) => {
    x.fill(0);
    y.fill(-1);
    const g = groupOf[k], start = windowOf[k] * T;
    for (let b = 0; b < B && g * B + b < s.count; b++) {
      const i = order[g * B + b];
      const end = Math.min(T, s.length(i) - start);
      for (let t = 0; t < end; t++) {
        x[b * T + t] = s.input(i, start + t);
        y[b * T + t] = s.target(i, start + t);
      }
    }
  };
  return await run(r, B, T, groupOf.length, fill, (k) => windowOf[k] === 0);
}

// The tutorial's get_batches over the whole text: the mean of the batches' means.
async function batchedStream(
  r: Runner,
  encoded: Int32Array,
  batchOption: number | undefined,
  seqOption: number | undefined,
): Promise<number> {
  const seq = Math.min(seqOption ?? EVALUATE_DEFAULTS.batchedSeq, encoded.length - 1);
  const batch = Math.max(
    1,
    Math.min(batchOption ?? EVALUATE_DEFAULTS.batch, Math.floor(encoded.length / seq)),
  );
  const count = batchCount(encoded.length, batch, seq);
  const fill = (i: number, x: Int32Array, y: Int32Array) => getBatch(encoded, batch, seq, i, x, y);
  return (await run(r, batch, seq, count, fill, false)).meanOfBatches;
}

// Line-mode validation's figure: lines in order, `batch` at a time from a zero state, cut at
// seq - 1 characters; the mean of the batches' means.
async function batchedLines(
  r: Runner,
  lines: Int32Array[],
  newline: number,
  batchOption: number | undefined,
  seqOption: number | undefined,
): Promise<number> {
  const seq = seqOption ?? lines.reduce((m, l) => Math.max(m, l.length), 0) + 1;
  // Rows past the last line are padding: fewer rows than the default give the same figure.
  const batch = batchOption ?? Math.min(EVALUATE_DEFAULTS.batch, lines.length);
  const order = Uint32Array.from(lines.keys());
  const table = arrayLines(lines);
  const fill = (i: number, x: Int32Array, y: Int32Array) =>
    fillLineBatch(table, order, batch, seq, i, newline, x, y);
  return (await run(r, batch, seq, Math.ceil(lines.length / batch), fill, true)).meanOfBatches;
}

// evaluate's stream and batched modes on a corpus: the same batches as on its string, read by
// position (a window's ids plus the next at a time).
async function evaluateCorpus(r: Runner, corpus: Corpus, o: CheckedOptions): Promise<number> {
  const n = corpus.length;
  if (n < 2) {
    throw new RangeError(
      `Cannot evaluate: the text has ${n} characters: evaluation needs at least 2`,
    );
  }
  if (o.mode === "batched") {
    const seq = Math.min(o.seq ?? EVALUATE_DEFAULTS.batchedSeq, n - 1);
    const batch = Math.max(1, Math.min(o.batch ?? EVALUATE_DEFAULTS.batch, Math.floor(n / seq)));
    const source = streamSource(r.model.vocab, corpus, batch, seq, 0);
    try {
      const fill = (i: number, x: Int32Array, y: Int32Array) => source.fill(0, i, x, y);
      return (await run(r, batch, seq, source.batchesPerEpoch, fill, false)).meanOfBatches;
    } finally {
      source.close?.();
    }
  }
  if (o.batch !== undefined && o.batch !== 1) {
    throw new RangeError(
      `Invalid option: batch must be 1 in mode "stream" (one stream, read in windows of seq), ` +
        `got ${o.batch}: mode "batched" gives the tutorial's batched estimate`,
    );
  }
  using reader = corpus.reader(corpusMap(r.model.vocab, corpus));
  const buffer = new Int32Array(1 << 16);
  let from = 0, to = 0; // buffer holds the ids of [from, to)
  const at = (p: number) => {
    if (p < from || p >= to) {
      from = p;
      to = Math.min(n, p + buffer.length);
      reader.read(from, buffer, 0, to - from);
    }
    return buffer[p - from];
  };
  const stream: Streams = {
    count: 1,
    length: () => n - 1,
    input: (_, p) => at(p),
    target: (_, p) => at(p + 1),
  };
  const totals = await scoreStreams(r, stream, 1, o.seq);
  return totals.sum / totals.count;
}
