// @ts-check
/// <reference lib="dom" />
// The studio's loss chart: training loss (smoothed) per step, validation loss at each
// validation, and the learning rate on an axis of its own, as inline SVG. The drawing is
// loss.svg's (src/plot/loss_chart.js: the same scales, tick rule and series), in a smaller
// layout without its header; this file keeps the points as they come, redraws at most once per
// animation frame, one point per pixel column so a long run draws as fast as a short one, and
// adds what a page has and a file does not: the hover read-out.

import { lossChart, STUDIO_LAYOUT } from "../src/plot/loss_chart.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = STUDIO_LAYOUT.width, HEIGHT = STUDIO_LAYOUT.height;
const M = STUDIO_LAYOUT.margin;

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
  /** @type {import("../src/plot/loss_chart.js").ChartScales | undefined} */
  scales;
  #frame = 0;

  /** @param {SVGSVGElement} svg */
  constructor(svg) {
    this.svg = svg;
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("role", "img");
    // The drawing, redrawn whole; the hover and the placeholder stay above it.
    this.scene = el("g", { class: "scene" }, svg);
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

  /** Draws the chart now. */
  render() {
    this.#count();
    this.empty.setAttribute("visibility", this.train.length ? "hidden" : "visible");
    const chart = lossChart({
      train: this.train.map((p) => [p.step, p.loss]),
      val: this.val.map((p) => [p.step, p.loss]),
      lr: this.train.map((p) => [p.step, p.lr]),
      time: [],
    }, { ...STUDIO_LAYOUT, lastStep: this.total });
    const none = this.train.length === 0 && this.val.length === 0;
    // Before the first point only the frame: empty axes would read as a run of nothing.
    const nodes = none ? chart.nodes.filter((n) => n.part === "frame") : chart.nodes;
    this.scene.replaceChildren();
    for (const node of nodes) {
      const e = el(node.name, { ...node.attrs, class: node.part }, this.scene);
      if (node.text !== undefined) e.textContent = node.text;
    }
    this.scales = none ? undefined : chart.scales;
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
