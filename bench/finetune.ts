// Fine-tuning against training from scratch, on a small text in the base model's style (not a
// deno bench: it runs for minutes).
//   deno run -A bench/finetune.ts [--base shakespeare] [--data data/tinyshakespeare.txt]
//     [--from-fraction 0.9] [--split 0.5] [--finetune-time 60s | --finetune-steps N]
//     [--scratch-time 10m]
//     [--lr 0.001[,0.0003,...]] [--threads N] [--json FILE]
//
// The text is the part of --data the base model never trained on: from --from-fraction to the
// end (train.ts holds out the last tenth by default, so 0.9 for a bundled model). Its first
// --split trains, the rest validates. Three figures, each the exact `evaluate()` of the
// validation part (nats per character):
//   - the base model as it is (it has never read the text: no character is new here);
//   - the base model fine-tuned for --finetune-time (`prepareFineTune`: train.ts --from), at
//     each --lr; or for --finetune-steps N (its schedule over N steps), which compares learning
//     rates fairly on a machine that is not idle (a clock's budget buys fewer steps there);
//   - a new model trained from scratch on the same part for --scratch-time (the recipe, as
//     train.ts with nothing but --data, --val-data and --time); --scratch-time 0 skips it (to
//     compare fine-tuning runs alone).
// Each run's figure is its final model's, and its best validation's (the model at its lowest
// batched validation loss, as train.ts's best.safetensors keeps it, evaluated exactly).
// Prints a markdown table; --json FILE appends each run as a JSON line.

import { parseArgs } from "node:util";
import { createModel, evaluate, load, prepareFineTune, readText, recipe, Vocab } from "../mod.ts";
import { trainEvents } from "../mod.ts";
import type { CharModel, TrainOptions } from "../mod.ts";
import { parseDuration } from "../src/cli/_train_flags.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string", default: "shakespeare" },
    data: { type: "string", default: "data/tinyshakespeare.txt" },
    "from-fraction": { type: "string", default: "0.9" },
    split: { type: "string", default: "0.5" },
    "finetune-time": { type: "string", default: "60s" },
    "finetune-steps": { type: "string" },
    "scratch-time": { type: "string", default: "10m" },
    lr: { type: "string" },
    threads: { type: "string" },
    json: { type: "string" },
  },
});

const chars = [...await readText(values.data!)];
const from = Math.trunc(chars.length * Number(values["from-fraction"]));
const part = chars.slice(from);
const cut = Math.trunc(part.length * Number(values.split));
const trainText = part.slice(0, cut).join("");
const valText = part.slice(cut).join("");
const threads = values.threads === undefined ? undefined : Number(values.threads);
const ftTime = parseDuration(values["finetune-time"]!);
const ftSteps = values["finetune-steps"] === undefined
  ? undefined
  : Number(values["finetune-steps"]);
if (ftSteps !== undefined && !(Number.isInteger(ftSteps) && ftSteps > 0)) {
  throw new Error(
    `Cannot fine-tune: --finetune-steps ${values["finetune-steps"]} is not a positive integer`,
  );
}
// parseDuration refuses zero (a run of no time is a mistake in train.ts); here 0 means skip.
const scratchTime = /^0+[smh]?$/.test(values["scratch-time"]!.trim())
  ? 0
  : parseDuration(values["scratch-time"]!);

interface Row {
  run: string;
  budget: string;
  steps: number;
  trainTime: number;
  final: number;
  best: number;
}
const rows: Row[] = [];

/** Trains, keeping the weights of the best validation; returns the row's figures. */
async function run(label: string, model: CharModel, options: TrainOptions): Promise<Row> {
  let best = Infinity, bestParams = model.params.slice(), steps = 0, trainTime = 0;
  for await (const e of trainEvents(model, trainText, { ...options, valText, threads })) {
    if (e.type === "validation" && e.valLoss < best) {
      best = e.valLoss;
      bestParams = model.params.slice(); // current at validation events
    }
    if (e.type === "step") ({ step: steps, trainTime } = e);
  }
  const final = await evaluate(model, valText);
  const bestExact = await evaluate({ ...model, params: bestParams }, valText);
  const row = {
    run: label,
    budget: options.timeBudget === undefined ? `${options.steps} steps` : `${options.timeBudget} s`,
    steps,
    trainTime,
    final,
    best: bestExact,
  };
  console.error(JSON.stringify(row));
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(row) + "\n", { append: true });
  }
  return row;
}

const base = await load(values.base!);
const c = base.config;
console.error(
  `text: ${values.data} from ${(Number(values["from-fraction"]) * 100).toFixed(0)}%: ` +
    `${trainText.length} characters train, ${valText.length} validate; base ${values.base}: ` +
    `${c.cell.toUpperCase()} ${c.layers}×${c.hidden}`,
);
const zero = await evaluate(base, valText);
rows.push({
  run: `${values.base} as it is`,
  budget: "0",
  steps: 0,
  trainTime: 0,
  final: zero,
  best: zero,
});

const lrs = values.lr === undefined ? [undefined] : values.lr.split(",").map(Number);
for (const lr of lrs) {
  const ft = await prepareFineTune(base, trainText, {
    valText,
    ...(ftSteps === undefined ? { timeBudget: ftTime } : { steps: ftSteps }),
    threads,
    train: lr === undefined ? {} : { lr },
  });
  console.error(ft.summary);
  rows.push(await run(`${values.base} fine-tuned, lr ${ft.train.lr}`, ft.model, ft.train));
}

if (scratchTime > 0) {
  const r = await recipe(trainText, { timeBudget: scratchTime, threads, train: { valText } });
  console.error(r.summary);
  const scratch = createModel(Vocab.fromText(trainText + valText), r.model);
  rows.push(
    await run(
      `from scratch (${r.model.cell?.toUpperCase()} ${r.model.layers}×${r.model.hidden})`,
      scratch,
      r.train,
    ),
  );
}

console.log("| run | budget | steps | trained | exact val loss, final | at best validation |");
console.log("| --- | ------ | ----- | ------- | --------------------- | ------------------ |");
for (const row of rows) {
  console.log(
    `| ${row.run} | ${row.budget} | ${row.steps} | ${row.trainTime.toFixed(1)} s | ` +
      `${row.final.toFixed(4)} | ${row.best.toFixed(4)} |`,
  );
}
