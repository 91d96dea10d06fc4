/**
 * See inside a model: {@linkcode trace} reads a text as `evaluate` does (one stream from a zero
 * state, the same engine call, so its mean loss is evaluate's to the bit) and keeps, per
 * character, every layer's state (`h`, and `c` for the LSTM; gates on request), the top-k next
 * characters with their probabilities, and the loss of the actual next character;
 * {@linkcode traceChunks} gives the same window by window for long texts.
 *
 * Cells found for you: {@linkcode textFeatures} (inside double quotes, inside brackets,
 * position in the line, start of a word, after a newline) and {@linkcode maskFeature} (any
 * mask), {@linkcode rankCells} (Pearson's r of every cell with every feature, ranked; or
 * {@linkcode CellCorrelator} chunk by chunk), and LSTMVis's query {@linkcode querySpan}: the
 * cells on across a span and off around it, then the other spans where they fire together.
 * Layers and units count from 0, as in the checkpoint's names (`lstm.weight_ih_l1` is layer 1).
 *
 * @example The cells that follow the text's features
 * ```ts
 * import { createModel } from "../../mod.ts";
 * import { describeScore, querySpan, rankCells, textFeatures, trace } from "./mod.ts";
 *
 * const text = 'she said "no" (twice)\nhe said "yes"\n'.repeat(20);
 * const model = createModel(text, { hidden: 16, layers: 2 });
 * const t = await trace(model, text, { threads: 1 });
 * console.log(t.meanLoss); // evaluate(model, text)
 * for (const row of rankCells(t, textFeatures(t.chars), { top: 3 })) {
 *   console.log(describeScore(row));
 * }
 * console.log(querySpan(t, 10, 12, { threshold: 0.1 }).matches.slice(0, 3));
 * ```
 *
 * @module
 */

export {
  GATE_NAMES,
  type Trace,
  trace,
  TRACE_DEFAULTS,
  type TraceChunk,
  traceChunks,
  type TracedLayer,
  type TraceOptions,
} from "./trace.ts";
export {
  type Feature,
  maskFeature,
  TEXT_FEATURES,
  textFeatures,
  TextFeatureStream,
} from "./features.ts";
export {
  CellCorrelator,
  type CellRef,
  type CellScore,
  cellValues,
  describeScore,
  parseCell,
  rankCells,
  type RankOptions,
  type StateKind,
} from "./cells.ts";
export {
  querySpan,
  SPAN_DEFAULTS,
  type SpanCell,
  type SpanMatch,
  type SpanQueryOptions,
  type SpanResult,
} from "./span.ts";
