// @ts-check
/// <reference lib="dom" />
// The Inside panel's side of the studio's Worker: traces a text with the model the Worker
// holds (the browser build's trace, as inspect.ts does), ranks the cells, and answers the
// page's questions about the trace it keeps (a cell's values, a span's cells and matches).
// worker.js adds these handlers to its own:
//
//   page → worker: { type: "inside-trace", id, source: "validation" | "paste", text? }
//                  { type: "inside-cell", id, cell: "LAYER:UNIT[:h|c]" }
//                  { type: "inside-span", id, start, end, threshold? }

/** @typedef {typeof import("../src/browser/mod.ts")} InsideLib */
/** @typedef {import("../src/inspect/trace.ts").Trace} Trace */

/** Floats a trace may keep (h, and c for the LSTM): 2^26, 256 MiB. */
const BUDGET = 2 ** 26;
/** training's default validation fraction: the studio trains with it. */
const VAL_FRACTION = 0.1;

/**
 * The handlers, reading the Worker's state through `get`.
 * @param {() => { lib: Promise<InsideLib>, model: import("../mod.ts").CharModel | null,
 *   text: string, busy: string | null,
 *   validation: (() => { chars: string[], name: string }) | null }} get
 */
export function insideHandlers(get) {
  /** @type {Trace | null} */
  let kept = null;

  return {
    /** @param {{ source: "validation" | "paste", text?: string }} m */
    async "inside-trace"(m) {
      const { lib: libPromise, model, text, busy, validation } = get();
      const lib = await libPromise;
      if (!model) {
        throw new Error(
          "Cannot trace the text: there is no model: train one or open a checkpoint",
        );
      }
      if (busy) throw new Error(`Cannot trace the text: ${busy}`);
      let chars;
      let name;
      if (m.source === "paste") {
        chars = [...(m.text ?? "").replace(/\r\n?/g, "\n")];
        name = "the pasted text";
      } else if (validation) {
        // A chosen file, read as a corpus: its tail, read by position (worker.js).
        ({ chars, name } = validation());
      } else {
        const all = [...text];
        chars = all.slice(Math.trunc(all.length * (1 - VAL_FRACTION)));
        name = "the validation text (the last 10% of the training text)";
      }
      if (chars.length < 2) {
        throw new Error(
          `Cannot trace ${name}: it has ${chars.length} character${
            chars.length === 1 ? "" : "s"
          }: ` +
            (m.source === "paste" ? "paste at least 2" : "choose a text first"),
        );
      }
      const { layers: L, hidden: H, cell } = model.config;
      const notes = [];
      const kinds = cell === "lstm" ? 2 : 1;
      let cellState = cell === "lstm";
      if ((chars.length - 1) * L * H * kinds > BUDGET && cellState) {
        cellState = false;
        notes.push("the cell state c is left out to stay within memory");
      }
      const most = Math.floor(BUDGET / (L * H)) + 1;
      if (chars.length > most) {
        notes.push(`only the first ${most} characters are traced, to stay within memory`);
        chars = chars.slice(0, most);
      }
      kept = null; // free the last trace first
      const t0 = performance.now();
      const t = await lib.trace(model, chars.join(""), { threads: 1, topK: 5, cellState });
      const ms = performance.now() - t0;
      const table = lib.rankCells(t, lib.textFeatures(t.chars), { top: 20, perFeature: 5 });
      kept = t;
      const topIds = t.topIds.slice(), topProbs = t.topProbs.slice(), loss = t.loss.slice();
      return {
        name,
        notes,
        ms,
        text: t.chars.join(""), // one string: cheaper to pass than 100,000 of them
        vocab: model.vocab.chars,
        positions: t.positions,
        cell,
        layers: L,
        hidden: H,
        cellState,
        meanLoss: t.meanLoss,
        topK: t.topK,
        topIds,
        topProbs,
        loss,
        table: table.map((s) => ({ ...s, text: lib.describeScore(s) })),
        transfer: [topIds.buffer, topProbs.buffer, loss.buffer],
      };
    },

    /** @param {{ cell: string }} m */
    async "inside-cell"(m) {
      const lib = await get().lib;
      if (!kept) throw new Error("Cannot show the cell: nothing is traced: trace a text first");
      const ref = lib.parseCell(m.cell, kept);
      const values = lib.cellValues(kept, ref);
      return { ref, values, transfer: [values.buffer] };
    },

    /** @param {{ start: number, end: number, threshold?: number }} m */
    async "inside-span"(m) {
      const lib = await get().lib;
      if (!kept) throw new Error("Cannot query the span: nothing is traced: trace a text first");
      return lib.querySpan(kept, m.start, m.end, { threshold: m.threshold, top: 20 });
    },
  };
}
