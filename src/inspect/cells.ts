// Cells found for you: the Pearson correlation of every traced cell with every feature, ranked
// (rankCells, or CellCorrelator chunk by chunk for long texts), a cell's values by name
// (cellValues, parseCell), and LSTMVis's span query (querySpan). Pure functions over trace's
// arrays: the studio's Worker and inspect.ts share them.

import type { Feature } from "./features.ts";
import type { Trace, TraceChunk, TracedLayer } from "./trace.ts";

/** Which state of a cell: the hidden state `h`, or the LSTM's cell state `c`. */
export type StateKind = "h" | "c";

/** One cell: a unit of a layer (both from 0), and which of its states. */
export interface CellRef {
  /** The layer, from 0 as in the checkpoint's names. */
  layer: number;
  /** The unit in the layer, from 0. */
  unit: number;
  /** `h` (default) or, for the LSTM, `c`. */
  state?: StateKind;
}

/** How well one cell follows one feature. */
export interface CellScore {
  /** The layer, from 0. */
  layer: number;
  /** The unit, from 0. */
  unit: number;
  /** The state correlated. */
  state: StateKind;
  /** The feature's name. */
  feature: string;
  /** The feature's label. */
  label: string;
  /** Pearson's correlation over every position, in [-1, 1]. */
  r: number;
}

/** Options for {@linkcode rankCells} and {@linkcode CellCorrelator.rank}. */
export interface RankOptions {
  /** Rows returned (default 20). */
  top?: number;
  /** Each cell once, with the feature it follows best (default true). */
  onePerCell?: boolean;
  /** At most this many rows per feature (default: no limit). */
  perFeature?: number;
}

/**
 * Sums for Pearson's correlation of every traced cell (each kept layer, unit and state) with
 * every feature, added chunk by chunk: a long text is ranked from {@linkcode traceChunks}
 * without keeping its states.
 *
 * @example Ranking while streaming
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { traceChunks } from "./trace.ts";
 * import { textFeatures } from "./features.ts";
 * import { CellCorrelator } from "./cells.ts";
 * const text = 'say "hi" now\n'.repeat(40);
 * const model = createModel(text, { hidden: 8, layers: 1 });
 * const correlator = new CellCorrelator(textFeatures([...text]));
 * for await (const chunk of traceChunks(model, text, { threads: 1 })) correlator.add(chunk);
 * console.log(correlator.rank({ top: 3 }));
 * ```
 */
