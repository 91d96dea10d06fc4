// How far training gets in a fixed wall-clock budget (not a deno bench: it runs for minutes).
//   deno run -A bench/learn.ts [--minutes 10] [--preset default] [--cell lstm|gru|rnn]
//     [--embedding N] [--hidden N] [--layers N] [--batch N] [--seq N] [--dropout P] [--lr X]
//     [--val-every N] [--data FILE]
// Prints the validation loss curve, chars/s, and a sample from the final model.

import { parseArgs } from "node:util";
import { type Cell, createModel, readText, sample, trainEvents } from "../mod.ts";
import { PRESETS } from "../src/cli/_train_flags.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: Object.fromEntries(
    [
      "minutes",
      "preset",
      "cell",
      "embedding",
      "hidden",
      "layers",
      "batch",
      "seq",
      "dropout",
      "lr",
      "val-every",
      "data",
    ].map((k) => [k, { type: "string" as const }]),
  ),
});
const preset: Record<string, number> =
  PRESETS[(values.preset ?? "default") as keyof typeof PRESETS];
const num = (k: string) => values[k] !== undefined ? Number(values[k]) : preset[k];
const minutes = Number(values.minutes ?? 10);
const data = values.data ?? new URL("../data/anna.txt", import.meta.url);
const text = await readText(data);
const config = {
  cell: (values.cell ?? "lstm") as Cell,
  embedding: Number(values.embedding ?? 0),
  hidden: num("hidden"),
  layers: num("layers"),
  dropout: num("dropout"),
  seed: 0,
};
const run = { batch: num("batch"), seq: num("seq"), lr: num("lr"), valEvery: num("val-every") };
console.log(`${minutes} min on ${String(data)}: ${JSON.stringify({ ...config, ...run })}`);

const model = createModel(text, config);
const signal = AbortSignal.timeout(minutes * 60_000);
const t0 = performance.now();
let charsPerSec = 0, step = 0, lastVal = NaN, best = Infinity;
console.log("| minutes | step | epoch | val loss |");
console.log("|---|---|---|---|");
for await (
  const e of trainEvents(model, text, { ...run, epochs: 1000, clip: 5, signal })
) {
  if (e.type === "step") ({ charsPerSec, step } = e);
  if (e.type === "validation") {
    lastVal = e.valLoss;
    best = Math.min(best, e.valLoss);
    const min = ((performance.now() - t0) / 60_000).toFixed(1);
    console.log(`| ${min} | ${e.step} | ${e.epoch} | ${e.valLoss.toFixed(4)} |`);
  }
}
console.log(
  `\n${step} steps, ${Math.round(charsPerSec)} chars/s; last val loss ${lastVal.toFixed(4)}, ` +
    `best ${best.toFixed(4)}`,
);
console.log('\nsample (prime "Anna", top-k 5):\n');
console.log(sample(model, { prime: "Anna", length: 400, topK: 5, seed: 1 }));
