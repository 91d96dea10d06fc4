// trace: evaluate with its intermediate values kept. The text is read as one stream from a zero
// state in evaluate's windows, on the same engine call (WasmEngine.evaluateSteps), and after
// each window's forward the states, the top-k next characters and each character's loss are
// copied out of the core; so trace's mean loss is evaluate's to the bit.

import { gateBlocks } from "../model/config.ts";
import type { Cell } from "../model/config.ts";
import type { CharModel } from "../model/model.ts";
import type { Corpus } from "../data/corpus.ts";
import { corpusMap } from "../data/sources.ts";
import { VocabError } from "../data/vocab.ts";
import { WasmEngine } from "../engine/wasm_engine.ts";
import { checkThreads, defaultThreads } from "../engine/threads.ts";

/** The defaults of {@linkcode TraceOptions}: their one home. */
export const TRACE_DEFAULTS = {
  /** Next characters kept per position. */
  topK: 5,
  /** Characters per window: evaluate's (speed only: no figure depends on it). */
  window: 256,
} as const;

/** What {@linkcode trace} keeps; by default everything but the gates. */
export interface TraceOptions {
  /** Layers to keep, counted from 0 as in the checkpoint's names (default: every layer). */
  layers?: number[];
  /** Units (cells) to keep in each kept layer, from 0 (default: every unit). */
  units?: number[];
  /** Keep the LSTM's cell state `c` (default true; the other cells have none). */
  cellState?: boolean;
  /** Keep the activated gates (default false): LSTM i, f, g, o; GRU r, z, n; RNN one block. */
  gates?: boolean;
  /** The k most likely next characters kept per position (default 5; 0: none). */
  topK?: number;
  /** Characters per window (default 256, evaluate's); the figures do not depend on it. */
  window?: number;
  /** Threads for the WASM core (default: the number of cores, at most 16; as evaluate). */
  threads?: number;
}

/** One layer's kept values; row p is the position p of the trace (or of the chunk). */
export interface TracedLayer {
  /** The layer, from 0. */
  layer: number;
  /** The units kept, in order: column j of `h` is unit `units[j]`. */
  units: Int32Array;
  /** The hidden state after each position, `[positions, units.length]`. */
  h: Float32Array;
  /** The LSTM's cell state after each position, like `h`; null when not kept. */
  c: Float32Array | null;
  /** The activated gates, `[positions, blocks, units.length]`; null unless asked for. */
  gates: Float32Array | null;
}

/** The values of positions `[start, start + length)`: what {@linkcode traceChunks} yields. */
export interface TraceChunk {
  /** The first position. */
  start: number;
  /** Positions in this chunk. */
  length: number;
  /** The kept layers' values for these positions. */
  layers: TracedLayer[];
  /** Cross-entropy (nats) of the actual next character at each position. */
  loss: Float64Array;
  /** The top-k next characters' ids at each position, `[length, k]`, most likely first. */
  topIds: Int32Array;
  /** Their probabilities, `[length, k]`. */
  topProbs: Float32Array;
  /**
   * The mean loss of every position so far, summed as evaluate sums it: on the last chunk it
   * is `evaluate(model, text)` to the bit.
   */
  meanLoss: number;
}

/** What {@linkcode trace} returns: position p is the model after reading `chars[p]`. */
export interface Trace {
  /** The text's characters (code points): one more than the positions. */
  chars: string[];
  /** Their ids in the model's vocabulary. */
  ids: Int32Array;
  /** Positions traced: every character but the last (it predicts nothing in the text). */
  positions: number;
  /** The model's cell. */
  cell: Cell;
  /** Units per layer. */
  hidden: number;
  /** Next characters kept per position. */
  topK: number;
  /** Names of the gate blocks, in order (`i f g o`, `r z n`, or `h` for the RNN). */
  gateNames: readonly string[];
  /** The kept layers, `positions` rows each. */
  layers: TracedLayer[];
  /** Loss of the actual next character at each position (`chars[p + 1]`). */
  loss: Float64Array;
  /** Top-k next characters' ids, `[positions, topK]`, most likely first. */
  topIds: Int32Array;
  /** Their probabilities, `[positions, topK]`. */
  topProbs: Float32Array;
  /** The mean of `loss`, summed as evaluate sums it: `evaluate(model, text)` to the bit. */
  meanLoss: number;
}

