// How much a model learns in a wall-clock budget (not a deno bench: it runs for minutes).
//   deno run -A bench/learn.ts [--data FILE] [--split 0.9 | --val-data FILE] [--time 150s]
//     [--runs N] [--threads N] [--json FILE] [--label NAME] [--recipe none]
//     [--cell C] [--hidden N] [--layers N] [--embedding N] [--dropout P] [--forget-bias B]
//     [--input-scale S]
//     [--batch N] [--seq N] [--lr X] [--lr-schedule S] [--warmup N] [--lr-floor F]
//     [--val-every N] [--patience N] [--seed N] [--speed CHARS_PER_SEC | --speed measure]
// Every run trains a new model on the first `--split` of the text (nanoGPT's split: 0.9) for
// `--time`, then scores the rest with the exact `evaluate()` (the whole held-out text as one
// stream). What the flags leave open the recipe picks (src/train/recipe.ts), as `train.ts`
// does; `--recipe none` starts from the library's defaults instead. Prints one line per run
// and a summary (median, min, max); `--json FILE` appends each run as a JSON line.
//
// `--speed N` trains by steps instead of by the clock: the steps that N characters per second
// buy in `--time` (less the validations' share, as the recipe plans), with the cosine over
// those steps. On a shared machine whose speed varies it gives the same figure whatever else
// runs; `--speed measure` prints the model's speed (the best of three probes) and exits.

import { parseArgs } from "node:util";
import { createModel, evaluate, readText, sample, trainEvents, Vocab } from "../mod.ts";
import type { ModelOptions, TrainOptions } from "../mod.ts";
import { defined, parseDuration } from "../src/cli/_train_flags.ts";
import { recipe, RECIPE_RULE } from "../src/train/recipe.ts";

const NUMBERS = [
  "hidden",
  "layers",
  "embedding",
  "dropout",
  "forget-bias",
  "input-scale",
  "batch",
  "seq",
  "lr",
  "warmup",
  "lr-floor",
  "val-every",
  "patience",
  "seed",
  "threads",
  "runs",
  "split",
] as const;
const STRINGS = [
  "data",
  "val-data",
  "time",
  "cell",
  "lr-schedule",
  "json",
  "label",
  "recipe",
  "speed",
] as const;
if (Deno.args.includes("--help")) {
  // The usage is the file's opening comment.
  const source = await Deno.readTextFile(new URL(import.meta.url));
  console.log(source.split("\n\n")[0].replace(/^\/\/ ?/gm, ""));
  Deno.exit(0);
}
let values: Partial<Record<(typeof NUMBERS)[number] | (typeof STRINGS)[number], string>>;
try {
  ({ values } = parseArgs({
    args: Deno.args,
    options: Object.fromEntries(
      [...NUMBERS, ...STRINGS].map((k) => [k, { type: "string" as const }]),
    ),
  }));
} catch (e) {
  console.error(`Cannot read the arguments: ${(e as Error).message}: see --help`);
  Deno.exit(2);
}
const num = (k: (typeof NUMBERS)[number]) =>
  values[k] === undefined ? undefined : Number(values[k]);

const dataPath = values.data ?? new URL("../data/anna.txt", import.meta.url);
const all = await readText(dataPath);
let text: string, valText: string;
if (values["val-data"] !== undefined) {
  text = all;
  valText = await readText(values["val-data"]);
} else {
  const split = Math.floor(all.length * (num("split") ?? 0.9));
  text = all.slice(0, split);
  valText = all.slice(split);
}
const seconds = parseDuration(values.time ?? "150s");
const runs = num("runs") ?? 1;
const threads = num("threads");

const givenModel: ModelOptions = defined({
  cell: values.cell as ModelOptions["cell"],
  hidden: num("hidden"),
  layers: num("layers"),
  embedding: num("embedding"),
  dropout: num("dropout"),
  forgetBias: num("forget-bias"),
  inputScale: num("input-scale"),
  seed: num("seed"),
});
const givenTrain: TrainOptions = defined({
  lrSchedule: values["lr-schedule"] as TrainOptions["lrSchedule"],
  batch: num("batch"),
  seq: num("seq"),
  lr: num("lr"),
  warmup: num("warmup"),
  lrFloor: num("lr-floor"),
  valEvery: num("val-every"),
  patience: num("patience"),
  threads,
});

