// @ts-check
/// <reference lib="dom" />
// The studio's Inside panel: a text (the validation text, or pasted) traced in the Worker
// (inside_worker.js) and drawn character by character, coloured by the chosen cell on a
// diverging scale (Karpathy's pictures) or by each character's surprise (the loss of the next
// one); hovering a character shows the model's top 5 guesses; the ranked cells are a list to
// click through; a span selected with the mouse finds the cells on across it and off around it
// and the other spans where they fire together (LSTMVis). The page only draws: the trace, the
// ranking and the queries run in the Worker. A long text is drawn in blocks of lines, a block
// per frame, with content-visibility so that only what is on screen is laid out.

/** @typedef {(type: string, payload?: Record<string, unknown>) => Promise<any>} Request */

const BLOCK = 2000; // characters per drawn block (whole lines, at least this many)
const COLOUR = 8000; // characters coloured per frame

const STYLE = `
.inside-grid{display:grid;grid-template-columns:minmax(12em,18em) 1fr;gap:1em;margin-top:.8em}
.inside-cells{margin:0;padding:0;list-style:none;max-height:30em;overflow:auto;font-size:.85em}
.inside-cells button{all:unset;display:block;cursor:pointer;padding:.2em .4em;border-radius:4px}
.inside-cells button:hover{background:#0001}.inside-cells button.on{background:var(--accent);color:#fff}
.inside-text{font:13px/1.7 var(--mono);white-space:pre-wrap;word-break:break-all;
border:1px solid var(--line);padding:.5em;max-height:30em;overflow:auto}
.inside-text .blk{display:block;content-visibility:auto;contain-intrinsic-size:auto 20em}
.inside-text i{font-style:normal}.inside-text i.match{outline:2px solid #222;outline-offset:-1px}
.inside-tip{position:fixed;z-index:10;background:#fff;border:1px solid #888;padding:.3em .6em;
font:12px/1.5 var(--mono);pointer-events:none;box-shadow:2px 2px 4px #0003}
.inside-span ul{margin:.3em 0;padding-left:1.2em}.inside-span button{all:unset;cursor:pointer;
text-decoration:underline}.inside-legend i{display:inline-block;width:2.6em;text-align:center;
font-style:normal}`;

const hex = (/** @type {number} */ v) => Math.round(v).toString(16).padStart(2, "0");
/** @param {number} t @param {number[]} to */
const mix = (t, to) => "#" + to.map((c) => hex(255 + (c - 255) * t)).join("");
/** The report's diverging scale (src/cli/_report.ts): blue below 0, white at 0, red above. */
function diverging(/** @type {number} */ v) {
  const t = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
  return t >= 0 ? mix(t, [215, 48, 31]) : mix(-t, [33, 102, 172]);
}
const surprise = (/** @type {number} */ loss, /** @type {number} */ full) =>
  mix(Math.max(0, Math.min(1, loss / full)), [230, 85, 13]);
// Whitespace made visible in the guesses: newline, space, carriage return, tab.
const VISIBLE =
  /** @type {Record<string, string>} */ ({ "\n": "↵", " ": "␣", "\r": "␍", "\t": "⇥" });
const shown = (/** @type {string} */ c) => VISIBLE[c] ?? c;
const escape = (/** @type {string} */ c) =>
  c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c;

/**
 * Builds the panel at the end of the page's wide column and wires it to the Worker.
 * @param {Request} request
 */
