// @ts-check
// The loss chart of a training run, one drawing for both places that show one: train.ts's
// loss.svg (src/cli/_plot.ts writes it as a file) and the studio's live chart (studio/chart.js
// puts the same elements in the page). Training loss (smoothed) and validation loss on the left
// axis, the learning rate on the right one, steps along the bottom and, in loss.svg, minutes of
// training along the top; every axis by one tick rule (`ticks`).
//
// Plain JavaScript with JSDoc types, importing only series.js: the browser loads both as they are
// (the studio's server maps them to /src/plot/), and Deno type-checks it like the TypeScript around
// it. The drawing is data (`ChartNode`s), not DOM calls or a string, so that each side renders it
// its own way and neither can draw a different chart.

import { niceRange, runSeries, smooth, ticks } from "./series.js";

export { runSeries, smooth, ticks };

/** @typedef {import("./series.js").PlotEvent} PlotEvent */
/** @typedef {import("./series.js").RunSeries} RunSeries */

/**
 * One SVG element of the chart: its tag, its attributes in the order they are written, its text
 * (for `text`), and `part`, the role a page may style it by (its CSS class in the studio).
 * @typedef {object} ChartNode
 * @property {string} name
 * @property {Record<string, string>} attrs
 * @property {string} [text]
 * @property {string} part
 */

/**
 * Where and what the chart draws. Every field has loss.svg's value by default.
 * @typedef {object} ChartLayout
 * @property {number} [width] Width of the picture (900).
 * @property {number} [height] Height of the picture (480).
 * @property {{ left: number, right: number, top: number, bottom: number }} [margin] Room around
 *   the plot for the axes ({ left: 64, right: 84, top: 84, bottom: 56 }).
 * @property {boolean} [header] A title, a summary line, a legend and the axis titles (true).
 * @property {boolean} [timeAxis] Minutes (seconds, under two minutes) of training along the top,
 *   from the series' `time` (true).
 * @property {boolean} [background] A white background, for a file shown on its own (true).
 * @property {boolean} [columns] One point per pixel column (the mean of the steps in it): a long
 *   run redrawn live costs what a short one does (false: one point per step).
 * @property {number} [stepTicks] About how many step ticks (8).
 * @property {number} [lastStep] The step axis runs at least this far (a run's planned end) (0).
 * @property {number} [maxDots] Validation points get a dot while there are at most this many (200).
 */

/**
 * The studio's layout of the chart: the page's width, no header (the page has its own legend),
 * no time axis, one point per pixel column so that a live redraw of a long run stays cheap.
 *
 * @example The studio's chart of a run
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossChart, runSeries, STUDIO_LAYOUT } from "./loss_chart.js";
 *
 * const chart = lossChart(runSeries([]), STUDIO_LAYOUT);
 * assert.equal(chart.width, 720);
 * ```
 */
export const STUDIO_LAYOUT = Object.freeze({
  width: 720,
  height: 246,
  margin: Object.freeze({ left: 46, right: 58, top: 14, bottom: 46 }),
  header: false,
  timeAxis: false,
  background: false,
  columns: true,
  stepTicks: 6,
  maxDots: 60,
});

/**
 * The scales a chart was drawn with, for a page that maps a pointer back to a step.
 * @typedef {object} ChartScales
 * @property {number} x0 The step at the left edge of the plot.
 * @property {number} x1 The step at the right edge.
 * @property {(step: number) => number} x Where a step lies, in the picture's units.
 * @property {(loss: number) => number} y Where a loss lies.
 * @property {(lr: number) => number} yLr Where a learning rate lies.
 */

/**
 * A drawn chart: its size, its elements in drawing order, and its scales.
 * @typedef {object} Chart
 * @property {number} width
 * @property {number} height
 * @property {ChartNode[]} nodes
 * @property {ChartScales} scales
 */

// Extremes without spreading (a long run has more points than a call takes arguments).
/** @param {number[]} values */
const lowest = (values) => values.reduce((a, b) => Math.min(a, b), Infinity);
/** @param {number[]} values */
const highest = (values) => values.reduce((a, b) => Math.max(a, b), -Infinity);

