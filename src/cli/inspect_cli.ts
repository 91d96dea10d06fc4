// `deno run -A inspect.ts CHECKPOINT --text FILE`: which cells follow the text's features (the
// ranked table on stdout), and with --out, one self-contained HTML page with each top cell as
// a strip of coloured text and the surprise view. The whole text is ranked window by window
// (traceChunks over its token file, with its features made as it is read: neither its states
// nor its string are ever all in memory, whatever its size); the strips show its first --show
// characters.

import { load } from "../io/checkpoint.ts";
import { openCorpus } from "../data/corpus.ts";
import type { CharModel } from "../model/model.ts";
import { CellCorrelator, cellValues, describeScore, parseCell } from "../inspect/cells.ts";
import type { CellRef } from "../inspect/cells.ts";
import { TextFeatureStream } from "../inspect/features.ts";
import { trace, traceChunks, type TracedLayer } from "../inspect/trace.ts";
import { type FlagSpec, HELP_FLAG, numberFlag, parseFlags, usage, UsageError } from "./args.ts";
import { runCli } from "./_errors.ts";
import { renderReport, type ReportStrip, tableLines } from "./_report.ts";

const TOP = 10, SHOW = 2000, PER_FEATURE = 3;

const FLAGS: Record<string, FlagSpec> = {
  text: { type: "string", help: "the text to read (UTF-8), in the model's characters" },
  top: { type: "string", help: "cells in the table and the report", default: String(TOP) },
  cell: {
    type: "string",
    help: "also show these cells: LAYER:UNIT[:h|c], from 0, comma-separated (e.g. 1:87,0:3:c)",
  },
  out: { type: "string", help: "write the HTML report here (self-contained)" },
  show: { type: "string", help: "characters shown in each strip", default: String(SHOW) },
  threads: { type: "string", help: "threads for the WASM core", default: "the cores" },
  help: HELP_FLAG,
};

const COMMAND = "deno run -A inspect.ts CHECKPOINT --text FILE [options]";

const INTRO = `Reads the text as one stream from a zero state (as evaluate does) and ranks every
cell (each layer's h, and c for the LSTM) by how well it follows a feature of the text:
inside double quotes, inside brackets, position in the line, start of a word, after a
newline (Pearson's r; at most ${PER_FEATURE} rows per feature). Layers and cells count from 0, as in
the checkpoint's names. With --out, writes an HTML page: each cell as a strip of the text
coloured by its value, the surprise view (each character coloured by the loss of the next),
and the model's top 5 guesses on hover.`;

/** Runs the CLI with `argv`; returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runCli(COMMAND, () => run(argv));
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS, true);
  if (values.help) {
    console.log(usage(COMMAND, FLAGS, INTRO));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "Invalid command line: no checkpoint given: give the path of a .safetensors file"
        : `Invalid command line: too many arguments: ${
          positionals.slice(1).join(" ")
        }: give one checkpoint`,
    );
  }
  if (typeof values.text !== "string") {
    throw new UsageError("Invalid command line: no --text given: give the text to read");
  }
  const top = numberFlag("top", values.top, { integer: true, min: 1 }) ?? TOP;
  const show = numberFlag("show", values.show, { integer: true, min: 2 }) ?? SHOW;
  const threads = numberFlag("threads", values.threads, { integer: true, min: 1 });
  const model = await load(positionals[0]);
  const cells = parseCells(values.cell as string | undefined, model);
  // The text streams into a token file (openCorpus): the ranking reads it a window at a time,
  // so a text too large for one string is inspected in bounded memory.
  const large = await Deno.stat(values.text).then((s) => s.size >= 64 << 20, () => false);
  const corpus = await openCorpus(values.text, {
    onNote: large ? (m) => console.error(m) : undefined, // says so when reading takes a while
  });
  const chars = { length: corpus.length };

  // The whole text, window by window: the ranking and evaluate's mean loss; the features are
  // made window by window too, from the text's own characters.
  const features = new TextFeatureStream();
  const correlator = new CellCorrelator(features.next([]));
  let meanLoss = NaN;
  {
    using reader = corpus.reader();
    let ids = new Int32Array(0);
    for await (const chunk of traceChunks(model, corpus, { threads, topK: 0 })) {
      if (ids.length < chunk.length) ids = new Int32Array(chunk.length);
      reader.read(chunk.start, ids, 0, chunk.length);
      const read = Array.from(ids.subarray(0, chunk.length), (id) => corpus.vocab.chars[id]);
      correlator.add(chunk, features.next(read));
      meanLoss = chunk.meanLoss;
    }
  }
  const table = correlator.rank({ top, perFeature: PER_FEATURE });
  const { cell, layers, hidden } = model.config;
  console.log(
    `${cell.toUpperCase()} ${layers}×${hidden}, ${chars.length} characters: mean loss ` +
      `${meanLoss.toFixed(4)} nats (${(meanLoss / Math.LN2).toFixed(4)} bits) per character`,
  );
  console.log(tableLines(table).join("\n") || "no cell varies with a feature of this text");
  if (typeof values.out !== "string") return 0;

  // The shown part, traced whole: the strips, the surprise view and the guesses.
  const t = await trace(model, corpus.text(0, show + 1), { threads, topK: 5 });
  const strips: ReportStrip[] = [
    ...table.map((s) => ({
      heading: describeScore(s),
      values: cellValues(t, s),
      squash: s.state === "c",
    })),
    ...cells.map((ref) => ({
      heading: `layer ${ref.layer} cell ${ref.unit} (${ref.state}), asked for`,
      values: cellValues(t, ref),
      squash: ref.state === "c",
    })),
  ];
  const name = positionals[0].split(/[\\/]/).at(-1)!;
  const html = renderReport({
    title: `Inside ${name}`,
    summary: [
      `${cell.toUpperCase()}, ${layers} layer${layers === 1 ? "" : "s"} of ${hidden} cells, ` +
      `${model.vocab.size} characters in its vocabulary.`,
      `Text ${values.text}: ${chars.length} characters, mean loss ${meanLoss.toFixed(4)} nats ` +
      `(${(meanLoss / Math.LN2).toFixed(4)} bits) per character, read as one stream from a ` +
      `zero state; the ranking covers all of it, the strips its first ${t.positions}.`,
    ],
    vocab: model.vocab.chars,
    chars: t.chars,
    positions: t.positions,
    topK: t.topK,
    topIds: t.topIds,
    topProbs: t.topProbs,
    loss: t.loss,
    table,
    strips,
  });
  await writeAtomically(values.out, html);
  console.log(`wrote ${values.out}`);
  return 0;
}

// --cell's list, checked against the model's shape before anything is read.
function parseCells(spec: string | undefined, model: CharModel): Required<CellRef>[] {
  if (spec === undefined) return [];
  const { cell, hidden, layers } = model.config;
  const all = Int32Array.from({ length: hidden }, (_, u) => u);
  const shape = {
    cell,
    hidden,
    layers: Array.from({ length: layers }, (_, layer): TracedLayer => ({
      layer,
      units: all,
      h: new Float32Array(0),
      c: cell === "lstm" ? new Float32Array(0) : null,
      gates: null,
    })),
  };
  return spec.split(",").map((s) => parseCell(s, shape));
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (e) {
    await Deno.remove(temporary).catch(() => {});
    throw new RangeError(
      `Cannot write the report: ${(e as Error).message}: give --out a writable path`,
    );
  }
}