export class CellCorrelator {
  readonly #features: Feature[];
  #n = 0;
  #groups: {
    layer: number;
    units: Int32Array;
    state: StateKind;
    sx: Float64Array;
    sxx: Float64Array;
    sxy: Float64Array;
  }[] = [];

  // Each feature's sum and sum of squares over the positions added.
  readonly #sf: Float64Array;
  readonly #sff: Float64Array;

  /**
   * Prepares the sums for `features` (each with a value per position of the trace, or, when
   * every {@linkcode CellCorrelator.add} gives the chunk's own values, any values: only their
   * names and labels are used).
   */
  constructor(features: Feature[]) {
    this.#features = features;
    this.#sf = new Float64Array(features.length);
    this.#sff = new Float64Array(features.length);
  }

  /**
   * Adds positions `[chunk.start, chunk.start + chunk.length)` of every kept layer, in order
   * from position 0. With `values` (the features in the constructor's order, each with a value
   * per position of this chunk, e.g. from a `TextFeatureStream`), the features' values come
   * from them: a text too long to hold its features whole is ranked a chunk at a time.
   */
  add(chunk: Pick<TraceChunk, "start" | "length" | "layers">, values?: Feature[]): void {
    const F = this.#features.length;
    const features = values ?? this.#features;
    const offset = values ? 0 : chunk.start;
    for (let f = 0; f < F; f++) {
      const v = features[f].values;
      let sf = this.#sf[f], sff = this.#sff[f];
      for (let t = 0; t < chunk.length; t++) {
        const x = v[offset + t];
        sf += x;
        sff += x * x;
      }
      this.#sf[f] = sf;
      this.#sff[f] = sff;
    }
    if (this.#groups.length === 0) {
      for (const l of chunk.layers) {
        for (const state of ["h", "c"] as const) {
          if (state === "c" && !l.c) continue;
          const U = l.units.length;
          this.#groups.push({
            layer: l.layer,
            units: l.units,
            state,
            sx: new Float64Array(U),
            sxx: new Float64Array(U),
            sxy: new Float64Array(F * U),
          });
        }
      }
    }
    const fv = new Float64Array(F);
    for (const g of this.#groups) {
      const l = chunk.layers.find((x) => x.layer === g.layer) as TracedLayer;
      const X = g.state === "h" ? l.h : l.c!;
      const U = g.units.length;
      for (let t = 0; t < chunk.length; t++) {
        const p = offset + t, row = t * U;
        for (let f = 0; f < F; f++) fv[f] = features[f].values[p];
        for (let u = 0; u < U; u++) {
          const x = X[row + u];
          g.sx[u] += x;
          g.sxx[u] += x * x;
        }
        for (let f = 0; f < F; f++) {
          const v = fv[f];
          if (v === 0) continue;
          const sxy = g.sxy, base = f * U;
          for (let u = 0; u < U; u++) sxy[base + u] += v * X[row + u];
        }
      }
    }
    this.#n += chunk.length;
  }

  /** Every (cell, feature) correlation, ranked by |r| (see {@linkcode RankOptions}). */
  rank(options: RankOptions = {}): CellScore[] {
    const n = this.#n;
    const all: CellScore[] = [];
    this.#features.forEach((feature, f) => {
      const sf = this.#sf[f], sff = this.#sff[f];
      const vf = n * sff - sf * sf;
      if (!(vf > 0)) return; // a constant feature follows nothing
      for (const g of this.#groups) {
        for (let u = 0; u < g.units.length; u++) {
          const vx = n * g.sxx[u] - g.sx[u] * g.sx[u];
          if (!(vx > 1e-12 * n * n)) continue; // a constant cell follows nothing
          const r = (n * g.sxy[f * g.units.length + u] - g.sx[u] * sf) / Math.sqrt(vx * vf);
          const { layer, state } = g;
          const { name, label } = feature;
          all.push({ layer, unit: g.units[u], state, feature: name, label, r });
        }
      }
    });
    all.sort((a, b) =>
      Math.abs(b.r) - Math.abs(a.r) || a.layer - b.layer || a.unit - b.unit ||
      a.state.localeCompare(b.state)
    );
    const top = options.top ?? 20;
    const perFeature = options.perFeature ?? Infinity;
    const seen = new Set<string>(), perCount = new Map<string, number>();
    const out: CellScore[] = [];
    for (const s of all) {
      if (out.length >= top) break;
      const key = `${s.layer}:${s.unit}:${s.state}`;
      if ((options.onePerCell ?? true) && seen.has(key)) continue;
      if ((perCount.get(s.feature) ?? 0) >= perFeature) continue;
      seen.add(key);
      perCount.set(s.feature, (perCount.get(s.feature) ?? 0) + 1);
      out.push(s);
    }
    return out;
  }
}

/**
 * Ranks every traced cell (each kept layer, unit and state) by how well it follows each
 * feature: Pearson's r over every position, best |r| first, each cell once with its best
 * feature unless `onePerCell: false`. A constant feature or cell is left out.
 *
 * @example The cell that follows quotes
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { trace } from "./trace.ts";
 * import { textFeatures } from "./features.ts";
 * import { describeScore, rankCells } from "./cells.ts";
 * const text = 'he said "yes" and "no"\n'.repeat(20);
 * const model = createModel(text, { hidden: 16, layers: 2 });
 * const t = await trace(model, text, { threads: 1 });
 * const [best] = rankCells(t, textFeatures(t.chars));
 * console.log(describeScore(best)); // e.g. layer 1 cell 7 (h) follows position in the line, r = 0.41
 * ```
 */
export function rankCells(
  trace: Pick<Trace, "positions" | "layers">,
  features: Feature[],
  options: RankOptions = {},
): CellScore[] {
  const correlator = new CellCorrelator(features);
  correlator.add({ start: 0, length: trace.positions, layers: trace.layers });
  return correlator.rank(options);
}

