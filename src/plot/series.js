// @ts-check
// A training run's series and the one tick rule of the loss chart (loss_chart.js draws them):
// the points the events describe, their smoothing, and round ticks for any axis. Plain
// JavaScript with JSDoc types and no imports, for the same reason as loss_chart.js: the
// browser loads it as it is (the studio's server maps it to /src/plot/series.js).

/**
 * An event as the chart reads it: a `TrainEvent`, or one line of a `--log` file.
 * @typedef {{ type: string, [field: string]: unknown }} PlotEvent
 */

/**
 * A run's series, each point `[step, value]`, in the order the events came.
 * @typedef {object} RunSeries
 * @property {[number, number][]} train Training loss of each step (raw; the chart smooths it).
 * @property {[number, number][]} val Validation loss of each validation.
 * @property {[number, number][]} lr Learning rate of each step.
 * @property {[number, number][]} time Seconds of training at each start and after each step.
 */

/** @param {unknown} v */
const num = (v) => typeof v === "number" && Number.isFinite(v) ? v : null;

/**
 * The series of the run the events describe. A `start` at step 0 begins a new run (a log may
 * hold several); a resumed run, or a divergence that goes back to an earlier step, drops the
 * points past the step it continues from. Points with a non-finite value are left out.
 *
 * @example A run of two steps and a validation
 * ```ts
 * import assert from "node:assert/strict";
 * import { runSeries } from "./series.js";
 *
 * const s = runSeries([
 *   { type: "start", step: 0, trainTime: 0 },
 *   { type: "step", step: 1, loss: 4.2, lr: 0.003, trainTime: 0.5 },
 *   { type: "step", step: 2, loss: 3.9, lr: 0.003, trainTime: 1 },
 *   { type: "validation", step: 2, valLoss: 3.95 },
 * ]);
 * assert.deepEqual(s.train, [[1, 4.2], [2, 3.9]]);
 * assert.deepEqual(s.val, [[2, 3.95]]);
 * ```
 *
 * @param {Iterable<PlotEvent>} events The run's events, in order.
 * @returns {RunSeries}
 */
export function runSeries(events) {
  /** @type {RunSeries} */
  const s = { train: [], val: [], lr: [], time: [] };
  /** @param {number} step */
  const cut = (step) => {
    for (const series of [s.train, s.val, s.lr, s.time]) {
      while (series.length > 0 && series[series.length - 1][0] > step) series.pop();
    }
  };
  // Seconds trained when the current run started (logs from before `trainTime` existed).
  let before = 0;
  for (const e of events) {
    const step = num(e.step);
    if (step === null) continue;
    if (e.type === "start") {
      if (step === 0) Object.assign(s, { train: [], val: [], lr: [], time: [] });
      cut(step);
      before = num(e.trainTime) ?? s.time.at(-1)?.[1] ?? 0;
      s.time.push([step, before]);
    } else if (e.type === "step") {
      const loss = num(e.loss), lr = num(e.lr);
      const seconds = num(e.trainTime) ?? before + (num(e.elapsedMs) ?? 0) / 1000;
      if (loss !== null) s.train.push([step, loss]);
      if (lr !== null) s.lr.push([step, lr]);
      s.time.push([step, seconds]);
    } else if (e.type === "validation") {
      const loss = num(e.valLoss);
      if (loss !== null) s.val.push([step, loss]);
    } else if (e.type === "diverged") {
      const back = num(e.restoredStep);
      if (back !== null) cut(back);
    }
  }
  return s;
}

/**
 * Exponential moving average with bias correction (TensorBoard's smoothing), over a window of
 * about a thirtieth of the points (1 to 200): one output per input.
 *
 * @example A constant stays itself
 * ```ts
 * import assert from "node:assert/strict";
 * import { smooth } from "./series.js";
 *
 * assert.deepEqual(smooth([3, 3, 3]), [3, 3, 3]);
 * ```
 *
 * @param {number[]} values
 * @returns {number[]}
 */
export function smooth(values) {
  const window = Math.min(200, Math.max(1, values.length / 30));
  const beta = 1 - 1 / window;
  let avg = 0, weight = 0;
  return values.map((v) => {
    avg = beta * avg + (1 - beta) * v;
    weight = beta * weight + (1 - beta);
    return avg / weight;
  });
}

/**
 * A round distance between ticks: the smallest of 1, 2 or 5 × 10^k that is at least the
 * distance `count` equal parts of [lo, hi] would have.
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 */
function tickStep(lo, hi, count) {
  const raw = hi > lo ? (hi - lo) / count : Math.abs(lo) || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * mag).find((d) => d >= raw * (1 - 1e-9)) ?? 10 * mag;
}

/**
 * The tick rule of every axis: about `count` round values (1, 2 or 5 × 10^k apart) within
 * [lo, hi], never more than `count` + 1.
 *
 * @example Ticks of a loss axis
 * ```ts
 * import assert from "node:assert/strict";
 * import { ticks } from "./series.js";
 *
 * assert.deepEqual(ticks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
 * assert.deepEqual(ticks(1.3, 4.4, 5), [2, 3, 4]);
 * ```
 *
 * @param {number} lo
 * @param {number} hi
 * @param {number} [count]
 * @returns {number[]}
 */
export function ticks(lo, hi, count = 5) {
  const step = tickStep(lo, hi, count);
  const out = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    out.push(Number((i * step).toPrecision(12)));
  }
  return out;
}

/**
 * [lo, hi] widened to round ticks at both ends (never empty).
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 * @returns {[number, number]}
 */
export function niceRange(lo, hi, count) {
  const step = tickStep(lo, hi, count);
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  return b > a ? [a, b] : [a, a + step];
}