/** @param {string} text */
function escape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** A tick value as a label: as short as it is exact. @param {number} v */
function label(v) {
  return String(Number(v.toPrecision(6)));
}

const COLORS = { train: "#1f77b4", val: "#d62728", lr: "#7f7f7f" };

/**
 * Points averaged over each pixel column they fall in (x rounded), in order.
 * @param {[number, number][]} points
 * @returns {[number, number][]}
 */
function columnMeans(points) {
  /** @type {[number, number][]} */
  const out = [];
  let col = NaN, n = 0, sum = 0;
  for (const [x, y] of points) {
    const c = Math.round(x);
    if (c !== col) {
      if (n > 0) out.push([col, sum / n]);
      col = c;
      n = sum = 0;
    }
    n++;
    sum += y;
  }
  if (n > 0) out.push([col, sum / n]);
  return out;
}

/**
 * The chart of a run's series: every element, in drawing order, and the scales. By default the
 * picture is loss.svg's; `layout` changes its size and what it holds (the studio's is smaller,
 * without the header and the time axis, one point per pixel column).
 *
 * @example The elements of a short run
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossChart, runSeries } from "./loss_chart.js";
 *
 * const series = runSeries([
 *   { type: "start", step: 0, trainTime: 0 },
 *   { type: "step", step: 1, loss: 4.2, lr: 0.003, trainTime: 0.5 },
 *   { type: "step", step: 2, loss: 3.9, lr: 0.003, trainTime: 1 },
 * ]);
 * const chart = lossChart(series, { width: 600, height: 300, header: false });
 * const train = chart.nodes.find((n) => n.part === "series train");
 * assert.equal(train?.attrs.d.split(" ").length, 2); // one point per step
 * assert.ok(chart.scales.x(2) > chart.scales.x(1));
 * ```
 *
 * @param {RunSeries} series The run, as `runSeries` reads it from its events.
 * @param {ChartLayout} [layout] Size and contents; loss.svg's by default.
 * @returns {Chart}
 */
