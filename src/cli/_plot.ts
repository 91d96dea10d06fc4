// The picture of a training run, loss.svg: training loss (smoothed) and validation loss on the
// left axis, the learning rate on the right one, steps along the bottom and minutes of training
// along the top. A pure function of the run's events (TrainEvents, or the JSON lines of a
// --log file): no Deno APIs, no scripts, no external references, so any browser shows it.

/** An event as the picture reads it: a TrainEvent, or one line of a `--log` file. */
export type PlotEvent = { type: string; [field: string]: unknown };

/** A run's series, each point `[step, value]`, in the order the events came. */
export interface RunSeries {
  /** Training loss of each step (raw; the picture smooths it). */
  train: [number, number][];
  /** Validation loss of each validation. */
  val: [number, number][];
  /** Learning rate of each step. */
  lr: [number, number][];
  /** Seconds of training at each start and after each step. */
  time: [number, number][];
}

const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;

/**
 * The series of the run the events describe. A `start` at step 0 begins a new run (a log may
 * hold several); a resumed run, or a divergence that goes back to an earlier step, drops the
 * points past the step it continues from. Points with a non-finite value are left out.
 */
export function runSeries(events: Iterable<PlotEvent>): RunSeries {
  const s: RunSeries = { train: [], val: [], lr: [], time: [] };
  const cut = (step: number) => {
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
 */
export function smooth(values: number[]): number[] {
  const window = Math.min(200, Math.max(1, values.length / 30));
  const beta = 1 - 1 / window;
  let avg = 0, weight = 0;
  return values.map((v) => {
    avg = beta * avg + (1 - beta) * v;
    weight = beta * weight + (1 - beta);
    return avg / weight;
  });
}

// A round distance between ticks (1, 2 or 5 × 10^k) for about `count` of them over [lo, hi].
function tickStep(lo: number, hi: number, count: number): number {
  const raw = hi > lo ? (hi - lo) / count : Math.abs(lo) || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * mag).find((d) => d >= raw * (1 - 1e-9)) ?? 10 * mag;
}

/** About `count` round tick values (1, 2 or 5 × 10^k apart) within [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  const step = tickStep(lo, hi, count);
  const out: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    out.push(Number((i * step).toPrecision(12)));
  }
  return out;
}

/** [lo, hi] widened to round ticks at both ends (never empty). */
function niceRange(lo: number, hi: number, count: number): [number, number] {
  const step = tickStep(lo, hi, count);
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  return b > a ? [a, b] : [a, a + step];
}

// Extremes without spreading (a long run has more points than a call takes arguments).
const lowest = (values: number[]) => values.reduce((a, b) => Math.min(a, b), Infinity);
const highest = (values: number[]) => values.reduce((a, b) => Math.max(a, b), -Infinity);

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const W = 900, H = 480;
const LEFT = 64, RIGHT = 84, TOP = 84, BOTTOM = 56;
const COLORS = { train: "#1f77b4", val: "#d62728", lr: "#7f7f7f" };

/** A tick value as a label: as short as it is exact. */
function label(v: number): string {
  return String(Number(v.toPrecision(6)));
}

/** The run as a self-contained SVG document (see the file's opening comment). */
export function lossSvg(events: Iterable<PlotEvent>): string {
  const s = runSeries(events);
  const trainY = smooth(s.train.map(([, v]) => v));
  const out: string[] = [];
  const text = (x: number, y: number, body: string, attrs = "") =>
    out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${escape(body)}</text>`);
  const line = (x1: number, y1: number, x2: number, y2: number, attrs: string) =>
    out.push(
      `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" ` +
        `y2="${y2.toFixed(1)}" ${attrs}/>`,
    );

  const steps = [...s.train, ...s.val, ...s.lr].map(([step]) => step);
  const first = steps.length > 0 ? lowest(steps) : 0;
  const x0 = Math.max(0, first - 1), x1 = Math.max(x0 + 1, highest(steps));
  const losses = [...trainY, ...s.val.map(([, v]) => v)];
  // Each axis runs between round ticks at or beyond its extremes: no point falls outside.
  const [yLo, yHi] = losses.length > 0 ? niceRange(lowest(losses), highest(losses), 5) : [0, 1];
  const lossTicks = ticks(yLo, yHi, 5);
  const lrMax = Math.max(0, highest(s.lr.map(([, v]) => v)));
  // Headroom above the highest lr, so that a constant one does not run along the frame.
  const [, lrHi] = niceRange(0, lrMax > 0 ? lrMax * 1.05 : 1, 4);
  const lrTicks = ticks(0, lrHi, 4);

  const pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
  const X = (step: number) => LEFT + (step - x0) / (x1 - x0) * pw;
  const YL = (loss: number) => TOP + (1 - (loss - yLo) / (yHi - yLo)) * ph;
  const YR = (lr: number) => TOP + (1 - lr / lrHi) * ph;

  out.push(
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
      `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
  );
  const last = s.time.at(-1);
  const bestVal = s.val.length > 0 ? lowest(s.val.map(([, v]) => v)) : null;
  const summary = [
    last ? `step ${last[0]}` : "no steps yet",
    last ? (last[1] < 120 ? `${last[1].toFixed(1)} s` : `${(last[1] / 60).toFixed(1)} min`) : "",
    s.train.length > 0 ? `train ${trainY[trainY.length - 1].toFixed(3)} (smoothed)` : "",
    s.val.length > 0
      ? `val ${s.val[s.val.length - 1][1].toFixed(4)} (best ${bestVal!.toFixed(4)})`
      : "",
  ].filter((part) => part !== "").join(" · ");
  text(LEFT, 22, "charlstm training run", ` font-size="15" font-weight="bold"`);
  text(LEFT, 40, summary, ` fill="#444444"`);
  // Legend, top right.
  const legend: [string, string, string][] = [
    ["training loss (smoothed)", COLORS.train, ""],
    ["validation loss", COLORS.val, ""],
    ["learning rate (right axis)", COLORS.lr, ` stroke-dasharray="5 3"`],
  ];
  legend.forEach(([label, color, dash], i) => {
    const y = 16 + i * 14;
    line(W - 250, y, W - 226, y, `stroke="${color}" stroke-width="2"${dash}`);
    text(W - 220, y + 4, label);
  });

  // Grid and the loss axis (left).
  for (const t of lossTicks) {
    line(LEFT, YL(t), LEFT + pw, YL(t), `stroke="#e5e5e5"`);
    text(LEFT - 6, YL(t) + 4, label(t), ` text-anchor="end"`);
  }
  text(
    16,
    TOP + ph / 2,
    "loss (nats/char)",
    ` transform="rotate(-90 16 ${TOP + ph / 2})"` +
      ` text-anchor="middle"`,
  );
  // The learning-rate axis (right).
  for (const t of lrTicks) {
    line(LEFT + pw, YR(t), LEFT + pw + 4, YR(t), `stroke="#444444"`);
    text(LEFT + pw + 7, YR(t) + 4, t === 0 ? "0" : t.toExponential(1), ` fill="${COLORS.lr}"`);
  }
  const rx = W - 14;
  text(
    rx,
    TOP + ph / 2,
    "learning rate",
    ` transform="rotate(90 ${rx} ${TOP + ph / 2})"` +
      ` text-anchor="middle" fill="${COLORS.lr}"`,
  );
  // Steps (bottom).
  for (const t of ticks(x0, x1, 8)) {
    if (t < x0 || t > x1) continue;
    line(X(t), TOP + ph, X(t), TOP + ph + 5, `stroke="#444444"`);
    text(X(t), TOP + ph + 18, String(t), ` text-anchor="middle"`);
  }
  text(LEFT + pw / 2, H - 14, "step", ` text-anchor="middle"`);
  // Minutes of training (top; seconds for a run under two minutes), each placed at the step
  // reached at that time.
  const t0 = s.time[0]?.[1] ?? 0, t1 = s.time.at(-1)?.[1] ?? 0;
  if (t1 > t0) {
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
      line(x, TOP, x, TOP - 5, `stroke="#444444"`);
      text(x, TOP - 9, label(u), ` text-anchor="middle"`);
    }
    const name = unit === 1 ? "seconds of training" : "minutes of training";
    text(LEFT + pw / 2, TOP - 26, name, ` text-anchor="middle"`);
  }
  out.push(
    `<rect x="${LEFT}" y="${TOP}" width="${pw}" height="${ph}" fill="none" stroke="#444444"/>`,
  );

  // The three series: one path each, one point per event.
  const path = (id: string, points: [number, number][], attrs: string) => {
    const d = points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`);
    out.push(`<path id="${id}" d="${d.join(" ")}" fill="none" ${attrs}/>`);
  };
  path(
    "lr",
    s.lr.map(([step, v]) => [X(step), YR(v)]),
    `stroke="${COLORS.lr}" stroke-width="1.5" stroke-dasharray="5 3"`,
  );
  path(
    "train-loss",
    s.train.map(([step], i) => [X(step), YL(trainY[i])]),
    `stroke="${COLORS.train}" stroke-width="1.5" stroke-linejoin="round"`,
  );
  path(
    "val-loss",
    s.val.map(([step, v]) => [X(step), YL(v)]),
    `stroke="${COLORS.val}" stroke-width="2" stroke-linejoin="round"`,
  );
  if (s.val.length <= 200) {
    for (const [step, v] of s.val) {
      out.push(
        `<circle cx="${X(step).toFixed(1)}" cy="${YL(v).toFixed(1)}" r="3" ` +
          `fill="${COLORS.val}"/>`,
      );
    }
  }
  out.push("</svg>", "");
  return out.join("\n");
}