/**
 * One line for a score: `layer 1 cell 87 (c) follows inside double quotes, r = 0.90`.
 *
 * @example A row of the table
 * ```ts
 * import { describeScore } from "./cells.ts";
 * const row = { layer: 1, unit: 87, state: "c" as const, feature: "quotes", label: "inside double quotes", r: 0.9 };
 * console.log(describeScore(row)); // layer 1 cell 87 (c) follows inside double quotes, r = 0.90
 * ```
 */
export function describeScore(s: CellScore): string {
  return `layer ${s.layer} cell ${s.unit} (${s.state}) follows ${s.label}, r = ${s.r.toFixed(2)}`;
}

/**
 * Reads a cell's name, `LAYER:UNIT` or `LAYER:UNIT:h|c` (both from 0), and checks it against
 * the trace.
 *
 * @example Naming a cell
 * ```ts
 * import { parseCell } from "./cells.ts";
 * const t = { cell: "lstm" as const, hidden: 128, layers: [{ layer: 0, units: Int32Array.from({ length: 128 }, (_, u) => u), h: new Float32Array(0), c: null, gates: null }] };
 * console.log(parseCell("0:87", t)); // { layer: 0, unit: 87, state: "h" }
 * ```
 *
 * @throws {RangeError} `Cannot show cell …` when the name is malformed or the cell not traced.
 */
export function parseCell(
  spec: string,
  trace: Pick<Trace, "cell" | "hidden" | "layers">,
): Required<CellRef> {
  const m = /^(\d+):(\d+)(?::([hc]))?$/.exec(spec.trim());
  if (!m) {
    throw new RangeError(
      `Cannot show cell ${JSON.stringify(spec)}: it is not LAYER:UNIT: give e.g. 1:87 or 1:87:c`,
    );
  }
  const ref = { layer: Number(m[1]), unit: Number(m[2]), state: (m[3] ?? "h") as StateKind };
  checkCell(ref, trace);
  return ref;
}

function checkCell(ref: Required<CellRef>, trace: Pick<Trace, "cell" | "hidden" | "layers">) {
  const name = `${ref.layer}:${ref.unit}`;
  const l = trace.layers.find((x) => x.layer === ref.layer);
  if (!l) {
    const kept = trace.layers.map((x) => x.layer).join(", ");
    throw new RangeError(
      `Cannot show cell ${name}: layer ${ref.layer} is not traced: give a layer of ${kept}`,
    );
  }
  if (!l.units.includes(ref.unit)) {
    throw new RangeError(
      `Cannot show cell ${name}: unit ${ref.unit} is not traced (layers have ${trace.hidden} ` +
        `cells, 0 to ${trace.hidden - 1}): give a traced unit`,
    );
  }
  if (ref.state === "c" && !l.c) {
    throw new RangeError(
      `Cannot show cell ${name}:c: the ${trace.cell.toUpperCase()} trace has no cell state: ` +
        `use ${name} (h)`,
    );
  }
}

/**
 * A traced cell's value at every position (a copy).
 *
 * @example Unit 3 of layer 0
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { trace } from "./trace.ts";
 * import { cellValues } from "./cells.ts";
 * const model = createModel("abcabc", { hidden: 8, layers: 1 });
 * const t = await trace(model, "abcabc", { threads: 1 });
 * console.log(cellValues(t, { layer: 0, unit: 3 }).length); // 5
 * ```
 *
 * @throws {RangeError} `Cannot show cell …` when the cell was not traced.
 */
export function cellValues(
  trace: Pick<Trace, "cell" | "hidden" | "layers" | "positions">,
  cell: CellRef,
): Float32Array {
  const ref = { state: "h" as StateKind, ...cell };
  checkCell(ref, trace);
  const l = trace.layers.find((x) => x.layer === ref.layer)!;
  const U = l.units.length, j = l.units.indexOf(ref.unit);
  const X = ref.state === "h" ? l.h : l.c!;
  const out = new Float32Array(trace.positions);
  for (let p = 0; p < out.length; p++) out[p] = X[p * U + j];
  return out;
}
