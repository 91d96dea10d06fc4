// inspect.ts's report: one self-contained HTML page (inline CSS, a small inline script for the
// hover, nothing fetched): the ranked cells as a table, each top cell as a strip of text
// coloured by its value on a diverging scale, and the surprise view (each character coloured
// by the loss of the next one). Pure: the CLI writes what it returns.

import { type CellScore, describeScore } from "../inspect/cells.ts";

/** One strip of coloured text. */
export interface ReportStrip {
  /** Its heading, e.g. `layer 1 cell 87 (c) follows inside double quotes, r = 0.90`. */
  heading: string;
  /** The cell's value at each shown position. */
  values: Float32Array;
  /** Colour by tanh(value) (a cell state `c`, unbounded) rather than the value clipped to ±1. */
  squash: boolean;
}

/** What the report shows. */
export interface ReportData {
  /** The page's title. */
  title: string;
  /** Lines under the title: the model, the text, the mean loss. */
  summary: string[];
  /** The model's characters by id (for the guesses). */
  vocab: readonly string[];
  /** The shown characters: position p is the model having read `chars[p]`. */
  chars: readonly string[];
  /** Shown positions (at most `chars.length`). */
  positions: number;
  /** Guesses kept per position. */
  topK: number;
  /** Top-k ids per shown position, `[positions, topK]`. */
  topIds: Int32Array;
  /** Their probabilities. */
  topProbs: Float32Array;
  /** The loss of the actual next character at each shown position. */
  loss: Float64Array;
  /** The ranked table. */
  table: CellScore[];
  /** The strips, in order. */
  strips: ReportStrip[];
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const hex = (v: number) => Math.round(v).toString(16).padStart(2, "0");
function mix(t: number, to: readonly number[]): string {
  return "#" + to.map((c) => hex(255 + (c - 255) * t)).join("");
}
const RED = [215, 48, 31], BLUE = [33, 102, 172], ORANGE = [230, 85, 13];

/** The diverging colour of a value in [-1, 1]: blue below 0, white at 0, red above. */
export function divergingColor(v: number): string {
  const t = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
  return t >= 0 ? mix(t, RED) : mix(-t, BLUE);
}

/** The colour of a loss: white at 0, orange at `full` nats and above. */
export function lossColor(loss: number, full: number): string {
  return mix(Math.max(0, Math.min(1, loss / full)), ORANGE);
}

// A character as shown: a newline as ↵ then the break, other control characters as ·.
function glyph(ch: string): string {
  if (ch === "\n") return "↵\n";
  if (ch === "\t") return "→";
  return /^[\p{Cc}]$/u.test(ch) ? "·" : escapeHtml(ch);
}

function strip(data: ReportData, color: (p: number) => string, title: (p: number) => string) {
  const parts: string[] = [];
  for (let p = 0; p < data.positions; p++) {
    parts.push(
      `<i data-p="${p}" style="background:${color(p)}" title="${title(p)}">${
        glyph(data.chars[p])
      }</i>`,
    );
  }
  return `<div class="strip">${parts.join("")}</div>`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
h1{font-size:1.5em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse}td,th{padding:.15em .8em;text-align:left;border-bottom:1px solid #ddd}
td.r{text-align:right;font-variant-numeric:tabular-nums}
.strip{font:13px/1.7 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all;
border:1px solid #ccc;padding:.5em;max-height:24em;overflow:auto}
.strip i{font-style:normal}.strip i:hover{outline:1px solid #000}
.legend i{display:inline-block;width:2.5em;text-align:center;font-style:normal}
#tip{position:fixed;display:none;background:#fff;border:1px solid #888;padding:.3em .6em;
font:12px/1.5 ui-monospace,monospace;pointer-events:none;box-shadow:2px 2px 4px #0003}`;

// The hover: the guesses for the character under the mouse (data: GUESSES, a list per position
// of [character, probability] pairs).
const SCRIPT = `const tip = document.getElementById("tip");
const VISIBLE = { "\\n": "↵", " ": "␣", "\\r": "␍", "\\t": "⇥" };
const show = (c) => VISIBLE[c] ?? c;
document.addEventListener("mouseover", (e) => {
  const el = e.target.closest && e.target.closest(".strip i");
  if (!el) { tip.style.display = "none"; return; }
  const p = Number(el.dataset.p), g = GUESSES[p] || [];
  tip.textContent = "after " + JSON.stringify(show(CHARS[p])) + ": " + g.map(([c, q]) =>
    show(c) + " " + (q * 100).toFixed(1) + "%").join("  ");
  const r = el.getBoundingClientRect();
  tip.style.left = Math.min(r.left, innerWidth - 320) + "px";
  tip.style.top = (r.bottom + 4) + "px";
  tip.style.display = "block";
});`;

/** JSON safe inside a script element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028|\u2029/g, "");
}

/**
 * The report page: the ranked cells, one strip per cell, the surprise view, and the hover
 * showing the model's top guesses for the next character (an inline script; the colours are
 * drawn without it).
 */
export function renderReport(data: ReportData): string {
  const { positions: P, topK: k } = data;
  const guesses = Array.from({ length: P }, (_, p) =>
    Array.from({ length: k }, (_, i) => [
      data.vocab[data.topIds[p * k + i]],
      Number(data.topProbs[p * k + i].toFixed(4)),
    ]));
  const rows = data.table.map((s, i) =>
    `<tr><td class="r">${i + 1}</td><td>layer ${s.layer} cell ${s.unit} (${s.state})</td>` +
    `<td>${escapeHtml(s.label)}</td><td class="r">${s.r.toFixed(3)}</td></tr>`
  );
  const strips = data.strips.map((s) => {
    const value = (p: number) => (s.squash ? Math.tanh(s.values[p]) : s.values[p]);
    return `<h2>${escapeHtml(s.heading)}</h2>\n` +
      strip(data, (p) => divergingColor(value(p)), (p) => s.values[p].toFixed(3));
  });
  const full = Math.log(Math.max(2, data.vocab.length));
  const legend = [-1, -0.5, 0, 0.5, 1].map((v) =>
    `<i style="background:${divergingColor(v)}">${v}</i>`
  ).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>
${data.summary.map((line) => `<p>${escapeHtml(line)}</p>`).join("\n")}
<h2>Cells that follow the text's features</h2>
${
    rows.length
      ? `<table><tr><th>#</th><th>cell</th><th>feature</th><th>r</th></tr>${rows.join("")}</table>`
      : "<p>No cell varies with a feature of this text.</p>"
  }
<p class="legend">Strips: each character coloured by the cell's value after reading it
(<code>c</code> as tanh(c)): ${legend}. Hover a character for the model's guesses.</p>
${strips.join("\n")}
<h2>Surprise: each character coloured by the loss of the character after it</h2>
<p class="legend">white 0 nats, orange ${full.toFixed(2)} nats (ln of the vocabulary's
${data.vocab.length}) and above</p>
${strip(data, (p) => lossColor(data.loss[p], full), (p) => data.loss[p].toFixed(3) + " nats")}
<div id="tip"></div>
<script>const CHARS = ${scriptJson(data.chars.slice(0, P))};
const GUESSES = ${scriptJson(guesses)};
${SCRIPT}</script>
</body></html>
`;
}

/** The ranked table as text lines, for the terminal. */
export function tableLines(table: CellScore[]): string[] {
  return table.map((s, i) => `${String(i + 1).padStart(3)}  ${describeScore(s)}`);
}