// --speed measure: the best of three probes of the model the flags and the recipe give.
if (values.speed === "measure") {
  const best = [];
  for (let i = 0; i < 3; i++) {
    const r = await recipe(text, {
      timeBudget: seconds,
      model: givenModel,
      train: { ...givenTrain, valText },
    });
    best.push(r.charsPerSec);
  }
  console.log(Math.round(Math.max(...best)));
  Deno.exit(0);
}
const speed = values.speed === undefined ? undefined : Number(values.speed);

let model0: ModelOptions, train0: TrainOptions;
if (values.recipe === "none") {
  model0 = givenModel;
  train0 = { ...givenTrain, timeBudget: seconds };
} else {
  const r = await recipe(text, {
    timeBudget: seconds,
    model: givenModel,
    train: { ...givenTrain, valText },
    ...(speed !== undefined && { charsPerSec: () => speed }),
  });
  console.log(r.summary);
  model0 = r.model;
  train0 = r.train;
}
if (speed !== undefined) {
  // The steps the speed buys, less the validations' share; one cosine cycle over them.
  const batch = train0.batch ?? RECIPE_RULE.batch, seq = train0.seq ?? RECIPE_RULE.seq;
  const steps = Math.max(
    1,
    Math.round(seconds * speed * (1 - RECIPE_RULE.valShare) / (batch * seq)),
  );
  const perEpoch = Math.floor(text.length / (batch * seq));
  train0 = {
    ...train0,
    timeBudget: undefined,
    steps,
    ...(train0.lrSchedule === "cosine" && { cycleLen: steps / perEpoch }),
  };
}
const label = values.label ?? JSON.stringify({ ...model0, ...train0 });
console.log(
  `${label}: ${seconds} s${speed ? ` at ${speed} chars/s (${train0.steps} steps)` : ""} on ` +
    `${String(dataPath)} (${text.length} train, ${valText.length} validation characters), ` +
    `${runs} run(s)`,
);

const losses: number[] = [];
for (let r = 0; r < runs; r++) {
  // The vocabulary of both texts: a character only the held-out text has is still scored.
  const model = createModel(Vocab.fromText(text + valText), {
    ...model0,
    seed: (model0.seed ?? 0) + r,
  });
  let steps = 0, charsPerSec = 0, trainTime = 0, lastLoss = NaN;
  // The batched validations along the way: [step, loss], to see where a run peaked.
  const curve: [number, number][] = [];
  const t0 = performance.now();
  for await (const e of trainEvents(model, text, { ...train0, valText })) {
    if (e.type === "step") ({ step: steps, charsPerSec, trainTime, loss: lastLoss } = e);
    if (e.type === "validation") curve.push([e.step, +e.valLoss.toFixed(4)]);
    if (e.type === "note") console.log(`  note: ${e.message}`);
  }
  const wall = (performance.now() - t0) / 1000;
  const te = performance.now();
  const valLoss = await evaluate(model, valText, { threads });
  const evalSeconds = (performance.now() - te) / 1000;
  losses.push(valLoss);
  const row = {
    label,
    data: String(dataPath),
    seconds,
    speed,
    run: r,
    steps,
    charsPerSec: Math.round(charsPerSec),
    trainTime: +trainTime.toFixed(1),
    wall: +wall.toFixed(1),
    trainLoss: +lastLoss.toFixed(4),
    valLoss: +valLoss.toFixed(4),
    evalSeconds: +evalSeconds.toFixed(1),
    bestBatchedVal: curve.reduce((b, c) => (c[1] < b[1] ? c : b), [0, Infinity]),
    curve,
    model: { ...model.config, inputScale: model0.inputScale, forgetBias: model0.forgetBias },
    // The options, less the held-out text (the row names its file).
    train: { ...train0, valText: undefined },
  };
  console.log(
    `  run ${r}: ${steps} steps, ${row.charsPerSec} chars/s, ${row.wall} s, ` +
      `train loss ${row.trainLoss}, exact val loss ${valLoss.toFixed(4)} (evaluate: ` +
      `${row.evalSeconds} s)`,
  );
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(row) + "\n", { append: true });
  }
  if (r === runs - 1) {
    const prime = text.match(/^\S{1,20}/)?.[0] ?? "";
    console.log(
      `  sample (top-k 5): ${
        JSON.stringify(sample(model, { prime, length: 200, topK: 5, seed: 1 }))
      }`,
    );
  }
}
const sorted = [...losses].sort((a, b) => a - b);
console.log(
  `${label}: val loss median ${sorted[Math.floor((sorted.length - 1) / 2)].toFixed(4)}, ` +
    `min ${sorted[0].toFixed(4)}, max ${sorted[sorted.length - 1].toFixed(4)} (${runs} runs)`,
);
