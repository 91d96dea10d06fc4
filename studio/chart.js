// @ts-check
/// <reference lib="dom" />
// The studio's loss chart: training loss per step, validation loss at each validation, and the
// learning rate on an axis of its own, drawn as inline SVG. Points are kept as they come; a
// redraw (at most one per animation frame) averages the training loss over each pixel column,
// so a long run draws as fast as a short one.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 720, HEIGHT = 230;
const M = { left: 46, right: 58, top: 14, bottom: 28 };

/**
 * @param {string} name
 * @param {Record<string, string | number>} [attrs]
 * @param {Element} [parent]
 * @returns {SVGElement}
 */
function el(name, attrs = {}, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent?.appendChild(node);
  return node;
}

/**
 * About `count` round values covering [lo, hi].
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 * @returns {number[]}
 */
export function niceTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = mag * (f >= 7.5 ? 10 : f >= 3.5 ? 5 : f >= 1.5 ? 2 : 1);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** @param {number} v */
function formatStep(v) {
  return v >= 10000 ? `${+(v / 1000).toFixed(1)}k` : String(v);
}

/** @param {number} v */
function formatLr(v) {
  if (v === 0) return "0";
  return v < 1e-3 ? v.toExponential(0).replace("e-", "e−") : String(+v.toPrecision(2));
}

/** A live chart of a training run's losses and learning rate. */
export class LossChart {
  /** @type {{ step: number, loss: number, lr: number }[]} */
  train = [];
  /** @type {{ step: number, loss: number }[]} */
  val = [];
  /** The step the x axis runs to (the run's last step, once known). */
  total = 0;
  #frame = 0;

  /** @param {SVGSVGElement} svg */
  constructor(svg) {
    this.svg = svg;
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("role", "img");
    this.grid = el("g", { class: "grid" }, svg);
    this.axes = el("g", { class: "axes" }, svg);
    this.lrPath = el("path", { class: "series lr" }, svg);
    this.trainPath = el("path", { class: "series train" }, svg);
    this.valPath = el("path", { class: "series val" }, svg);
    this.valDots = el("g", { class: "dots val" }, svg);
    this.hover = el("g", { class: "hover", visibility: "hidden" }, svg);
    this.hoverLine = el("line", { y1: M.top, y2: HEIGHT - M.bottom }, this.hover);
    this.hoverBox = el("rect", { rx: 4, height: 52, width: 128 }, this.hover);
    this.hoverText = el("text", {}, this.hover);
    this.empty = el("text", {
      class: "empty",
      x: (M.left + WIDTH - M.right) / 2,
      y: HEIGHT / 2,
      "text-anchor": "middle",
    }, svg);
    this.empty.textContent = "The losses appear here as the model trains";
    svg.addEventListener("pointermove", (e) => this.#showHover(e));
    svg.addEventListener("pointerleave", () => this.hover.setAttribute("visibility", "hidden"));
    this.render();
  }

  /** Forgets every point (a new model). */
  clear() {
    this.train = [];
    this.val = [];
    this.total = 0;
    this.#count();
    this.update();
  }

  /** The number of points, on the SVG element as data-train-points and data-val-points. */
  #count() {
    this.svg.dataset.trainPoints = String(this.train.length);
    this.svg.dataset.valPoints = String(this.val.length);
  }

  /**
   * @param {number} step
   * @param {number} loss
   * @param {number} lr
   */
  addStep(step, loss, lr) {
    if (Number.isFinite(loss)) this.train.push({ step, loss, lr });
    this.#count();
    this.update();
  }

  /**
   * @param {number} step
   * @param {number} loss
   */
  addValidation(step, loss) {
    if (Number.isFinite(loss)) this.val.push({ step, loss });
    this.#count();
    this.update();
  }

