// LSTMVis's query over a trace: the cells on (at or above a threshold) across a span of the
// text and off in a margin around it, then the other spans where those cells fire together,
// best first. A pure function over trace's arrays, shared by the studio's Worker and inspect.ts.

import type { StateKind } from "./cells.ts";
import type { Trace } from "./trace.ts";

/** The defaults of {@linkcode SpanQueryOptions}: their one home. */
export const SPAN_DEFAULTS = {
  /** LSTMVis's default threshold on a hidden state in [-1, 1]. */
  threshold: 0.3,
  /** Positions on each side of the span where a selected cell must be off. */
  margin: 2,
  /** At most this many cells, the most clearly separated first. */
  maxCells: 10,
  /** Matches returned. */
  top: 20,
} as const;

/** Options for {@linkcode querySpan}. */
export interface SpanQueryOptions {
  /** The state compared with the threshold (default `h`). */
  state?: StateKind;
  /** A cell is on at a position when its value is at least this (default 0.3). */
  threshold?: number;
  /** Positions before and after the span where a cell must be off (default 2). */
  margin?: number;
  /** At most this many cells (default 10), the most clearly separated first. */
  maxCells?: number;
  /** A match needs at least this many of the cells on (default: all of them). */
  minCells?: number;
  /** Matches returned (default 20). */
  top?: number;
}

/** A cell the span selects. */
export interface SpanCell {
  /** The layer, from 0. */
  layer: number;
  /** The unit, from 0. */
  unit: number;
  /** The state compared. */
  state: StateKind;
  /** Its lowest value across the span. */
  inside: number;
  /** Its highest value in the margin (-Infinity when the span touches both ends). */
  outside: number;
}

/** A span where the selected cells fire together. */
export interface SpanMatch {
  /** The first position. */
  start: number;
  /** One past the last position. */
  end: number;
  /** In (0, 1]: the mean share of the cells on, times the length's closeness to the span's. */
  score: number;
}

/** What {@linkcode querySpan} finds. */
export interface SpanResult {
  /** The cells on across the span and off in its margin, most clearly separated first. */
  cells: SpanCell[];
  /** The other spans (not overlapping the query) where they fire together, best first. */
  matches: SpanMatch[];
}

/**
 * LSTMVis's query: the cells whose value is at least `threshold` at every position of
 * `[start, end)` and below it at every position of the `margin` positions on each side
 * (positions are trace positions: the model having read `chars[p]`), the `maxCells` most
 * clearly separated (lowest inside minus highest outside); then the maximal runs of positions
 * where at least `minCells` of them are on, except runs overlapping the query, scored by the
 * mean share of the cells on times min(length, span) / max(length, span), best first.
 *
 * @example Cells on across a quoted word
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { trace } from "./trace.ts";
 * import { querySpan } from "./span.ts";
 * const text = 'a "bc" d "ef" g\n'.repeat(10);
 * const model = createModel(text, { hidden: 16, layers: 1 });
 * const t = await trace(model, text, { threads: 1 });
 * const { cells, matches } = querySpan(t, 3, 5, { threshold: 0.1 });
 * console.log(cells.length, matches.slice(0, 3));
 * ```
 *
 * @throws {RangeError} `Cannot query the span: …` when the span is empty or outside the trace,
 * or an option is invalid.
 */
export function querySpan(
  trace: Pick<Trace, "positions" | "layers" | "cell">,
  start: number,
  end: number,
  options: SpanQueryOptions = {},
): SpanResult {
  const P = trace.positions;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > P) {
    throw new RangeError(
      `Cannot query the span: ${start} to ${end} is outside the trace: select positions from 0 ` +
        `to ${P}`,
    );
  }
  if (end <= start) {
    throw new RangeError(
      `Cannot query the span: it is empty (${start} to ${end}): select at least one character`,
    );
  }
  const state = options.state ?? "h";
  const threshold = options.threshold ?? SPAN_DEFAULTS.threshold;
  const margin = options.margin ?? SPAN_DEFAULTS.margin;
  const maxCells = options.maxCells ?? SPAN_DEFAULTS.maxCells;
  const top = options.top ?? SPAN_DEFAULTS.top;
  if (state !== "h" && state !== "c") {
    throw new RangeError(`Cannot query the span: state ${String(state)} is unknown: use h or c`);
  }
  if (!Number.isFinite(threshold)) {
    throw new RangeError(`Cannot query the span: threshold ${threshold} is not a number`);
  }
  for (const [name, v] of [["margin", margin], ["maxCells", maxCells], ["top", top]] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`Cannot query the span: ${name} must be an integer ≥ 0, got ${v}`);
    }
  }
  const found: (SpanCell & { X: Float32Array; U: number; j: number })[] = [];
  for (const l of trace.layers) {
    const X = state === "h" ? l.h : l.c;
    if (!X) {
      throw new RangeError(
        `Cannot query the span: the ${trace.cell.toUpperCase()} trace has no cell state: use h`,
      );
    }
    const U = l.units.length;
    for (let j = 0; j < U; j++) {
      let inside = Infinity, outside = -Infinity;
      for (let p = start; p < end && inside >= threshold; p++) {
        inside = Math.min(inside, X[p * U + j]);
      }
      if (inside < threshold) continue;
      for (let p = Math.max(0, start - margin); p < start; p++) {
        outside = Math.max(outside, X[p * U + j]);
      }
      for (let p = end; p < Math.min(P, end + margin); p++) {
        outside = Math.max(outside, X[p * U + j]);
      }
      if (outside >= threshold) continue;
      found.push({ layer: l.layer, unit: l.units[j], state, inside, outside, X, U, j });
    }
  }
  found.sort((a, b) => (b.inside - b.outside) - (a.inside - a.outside) || a.layer - b.layer);
  const chosen = found.slice(0, maxCells);
  const cells = chosen.map(({ layer, unit, state, inside, outside }) => ({
    layer,
    unit,
    state,
    inside,
    outside,
  }));
  if (chosen.length === 0) return { cells, matches: [] };
  const minCells = options.minCells ?? chosen.length;
  if (!Number.isInteger(minCells) || minCells < 1) {
    throw new RangeError(`Cannot query the span: minCells must be an integer ≥ 1, got ${minCells}`);
  }
  const need = Math.min(minCells, chosen.length);
  const length = end - start;
  const matches: SpanMatch[] = [];
  let runStart = -1, onSum = 0;
  for (let p = 0; p <= P; p++) {
    let on = 0;
    if (p < P) { for (const c of chosen) if (c.X[p * c.U + c.j] >= threshold) on++; }
    if (p < P && on >= need) {
      if (runStart < 0) runStart = p, onSum = 0;
      onSum += on;
      continue;
    }
    if (runStart >= 0 && (p <= start || runStart >= end)) {
      const n = p - runStart;
      const share = onSum / (n * chosen.length);
      matches.push({
        start: runStart,
        end: p,
        score: share * Math.min(n, length) / Math.max(n, length),
      });
    }
    runStart = -1;
  }
  matches.sort((a, b) => b.score - a.score || a.start - b.start);
  return { cells, matches: matches.slice(0, top) };
}