export function lossChart(series, layout = {}) {
  const W = layout.width ?? 900, H = layout.height ?? 480;
  const margin = layout.margin ?? { left: 64, right: 84, top: 84, bottom: 56 };
  const { left: LEFT, right: RIGHT, top: TOP, bottom: BOTTOM } = margin;
  const header = layout.header ?? true;
  const s = series;
  const trainY = smooth(s.train.map(([, v]) => v));
  /** @type {ChartNode[]} */
  const nodes = [];
  const f = (/** @type {number} */ v) => v.toFixed(1);
  /**
   * @param {string} part
   * @param {number} x
   * @param {number} y
   * @param {string} body
   * @param {Record<string, string>} [attrs]
   */
  const text = (part, x, y, body, attrs = {}) =>
    nodes.push({ name: "text", attrs: { x: f(x), y: f(y), ...attrs }, text: body, part });
  /**
   * @param {string} part
   * @param {number} x1
   * @param {number} y1
   * @param {number} x2
   * @param {number} y2
   * @param {Record<string, string>} attrs
   */
  const line = (part, x1, y1, x2, y2, attrs) =>
    nodes.push({
      name: "line",
      attrs: { x1: f(x1), y1: f(y1), x2: f(x2), y2: f(y2), ...attrs },
      part,
    });

  const steps = [...s.train, ...s.val, ...s.lr].map(([step]) => step);
  const first = steps.length > 0 ? lowest(steps) : 0;
  const x0 = Math.max(0, first - 1);
  const x1 = Math.max(x0 + 1, highest(steps), layout.lastStep ?? 0);
  const losses = [...trainY, ...s.val.map(([, v]) => v)];
  // Each axis runs between round ticks at or beyond its extremes: no point falls outside.
  const [yLo, yHi] = losses.length > 0 ? niceRange(lowest(losses), highest(losses), 5) : [0, 1];
  const lossTicks = ticks(yLo, yHi, 5);
  const lrMax = Math.max(0, highest(s.lr.map(([, v]) => v)));
  // Headroom above the highest lr, so that a constant one does not run along the frame.
  const [, lrHi] = niceRange(0, lrMax > 0 ? lrMax * 1.05 : 1, 4);
  const lrTicks = ticks(0, lrHi, 4);

  const pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
  const X = (/** @type {number} */ step) => LEFT + (step - x0) / (x1 - x0) * pw;
  const YL = (/** @type {number} */ loss) => TOP + (1 - (loss - yLo) / (yHi - yLo)) * ph;
  const YR = (/** @type {number} */ lr) => TOP + (1 - lr / lrHi) * ph;

  if (layout.background ?? true) {
    nodes.push({
      name: "rect",
      attrs: { x: "0", y: "0", width: String(W), height: String(H), fill: "#ffffff" },
      part: "background",
    });
  }
  if (header) {
    const last = s.time.at(-1);
    const bestVal = s.val.length > 0 ? lowest(s.val.map(([, v]) => v)) : 0;
    const summary = [
      last ? `step ${last[0]}` : "no steps yet",
      last ? (last[1] < 120 ? `${last[1].toFixed(1)} s` : `${(last[1] / 60).toFixed(1)} min`) : "",
      s.train.length > 0 ? `train ${trainY[trainY.length - 1].toFixed(3)} (smoothed)` : "",
      s.val.length > 0
        ? `val ${s.val[s.val.length - 1][1].toFixed(4)} (best ${bestVal.toFixed(4)})`
        : "",
    ].filter((part) => part !== "").join(" · ");
    text("title", LEFT, 22, "charlstm training run", { "font-size": "15", "font-weight": "bold" });
    text("title", LEFT, 40, summary, { fill: "#444444" });
    /** @type {[string, string, Record<string, string>][]} */
    const legend = [
      ["training loss (smoothed)", COLORS.train, {}],
      ["validation loss", COLORS.val, {}],
      ["learning rate (right axis)", COLORS.lr, { "stroke-dasharray": "5 3" }],
    ];
    legend.forEach(([name, color, dash], i) => {
      const y = 16 + i * 14;
      line("legend", W - 250, y, W - 226, y, { stroke: color, "stroke-width": "2", ...dash });
      text("legend", W - 220, y + 4, name);
    });
  }

  // Grid and the loss axis (left).
  for (const t of lossTicks) {
    line("grid", LEFT, YL(t), LEFT + pw, YL(t), { stroke: "#e5e5e5" });
    text("axis", LEFT - 6, YL(t) + 4, label(t), { "text-anchor": "end" });
  }
  if (header) {
    text("axis", 16, TOP + ph / 2, "loss (nats/char)", {
      transform: `rotate(-90 16 ${TOP + ph / 2})`,
      "text-anchor": "middle",
    });
  }
  // The learning-rate axis (right).
  for (const t of lrTicks) {
    line("tick", LEFT + pw, YR(t), LEFT + pw + 4, YR(t), { stroke: "#444444" });
    text("axis lr", LEFT + pw + 7, YR(t) + 4, t === 0 ? "0" : t.toExponential(1), {
      fill: COLORS.lr,
    });
  }
  if (header) {
    const rx = W - 14;
    text("axis lr", rx, TOP + ph / 2, "learning rate", {
      transform: `rotate(90 ${rx} ${TOP + ph / 2})`,
      "text-anchor": "middle",
      fill: COLORS.lr,
    });
  }
  // Steps (bottom).
  for (const t of ticks(x0, x1, layout.stepTicks ?? 8)) {
    if (t < x0 || t > x1) continue;
    line("tick", X(t), TOP + ph, X(t), TOP + ph + 5, { stroke: "#444444" });
    text("axis", X(t), TOP + ph + 18, String(t), { "text-anchor": "middle" });
  }
  text("axis", LEFT + pw / 2, H - 14, "step", { "text-anchor": "middle" });
  // Minutes of training (top; seconds for a run under two minutes), each placed at the step
  // reached at that time.
  const t0 = s.time[0]?.[1] ?? 0, t1 = s.time.at(-1)?.[1] ?? 0;
  if ((layout.timeAxis ?? true) && t1 > t0) {
    const unit = t1 < 120 ? 1 : 60;
    let i = 0, lastX = -Infinity;
    for (const u of ticks(t0 / unit, t1 / unit, 8)) {
      const seconds = u * unit;
      if (seconds < t0 || seconds > t1) continue;
      while (i < s.time.length - 2 && s.time[i + 1][1] < seconds) i++;
      const [sa, ta] = s.time[i], [sb, tb] = s.time[i + 1];
      const step = tb > ta ? sa + (sb - sa) * (seconds - ta) / (tb - ta) : sb;
      const x = X(Math.min(x1, Math.max(x0, step)));
      // Time that passed without steps (a long validation) would pile labels up: skip those.
      if (x - lastX < 30) continue;
      lastX = x;
      line("tick", x, TOP, x, TOP - 5, { stroke: "#444444" });
      text("axis time", x, TOP - 9, label(u), { "text-anchor": "middle" });
    }
    const name = unit === 1 ? "seconds of training" : "minutes of training";
    text("axis time", LEFT + pw / 2, TOP - 26, name, { "text-anchor": "middle" });
  }
  nodes.push({
    name: "rect",
    attrs: {
      x: String(LEFT),
      y: String(TOP),
      width: String(pw),
      height: String(ph),
      fill: "none",
      stroke: "#444444",
    },
    part: "frame",
  });

  // The three series: one path each, one point per step (or per pixel column).
  /**
   * @param {string} id
   * @param {[number, number][]} points
   * @param {Record<string, string>} attrs
   */
  const path = (id, points, attrs) => {
    const d = points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${f(x)},${f(y)}`);
    nodes.push({
      name: "path",
      attrs: { id, d: d.join(" "), fill: "none", ...attrs },
      part: `series ${id === "lr" ? "lr" : id === "train-loss" ? "train" : "val"}`,
    });
  };
  const thin = layout.columns ? columnMeans : (/** @type {[number, number][]} */ p) => p;
  path("lr", thin(s.lr.map(([step, v]) => [X(step), YR(v)])), {
    stroke: COLORS.lr,
    "stroke-width": "1.5",
    "stroke-dasharray": "5 3",
  });
  path("train-loss", thin(s.train.map(([step], i) => [X(step), YL(trainY[i])])), {
    stroke: COLORS.train,
    "stroke-width": "1.5",
    "stroke-linejoin": "round",
  });
  path("val-loss", s.val.map(([step, v]) => [X(step), YL(v)]), {
    stroke: COLORS.val,
    "stroke-width": "2",
    "stroke-linejoin": "round",
  });
  if (s.val.length <= (layout.maxDots ?? 200)) {
    for (const [step, v] of s.val) {
      nodes.push({
        name: "circle",
        attrs: { cx: f(X(step)), cy: f(YL(v)), r: "3", fill: COLORS.val },
        part: "dot",
      });
    }
  }
  return { width: W, height: H, nodes, scales: { x0, x1, x: X, y: YL, yLr: YR } };
}

/**
 * A chart as one self-contained SVG document (no scripts, nothing fetched): what loss.svg holds.
 *
 * @example The document of an empty run
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossChart, runSeries, svgDocument } from "./loss_chart.js";
 *
 * const svg = svgDocument(lossChart(runSeries([])));
 * assert.match(svg, /^<\?xml/);
 * assert.match(svg, /no steps yet/);
 * ```
 *
 * @param {Chart} chart
 * @returns {string}
 */
export function svgDocument(chart) {
  const { width: W, height: H } = chart;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  ];
  for (const node of chart.nodes) {
    const attrs = Object.entries(node.attrs).map(([k, v]) => ` ${k}="${escape(v)}"`).join("");
    out.push(
      node.text === undefined
        ? `<${node.name}${attrs}/>`
        : `<${node.name}${attrs}>${escape(node.text)}</${node.name}>`,
    );
  }
  out.push("</svg>", "");
  return out.join("\n");
}