  /** Redraws at the next animation frame. */
  update() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.render();
    });
  }

  #scales() {
    const steps = [...this.train.map((p) => p.step), ...this.val.map((p) => p.step)];
    const x0 = Math.max(0, Math.min(...steps, Infinity) - 1);
    const x1 = Math.max(this.total, ...steps, x0 + 1);
    const losses = [...this.train.map((p) => p.loss), ...this.val.map((p) => p.loss)];
    let y0 = Math.min(...losses), y1 = Math.max(...losses);
    if (!(y1 > y0)) [y0, y1] = [y0 - 0.5, y0 + 0.5];
    const pad = (y1 - y0) * 0.06;
    y0 = Math.max(0, y0 - pad);
    y1 += pad;
    const lrMax = Math.max(...this.train.map((p) => p.lr), 0) * 1.1 || 1;
    const w = WIDTH - M.left - M.right, h = HEIGHT - M.top - M.bottom;
    return {
      x0,
      x1,
      y0,
      y1,
      lrMax,
      /** @param {number} s */
      x: (s) => M.left + (s - x0) / (x1 - x0) * w,
      /** @param {number} v */
      y: (v) => M.top + (1 - (v - y0) / (y1 - y0)) * h,
      /** @param {number} v */
      yLr: (v) => M.top + (1 - v / lrMax) * h,
    };
  }

  /** Draws the chart now. */
  render() {
    this.#count();
    this.empty.setAttribute("visibility", this.train.length ? "hidden" : "visible");
    this.grid.replaceChildren();
    this.axes.replaceChildren();
    this.valDots.replaceChildren();
    if (this.train.length === 0 && this.val.length === 0) {
      for (const p of [this.trainPath, this.valPath, this.lrPath]) p.setAttribute("d", "");
      el("rect", {
        x: M.left,
        y: M.top,
        width: WIDTH - M.left - M.right,
        height: HEIGHT - M.top - M.bottom,
        class: "frame",
      }, this.grid);
      return;
    }
    const s = this.#scales();
    const right = WIDTH - M.right, bottom = HEIGHT - M.bottom;
    for (const v of niceTicks(s.y0, s.y1, 5)) {
      const y = s.y(v);
      el("line", { x1: M.left, x2: right, y1: y, y2: y }, this.grid);
      const t = el("text", { x: M.left - 6, y: y + 4, "text-anchor": "end" }, this.axes);
      t.textContent = String(+v.toFixed(2));
    }
    for (const v of niceTicks(s.x0, s.x1, 6)) {
      if (v < s.x0) continue;
      const x = s.x(v);
      el("line", { x1: x, x2: x, y1: M.top, y2: bottom, class: "v" }, this.grid);
      const t = el("text", { x, y: bottom + 17, "text-anchor": "middle" }, this.axes);
      t.textContent = formatStep(v);
    }
    for (const v of niceTicks(0, s.lrMax, 4)) {
      const t = el("text", { x: right + 6, y: s.yLr(v) + 4, class: "lr" }, this.axes);
      t.textContent = formatLr(v);
    }
    el("rect", {
      x: M.left,
      y: M.top,
      width: right - M.left,
      height: bottom - M.top,
      class: "frame",
    }, this.grid);
    const xl = el("text", { x: right, y: HEIGHT - 2, "text-anchor": "end" }, this.axes);
    xl.textContent = "step";

    // One point per pixel column: the mean of the steps that fall in it.
    /** @type {[number, number, number][]} */
    const cols = [];
    let col = NaN, n = 0, sumLoss = 0, sumLr = 0;
    const flush = () => {
      if (n) cols.push([col, sumLoss / n, sumLr / n]);
    };
    for (const p of this.train) {
      const c = Math.round(s.x(p.step));
      if (c !== col) {
        flush();
        col = c;
        n = sumLoss = sumLr = 0;
      }
      n++;
      sumLoss += p.loss;
      sumLr += p.lr;
    }
    flush();
    /** @param {[number, number][]} pts */
    const line = (pts) =>
      pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
    this.trainPath.setAttribute("d", line(cols.map(([x, l]) => [x, s.y(l)])));
    this.lrPath.setAttribute("d", line(cols.map(([x, , lr]) => [x, s.yLr(lr)])));
    const valPts =
      /** @type {[number, number][]} */ (this.val.map((p) => [s.x(p.step), s.y(p.loss)]));
    this.valPath.setAttribute("d", line(valPts));
    // Dots while they stay apart.
    if (valPts.length <= 60) {
      for (const [x, y] of valPts) el("circle", { cx: x, cy: y, r: 3 }, this.valDots);
    }
    this.scales = s;
  }

  /** @param {PointerEvent} e */
  #showHover(e) {
    const s = this.scales;
    if (!s || this.train.length === 0) return;
    const box = this.svg.getBoundingClientRect();
    const vx = (e.clientX - box.left) / box.width * WIDTH;
    if (vx < M.left || vx > WIDTH - M.right) {
      this.hover.setAttribute("visibility", "hidden");
      return;
    }
    const step = s.x0 + (vx - M.left) / (WIDTH - M.left - M.right) * (s.x1 - s.x0);
    const nearest = this.train.reduce((a, b) =>
      Math.abs(b.step - step) < Math.abs(a.step - step) ? b : a
    );
    const val = this.val.filter((p) => p.step <= nearest.step).at(-1);
    const x = s.x(nearest.step);
    this.hoverLine.setAttribute("x1", String(x));
    this.hoverLine.setAttribute("x2", String(x));
    const bx = x + 136 > WIDTH - M.right ? x - 134 : x + 6;
    this.hoverBox.setAttribute("x", String(bx));
    this.hoverBox.setAttribute("y", String(M.top + 4));
    this.hoverText.replaceChildren();
    const rows = [
      `step ${nearest.step}`,
      `loss ${nearest.loss.toFixed(3)}`,
      val ? `val ${val.loss.toFixed(3)} (step ${val.step})` : "val —",
      `lr ${formatLr(nearest.lr)}`,
    ];
    rows.forEach((r, i) => {
      const t = el("tspan", { x: bx + 8, y: M.top + 17 + i * 12 }, this.hoverText);
      t.textContent = r;
    });
    this.hover.setAttribute("visibility", "visible");
  }
}