/** The gate names of each cell, in the core's block order. */
export const GATE_NAMES: Record<Cell, readonly string[]> = {
  lstm: ["i", "f", "g", "o"],
  gru: ["r", "z", "n"],
  rnn: ["h"],
};

interface Checked {
  /** Characters in the text. */
  length: number;
  /** A string's ids (a corpus is read by position). */
  ids?: Int32Array;
  /** Writes the ids of characters `start` to `start + n - 1` to `out`. */
  read: (start: number, out: Int32Array, n: number) => void;
  /** Releases a corpus's token file. */
  close: () => void;
  layers: { layer: number; units: Int32Array; all: boolean }[];
  cellState: boolean;
  gates: boolean;
  topK: number;
  window: number;
  threads: number;
}

function checkTrace(model: CharModel, text: string | Corpus, o: TraceOptions): Checked {
  const { layers: L, hidden: H, cell } = model.config;
  let ids: Int32Array | undefined;
  let map: Int32Array | undefined;
  try {
    if (typeof text === "string") ids = model.vocab.encode(text);
    else map = corpusMap(model.vocab, text);
  } catch (e) {
    if (!(e instanceof VocabError) || !e.message.startsWith("Cannot encode the text: ")) throw e;
    const what = e.message.slice("Cannot encode the text: ".length);
    throw new VocabError(
      `Cannot trace the text: ${what}: give a text written in the model's characters`,
    );
  }
  const length = ids ? ids.length : text.length;
  if (length < 2) {
    throw new RangeError(
      `Cannot trace the text: it has ${length} character${length === 1 ? "" : "s"}: ` +
        "give at least 2 (each position predicts the next character)",
    );
  }
  const layerList = o.layers ?? Array.from({ length: L }, (_, l) => l);
  for (const l of layerList) {
    if (!Number.isInteger(l) || l < 0 || l >= L) {
      throw new RangeError(
        `Cannot trace layer ${l}: the model has ${L} layer${L === 1 ? "" : "s"}: ` +
          `give layers from 0 to ${L - 1}`,
      );
    }
  }
  const unitList = o.units ?? Array.from({ length: H }, (_, u) => u);
  for (const u of unitList) {
    if (!Number.isInteger(u) || u < 0 || u >= H) {
      throw new RangeError(
        `Cannot trace cell ${u}: each layer has ${H} cells: give cells from 0 to ${H - 1}`,
      );
    }
  }
  const all = o.units === undefined;
  const topK = o.topK ?? TRACE_DEFAULTS.topK;
  if (!Number.isInteger(topK) || topK < 0) {
    throw new RangeError(`Invalid option: topK must be an integer ≥ 0, got ${topK}`);
  }
  const window = o.window ?? TRACE_DEFAULTS.window;
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`Invalid option: window must be a positive integer, got ${window}`);
  }
  // A string's ids are in memory; a corpus's are read a window at a time.
  const source = ids
    ? {
      read: (start: number, out: Int32Array, n: number) => out.set(ids.subarray(start, start + n)),
      close: () => {},
    }
    : (() => {
      const reader = (text as Corpus).reader(map);
      return {
        read: (start: number, out: Int32Array, n: number) => reader.read(start, out, 0, n),
        close: () => reader.close(),
      };
    })();
  return {
    length,
    ids,
    ...source,
    layers: [...new Set(layerList)].map((layer) => ({
      layer,
      units: Int32Array.from(unitList),
      all,
    })),
    cellState: cell === "lstm" && (o.cellState ?? true),
    gates: o.gates ?? false,
    topK: Math.min(topK, model.vocab.size),
    window,
    threads: checkThreads(o.threads ?? defaultThreads()),
  };
}

