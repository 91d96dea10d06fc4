// How long `trace` and the ranking of every cell take, and what cells a trained model has.
//   deno run -A bench/inspect_report.ts CHECKPOINT TEXT [--chars 100000] [--runs 3] [--threads N]
// Reads the first --chars characters of TEXT (in the model's characters) as `inspect.ts` does:
// `trace` (every layer's h, and c for the LSTM; top 5 guesses), then `rankCells` against the
// text's features; prints the CPU, the median/min/max seconds of each over --runs, and the
// ranked table (each cell once, at most 3 rows a feature). Not a `deno bench`: one trace of a
// 2×256 model over 100,000 characters takes seconds, and the table is the point as much as the
// time.

import { parseArgs } from "node:util";
import { load, readText } from "../mod.ts";
import { describeScore, rankCells, textFeatures, trace } from "../src/inspect/mod.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    chars: { type: "string", default: "100000" },
    runs: { type: "string", default: "3" },
    threads: { type: "string" },
  },
});
if (positionals.length !== 2) {
  console.error("Usage: deno run -A bench/inspect_report.ts CHECKPOINT TEXT [--chars N]");
  Deno.exit(2);
}
const [checkpoint, textPath] = positionals;
const model = await load(checkpoint);
const text = Array.from(await readText(textPath)).slice(0, Number(values.chars)).join("");
const runs = Number(values.runs);
const threads = values.threads === undefined ? undefined : Number(values.threads);

const cpu = new TextDecoder().decode(
  (await new Deno.Command("lscpu").output().catch(() => ({ stdout: new Uint8Array() }))).stdout,
).match(/Model name:\s*(.*)/)?.[1] ?? "unknown CPU";
const { cell, hidden, layers } = model.config;
console.log(
  `${cell.toUpperCase()} ${layers}×${hidden} (${checkpoint}) on ${text.length} characters of ` +
    `${textPath}; ${cpu}, ${navigator.hardwareConcurrency} cores, ${runs} run(s)`,
);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[s.length >> 1].toFixed(2)} s (min ${s[0].toFixed(2)}, max ${
    s[s.length - 1].toFixed(2)
  })`;
};
const traceTimes: number[] = [], rankTimes: number[] = [];
let table: ReturnType<typeof rankCells> = [];
let meanLoss = NaN;
for (let r = 0; r < runs; r++) {
  let t0 = performance.now();
  const t = await trace(model, text, { threads });
  traceTimes.push((performance.now() - t0) / 1000);
  meanLoss = t.meanLoss;
  t0 = performance.now();
  table = rankCells(t, textFeatures(t.chars), { top: 10, perFeature: 3 });
  rankTimes.push((performance.now() - t0) / 1000);
}
console.log(`trace:   ${stats(traceTimes)}; mean loss ${meanLoss.toFixed(4)}`);
console.log(`ranking: ${stats(rankTimes)}`);
for (const row of table) console.log(`  ${describeScore(row)}`);