export function mountInside(request) {
  const style = document.createElement("style");
  style.textContent = STYLE;
  document.head.append(style);
  const panel = document.createElement("section");
  panel.id = "inside-panel";
  panel.className = "panel";
  panel.innerHTML = `<h2><span class="num">6</span> Inside</h2>
<p class="hint">Which cells follow what: the text read by the model, coloured by one cell's
value after each character (or by its surprise), the model's top guesses on hover. Select a span
with the mouse to find the cells on across it, and where else they fire together.</p>
<div class="choices" role="radiogroup" aria-label="Text to trace">
<label><input type="radio" name="inside-source" value="validation" checked> The validation text</label>
<label><input type="radio" name="inside-source" value="paste"> Pasted text</label></div>
<textarea id="inside-paste" rows="3" hidden placeholder="Paste a text in the model's characters"></textarea>
<div class="buttons"><button id="inside-trace" type="button" class="primary">Trace</button>
<label>View <select id="inside-view"><option value="cell">cell</option>
<option value="surprise">surprise</option></select></label>
<label>Cell <input id="inside-cell" size="9" placeholder="1:87 or 1:87:c"></label>
<button id="inside-show" type="button" class="secondary">Show</button>
<label>Threshold <input id="inside-threshold" type="number" step="0.05" value="0.3" style="width:5em"></label></div>
<p id="inside-status" class="status" aria-live="polite"></p>
<div class="inside-grid"><ol id="inside-cells" class="inside-cells"></ol>
<div><p id="inside-legend" class="hint inside-legend"></p><div id="inside-text" class="inside-text"></div></div></div>
<div id="inside-span" class="inside-span"></div><div id="inside-tip" class="inside-tip" hidden></div>`;
  (document.querySelector(".column.wide") ?? document.body).append(panel);
  const el = (
    /** @type {string} */ id,
  ) => /** @type {HTMLElement} */ (panel.querySelector("#" + id));
  const statusEl = el("inside-status"), textEl = el("inside-text"), tip = el("inside-tip");
  const paste = /** @type {HTMLTextAreaElement} */ (el("inside-paste"));
  const view = /** @type {HTMLSelectElement} */ (el("inside-view"));
  const cellInput = /** @type {HTMLInputElement} */ (el("inside-cell"));

  /** What the Worker traced, and what is drawn. */
  const state = {
    /** @type {any} */ trace: null,
    /** @type {HTMLElement[]} */ spans: [],
    /** @type {Float32Array | null} */ values: null,
    /** @type {{ layer: number, unit: number, state: string } | null} */ cell: null,
    drawn: 0, // characters drawn so far
    coloured: 0, // generation of the colouring that finished
    busy: false,
  };
  let drawGen = 0, colourGen = 0;

  /** @param {string} message @param {string} [kind] */
  const status = (message, kind = "") => {
    statusEl.textContent = message;
    statusEl.className = `status ${kind}`;
  };
  const source = () =>
    /** @type {HTMLInputElement} */ (panel.querySelector('input[name="inside-source"]:checked'))
      .value;
  panel.querySelectorAll('input[name="inside-source"]').forEach((r) =>
    r.addEventListener("change", () => (paste.hidden = source() !== "paste"))
  );
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));

  async function runTrace() {
    if (state.busy) return;
    state.busy = true;
    const gen = ++drawGen;
    status("Tracing in the Worker…");
    try {
      const t = await request("inside-trace", { source: source(), text: paste.value });
      t.chars = [...t.text];
      state.trace = t;
      state.values = null;
      const bits = t.meanLoss / Math.LN2;
      status(
        `${t.name}: ${t.positions + 1} characters traced in ${(t.ms / 1000).toFixed(1)} s, ` +
          `mean loss ${t.meanLoss.toFixed(4)} nats (${bits.toFixed(3)} bits) per character` +
          (t.notes.length ? `; ${t.notes.join("; ")}` : ""),
        "ok",
      );
      listCells(t.table);
      el("inside-span").textContent = "";
      await draw(gen);
      const first = t.table[0];
      if (first) await showCell(`${first.layer}:${first.unit}:${first.state}`);
      else {
        view.value = "surprise";
        await recolour();
      }
    } catch (e) {
      status(/** @type {Error} */ (e).message, "error");
    } finally {
      state.busy = false;
    }
  }

  /** @param {{ layer: number, unit: number, state: string, text: string }[]} table */
  function listCells(table) {
    const list = el("inside-cells");
    list.textContent = "";
    for (const row of table) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = row.text;
      b.dataset.cell = `${row.layer}:${row.unit}:${row.state}`;
      b.addEventListener("click", () => showCell(/** @type {string} */ (b.dataset.cell)));
      const li = document.createElement("li");
      li.append(b);
      list.append(li);
    }
    if (!table.length) list.innerHTML = "<li>No cell varies with a feature of this text.</li>";
  }

  // The text as spans, in blocks of whole lines, one block per frame.
  /** @param {number} gen */
  async function draw(gen) {
    const chars = state.trace.chars, P = state.trace.positions;
    textEl.textContent = "";
    state.spans = [];
    state.drawn = 0;
    for (let start = 0; start < P && gen === drawGen;) {
      let end = Math.min(P, start + BLOCK);
      while (end < P && chars[end - 1] !== "\n" && end - start < 4 * BLOCK) end++;
      const parts = [];
      for (let p = start; p < end; p++) {
        parts.push(`<i data-p="${p}">${chars[p] === "\n" ? "↵\n" : escape(chars[p])}</i>`);
      }
      const blk = document.createElement("span");
      blk.className = "blk";
      blk.innerHTML = parts.join("");
      textEl.append(blk);
      for (const child of blk.children) state.spans.push(/** @type {HTMLElement} */ (child));
      state.drawn = end;
      start = end;
      await frame();
    }
  }

  /** @param {string} spec */
  async function showCell(spec) {
    try {
      const { ref, values } = await request("inside-cell", { cell: spec });
      state.cell = ref;
      state.values = values;
      cellInput.value = `${ref.layer}:${ref.unit}:${ref.state}`;
      view.value = "cell";
      for (const b of panel.querySelectorAll(".inside-cells button")) {
        b.classList.toggle("on", /** @type {HTMLElement} */ (b).dataset.cell === cellInput.value);
      }
      await recolour();
    } catch (e) {
      status(/** @type {Error} */ (e).message, "error");
    }
  }

  // Colours every drawn character, a block of them per frame; a newer colouring stops it.
  async function recolour() {
    const t = state.trace;
    if (!t) return;
    const gen = ++colourGen;
    tip.hidden = true; // its value belonged to the last colouring
    const full = Math.log(Math.max(2, t.vocab.length));
    const values = state.values;
    const byCell = view.value === "cell" && values;
    const squash = state.cell?.state === "c";
    const colour = byCell
      ? (/** @type {number} */ p) => diverging(squash ? Math.tanh(values[p]) : values[p])
      : (/** @type {number} */ p) => surprise(t.loss[p], full);
    el("inside-legend").innerHTML = byCell
      ? `layer ${state.cell?.layer} cell ${state.cell?.unit} (${state.cell?.state}${
        squash ? ", as tanh(c)" : ""
      }): ${
        [-1, -0.5, 0, 0.5, 1].map((v) => `<i style="background:${diverging(v)}">${v}</i>`).join("")
      }`
      : `surprise: white 0 nats, orange ${full.toFixed(2)} nats (ln ${t.vocab.length}) and above`;
    for (let p = 0; gen === colourGen;) {
      const end = Math.min(state.spans.length, p + COLOUR);
      for (; p < end; p++) state.spans[p].style.background = colour(p);
      if (p >= t.positions) break;
      await frame();
    }
    if (gen === colourGen) state.coloured = gen;
  }

  /** @param {number} start @param {number} end */
  async function query(start, end) {
    const box = el("inside-span");
    for (const s of textEl.querySelectorAll("i.match")) s.classList.remove("match");
    try {
      const threshold = Number(/** @type {HTMLInputElement} */ (el("inside-threshold")).value);
      const r = await request("inside-span", { start, end, threshold });
      const chars = state.trace.chars;
      const quote = (/** @type {number} */ a, /** @type {number} */ b) =>
        JSON.stringify(chars.slice(a, Math.min(b, a + 40)).join(""));
      if (!r.cells.length) {
        box.innerHTML = "";
        box.append(
          `No cell is on (≥ ${threshold}) across ${quote(start, end)} and off around it: ` +
            "select another span, or lower the threshold",
        );
        return r;
      }
      box.innerHTML = `<p>Cells on across ${escapeAll(quote(start, end))} and off around it:</p>
<ul class="cells"></ul><p>${r.matches.length} other span${
        r.matches.length === 1 ? "" : "s"
      } where they fire together, best first:</p><ul class="matches"></ul>`;
      for (const c of r.cells) {
        const b = document.createElement("button");
        b.textContent = `layer ${c.layer} cell ${c.unit} (${c.state})`;
        b.addEventListener("click", () => showCell(`${c.layer}:${c.unit}:${c.state}`));
        const li = document.createElement("li");
        li.append(
          b,
          ` lowest inside ${c.inside.toFixed(2)}, highest around ${c.outside.toFixed(2)}`,
        );
        box.querySelector(".cells")?.append(li);
      }
      for (const m of r.matches) {
        for (let p = m.start; p < m.end && p < state.spans.length; p++) {
          state.spans[p].classList.add("match");
        }
        const b = document.createElement("button");
        b.textContent = `${quote(m.start, m.end)} at ${m.start}`;
        b.addEventListener(
          "click",
          () => state.spans[m.start]?.scrollIntoView({ block: "center" }),
        );
        const li = document.createElement("li");
        li.append(b, ` score ${m.score.toFixed(2)}`);
        box.querySelector(".matches")?.append(li);
      }
      return r;
    } catch (e) {
      box.textContent = "";
      status(/** @type {Error} */ (e).message, "error");
      return null;
    }
  }

  /** The position of the character span holding `node`, or -1. */
  const positionOf = (/** @type {Node | null} */ node) => {
    const e = node instanceof Element ? node : node?.parentElement;
    const i = e?.closest("#inside-text i");
    return i ? Number(/** @type {HTMLElement} */ (i).dataset.p) : -1;
  };

  textEl.addEventListener("mouseup", () => {
    const sel = getSelection();
    if (!sel || sel.isCollapsed || !state.trace) return;
    const a = positionOf(sel.anchorNode), b = positionOf(sel.focusNode);
    if (a < 0 || b < 0) return;
    query(Math.min(a, b), Math.max(a, b) + 1);
  });
  textEl.addEventListener("mouseover", (e) => {
    const t = state.trace;
    const i = /** @type {HTMLElement} */ (e.target).closest?.("#inside-text i");
    if (!t || !i) return void (tip.hidden = true);
    const p = Number(/** @type {HTMLElement} */ (i).dataset.p), k = t.topK;
    const guesses = [];
    for (let j = 0; j < k; j++) {
      guesses.push(
        `${shown(t.vocab[t.topIds[p * k + j]])} ${(t.topProbs[p * k + j] * 100).toFixed(1)}%`,
      );
    }
    const value = state.values && view.value === "cell"
      ? ` · value ${state.values[p].toFixed(3)}`
      : "";
    tip.textContent = `after ${JSON.stringify(shown(t.chars[p]))}: ${guesses.join("  ")}` +
      ` · next ${JSON.stringify(shown(t.chars[p + 1]))} ${t.loss[p].toFixed(2)} nats${value}`;
    const r = i.getBoundingClientRect();
    tip.style.left = `${Math.max(0, Math.min(r.left, innerWidth - 420))}px`;
    tip.style.top = `${r.bottom + 4}px`;
    tip.hidden = false;
  });
  textEl.addEventListener("mouseleave", () => (tip.hidden = true));
  el("inside-trace").addEventListener("click", runTrace);
  el("inside-show").addEventListener("click", () => showCell(cellInput.value));
  cellInput.addEventListener("keydown", (e) => e.key === "Enter" && showCell(cellInput.value));
  view.addEventListener("change", () => recolour());

  return { state, trace: runTrace, showCell, query, recolour };
}

/** @param {string} s */
function escapeAll(s) {
  return s.replace(/[&<>"]/g, (c) => (c === '"' ? "&quot;" : escape(c)));
}