/**
 * Reads `text` as evaluate does (one stream from a zero state, windows of `window` with the
 * state carried) and yields the kept values window by window, so a long text needs memory for
 * one window at a time. Each chunk's arrays are its own. `text` may be a `Corpus`
 * (`openCorpus`): its ids are read from its token file a window at a time, so a text too large
 * for a string traces in bounded memory.
 *
 * @example The mean loss of a long text, one window at a time
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { traceChunks } from "./trace.ts";
 * const text = "abc abd\n".repeat(100);
 * const model = createModel(text, { hidden: 8, layers: 1 });
 * let last;
 * for await (const chunk of traceChunks(model, text, { layers: [0], units: [3], threads: 1 })) {
 *   last = chunk;
 * }
 * console.log(last?.meanLoss); // evaluate(model, text)'s figure
 * ```
 *
 * @throws {RangeError} If a layer, a cell or an option is invalid, or the text is too short.
 * @throws {VocabError} If the text has a character the model does not know.
 */
export async function* traceChunks(
  model: CharModel,
  text: string | Corpus,
  options: TraceOptions = {},
): AsyncGenerator<TraceChunk> {
  const checked = checkTrace(model, text, options);
  try {
    yield* chunksOf(model, checked);
  } finally {
    checked.close();
  }
}

// Whole-trace arrays that chunksOf writes into (trace's), instead of one set per chunk.
interface Sink {
  layers: TracedLayer[];
  loss: Float64Array;
  topIds: Int32Array;
  topProbs: Float32Array;
}

// The chunks; with `sink`, each chunk's arrays are views of the sink's at its positions.
async function* chunksOf(model: CharModel, o: Checked, sink?: Sink): AsyncGenerator<TraceChunk> {
  const { hidden: H, cell, vocabSize: V } = { ...model.config, vocabSize: model.vocab.size };
  const positions = o.length - 1;
  const T = Math.min(o.window, positions);
  const windows = Math.ceil(positions / T);
  const G = gateBlocks(cell);
  using engine = WasmEngine.create({ ...model.config, batch: 1, seq: T }, {
    threads: o.threads,
  });
  engine.load({ params: model.params });
  // Exactly evaluate's stream fill (src/train/evaluate.ts, scoreStreams with one stream).
  const ids = new Int32Array(T + 1);
  const fill = (k: number, x: Int32Array, y: Int32Array) => {
    x.fill(0);
    y.fill(-1);
    const start = k * T, end = Math.min(T, positions - start);
    o.read(start, ids, end + 1);
    for (let t = 0; t < end; t++) {
      x[t] = ids[t];
      y[t] = ids[t + 1];
    }
  };
  let sum = 0, count = 0;
  for (const step of engine.evaluateSteps(windows, fill, (k) => k === 0)) {
    const start = step.index * T;
    const n = Math.min(T, positions - start);
    if (step.targets > 0) sum += step.mean * step.targets;
    count += step.targets;
    const layers = o.layers.map(({ layer, units, all }, i) => {
      const a = engine.activations(layer);
      const U = units.length;
      const pick = (src: Float32Array, blocks: number, into: Float32Array | undefined | null) => {
        const out = into
          ? into.subarray(start * blocks * U, (start + n) * blocks * U)
          : new Float32Array(n * blocks * U);
        for (let t = 0; t < n; t++) {
          for (let b = 0; b < blocks; b++) {
            const from = (t * blocks + b) * H, to = (t * blocks + b) * U;
            if (all) out.set(src.subarray(from, from + H), to);
            else for (let j = 0; j < U; j++) out[to + j] = src[from + units[j]];
          }
        }
        return out;
      };
      const kept = sink?.layers[i];
      return {
        layer,
        units,
        h: pick(a.h, 1, kept?.h),
        c: o.cellState && a.c ? pick(a.c, 1, kept?.c) : null,
        gates: o.gates ? pick(a.gates, G, kept?.gates) : null,
      };
    });
    const k = o.topK;
    const loss = sink ? sink.loss.subarray(start, start + n) : new Float64Array(n);
    loss.set(engine.rowLosses().subarray(0, n));
    const topIds = sink ? sink.topIds.subarray(start * k, (start + n) * k) : new Int32Array(n * k);
    const topProbs = sink
      ? sink.topProbs.subarray(start * k, (start + n) * k)
      : new Float32Array(n * k);
    const logits = engine.logits;
    for (let t = 0; t < n; t++) topOf(logits.subarray(t * V, t * V + V), k, t, topIds, topProbs);
    yield { start, length: n, layers, loss, topIds, topProbs, meanLoss: sum / count };
  }
}

// The k largest logits of a row (ties: the lower id first), written as ids and softmax
// probabilities (in f64, from the row's log-sum-exp) at row t of the outputs.
function topOf(z: Float32Array, k: number, t: number, ids: Int32Array, probs: Float32Array) {
  if (k === 0) return;
  let max = -Infinity;
  for (let j = 0; j < z.length; j++) if (z[j] > max) max = z[j];
  let s = 0;
  for (let j = 0; j < z.length; j++) s += Math.exp(z[j] - max);
  const lse = max + Math.log(s);
  const at = t * k;
  let filled = 0;
  for (let j = 0; j < z.length; j++) {
    const v = z[j];
    if (filled === k && v <= z[ids[at + k - 1]]) continue;
    let i = filled < k ? filled++ : k - 1;
    while (i > 0 && z[ids[at + i - 1]] < v) {
      ids[at + i] = ids[at + i - 1];
      i--;
    }
    ids[at + i] = j;
  }
  for (let i = 0; i < k; i++) probs[at + i] = Math.exp(z[ids[at + i]] - lse);
}

/**
 * Reads `text` as one stream from a zero state, exactly as `evaluate(model, text)` does (the
 * same engine call, the same windows), and keeps, for each position p (the model having read
 * `chars[p]`): every kept layer's state (`h`, and `c` for the LSTM; gates on request), the
 * `topK` most likely next characters with their probabilities, and the loss of the actual next
 * character. `meanLoss` equals evaluate's figure exactly. A long text needs
 * positions × kept units × 4 bytes per kept array: keep some layers or units, or read it with
 * {@linkcode traceChunks}.
 *
 * @example One layer's states, the guesses, and the loss
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { trace } from "./trace.ts";
 * const model = createModel("hello world\n", { hidden: 16, layers: 2 });
 * const t = await trace(model, "hello world\n", { layers: [1], threads: 1 });
 * console.log(t.positions); // 11: every character but the last
 * console.log(t.layers[0].h.length); // 11 × 16
 * console.log(model.vocab.chars[t.topIds[0]], t.topProbs[0]); // the best guess after "h"
 * console.log(t.meanLoss); // evaluate's figure
 * ```
 *
 * @throws {RangeError} If a layer, a cell or an option is invalid, or the text is too short.
 * @throws {VocabError} If the text has a character the model does not know.
 */
export async function trace(
  model: CharModel,
  text: string,
  options: TraceOptions = {},
): Promise<Trace> {
  const o = checkTrace(model, text, options);
  const ids = o.ids!;
  const P = o.length - 1;
  const { hidden, cell } = model.config;
  const G = gateBlocks(cell);
  const layers: TracedLayer[] = o.layers.map(({ layer, units }) => ({
    layer,
    units,
    h: new Float32Array(P * units.length),
    c: o.cellState ? new Float32Array(P * units.length) : null,
    gates: o.gates ? new Float32Array(P * G * units.length) : null,
  }));
  const loss = new Float64Array(P);
  const topIds = new Int32Array(P * o.topK), topProbs = new Float32Array(P * o.topK);
  let meanLoss = NaN;
  for await (const chunk of chunksOf(model, o, { layers, loss, topIds, topProbs })) {
    meanLoss = chunk.meanLoss;
  }
  return {
    chars: Array.from(ids, (id) => model.vocab.chars[id]),
    ids,
    positions: P,
    cell,
    hidden,
    topK: o.topK,
    gateNames: GATE_NAMES[cell],
    layers,
    loss,
    topIds,
    topProbs,
    meanLoss,
  };
}
