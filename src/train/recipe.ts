// The recipe: the model and training options that learn the most from a text in a budget (a
// wall-clock time, or a number of steps or epochs), picked by one rule derived from measured
// runs (bench/learn.ts; the runs and the losing candidates are in bench/README.md), plus the
// named presets. train.ts, the studio and the benches all read their defaults from here.

import type { Corpus } from "../data/corpus.ts";
import { textStats } from "../data/text_stats.ts";
import { createEngine } from "../engine/create.ts";
import type { BackendChoice } from "../engine/engine.ts";
import { defaultThreads } from "../engine/threads.ts";
import { type Cell, validateCoreConfig } from "../model/config.ts";
import { MODEL_DEFAULTS, type ModelOptions } from "../model/model.ts";
import { VALIDATION_BATCH_IN_STEPS } from "./budget.ts";
import type { TrainOptions } from "./types.ts";

/**
 * The rule's constants, each measured (bench/README.md, "What a budget buys"): the recipe
 * takes the widest of `widths` whose run still takes at least `minSteps` optimizer steps at this
 * machine's measured speed, dropout by the epochs the run will read, and validation often
 * enough to watch but at most `valShare` of the time.
 *
 * @example The rule's learning rate and the widths it chooses from
 * ```ts
 * import { RECIPE_RULE } from "./recipe.ts";
 * console.log(RECIPE_RULE.lr, RECIPE_RULE.widths.join(", "));
 * ```
 */
export const RECIPE_RULE = {
  /** The budget when none is given: ten minutes. */
  timeBudget: 600,
  /** GRU learned more per second than LSTM at every budget measured. */
  cell: MODEL_DEFAULTS.cell as Cell,
  layers: MODEL_DEFAULTS.layers as number,
  /** The widths the rule chooses from, narrowest first. */
  widths: [64, 96, 128, 192, 256, 384, 512],
  /**
   * Steps below which a narrower model learned more. At batch 16 and lr 5e-3: at 150 s a 2×192
   * GRU's 1,650 steps beat a 2×128's 3,365 (1.5117 against 1.5244), and a 2×256's 955 lost to
   * both (1.5450); at 10 min a 2×384's 1,746 beat a 2×256's 3,819 (1.4591 against 1.4847). By
   * the clock on a slow hour the wider model still won with fewer: 2×384's 1,333 steps against
   * 2×256's 3,262 (1.4684 against 1.4823), 2×192's 1,331 at 150 s (1.5217). The line sits
   * between 955, which lost, and 1,331, which won, near their geometric mean.
   */
  minSteps: 1150,
  /**
   * A width whose probe reads short of the line by less than this share is probed once more,
   * and the faster reading counts: another process only ever slows a probe, and on this VM
   * one probe of 2×384 read 3.2k to 4.8k chars/s within the hour.
   */
  reprobe: 0.25,
  /**
   * Batch and learning rate, from one sweep (GRU 2×128, 150 s, 5.4M characters): batch 32 at
   * lr 3e-3 1.5993, at 8e-3 1.5333; batch 16 at 2e-3 / 3e-3 / 5e-3 / 8e-3 1.5819 / 1.5531 /
   * 1.5244 / 1.5203; batch 8 at 2e-3 / 3e-3 / 5e-3 1.5476 / 1.5249 / 1.5186. A step of 16 rows
   * costs about what 32 do per character (2×256: 10.6k against 11.2k chars/s at 2 threads), so
   * the half batch buys twice the updates; 8 rows gained 0.002 more and lose more speed on wide
   * models and WebGPU. 5e-3 rather than 8e-3: the wider models the rule picks take it.
   */
  batch: 16,
  seq: 100,
  lr: 5e-3,
  /** Warm-up steps, at most this many and at most `warmupShare` of the run's steps. */
  warmup: 100,
  warmupShare: 0.05,
  /** The cosine's end, as a fraction of lr. */
  lrFloor: 0.1,
  clip: 5,
  /**
   * Dropout by the epochs (passes over the training text) the run will read, the first row
   * whose `epochs` is not below them: at 6.4 epochs 0 beat 0.1; at 7.6 and 12.8, 0.1 was used.
   */
  dropout: [{ epochs: 7, dropout: 0 }, { epochs: Infinity, dropout: 0.1 }],
  /** Validation takes at most this share of the steps' time... */
  valShare: 0.03,
  /** ...and comes at most every this many steps... */
  minValEvery: 50,
  /**
   * ...and at least every this many passes over the training text, so that stopping at the best
   * picks a model near the peak: on 56k characters validating every 14 passes stopped at
   * 1.9344, every 3 passes at the peak, 1.9051.
   */
  maxValEpochs: 3,
  /**
   * The run stops at its best validation, once this many in a row have not beaten it, and
   * ends with that validation's state. On a small text the planned epochs outrun what it can
   * teach: 56k characters, 2×128, 96 epochs ended at 2.51 though step 350 had scored 1.91.
   */
  patience: 3,
} as const;

/**
 * The defaults of `TrainOptions` (threads: the number of cores): their one home. The
 * length (a time budget), batch, seq, lr and clip are the recipe's (RECIPE_RULE); the schedule,
 * warm-up and validation cadence that the recipe also picks depend on the run, and come with
 * `recipe(text)`.
 */
export const TRAIN_DEFAULTS = {
  optimizer: "adam",
  momentum: 0,
  weightDecay: 0,
  clipMode: "norm",
  timeBudget: RECIPE_RULE.timeBudget,
  batch: RECIPE_RULE.batch,
  seq: RECIPE_RULE.seq,
  lr: RECIPE_RULE.lr,
  clip: RECIPE_RULE.clip,
  valFraction: 0.1,
  valEvery: 100,
  patience: 0,
  onDivergence: "restore",
  snapshotEvery: 100,
  sampleEvery: 0,
  sampleLength: 200,
} as const;

/**
 * Named sets of options (keyed by the API's option names); explicit options override them.
 *
 * @example A model and run from a preset
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { PRESETS } from "./recipe.ts";
 * import { train } from "./train.ts";
 * const text = "the cat sat on the mat. ".repeat(100);
 * const model = createModel(text, PRESETS.tiny.model);
 * await train(model, text, { ...PRESETS.tiny.train, steps: 3, valEvery: 0 });
 * console.log(model.config.hidden); // 64
 * ```
 */
export const PRESETS: Readonly<
  Record<"tiny" | "udacity", { model: ModelOptions; train: TrainOptions }>
> = {
  /** A one-minute smoke run. */
  tiny: {
    model: { cell: "lstm", hidden: 64, layers: 2, dropout: 0 },
    train: { batch: 16, seq: 50, lr: 0.003, clip: 5, steps: 300, valEvery: 100 },
  },
  /** The PyTorch tutorial's model and run: 2×512 LSTM, batch 128 × 100, 20 epochs. */
  udacity: {
    model: { cell: "lstm", hidden: 512, layers: 2, dropout: 0.5, inputScale: 0 },
    train: { batch: 128, seq: 100, lr: 0.001, clip: 5, epochs: 20, valEvery: 100 },
  },
};

/** Options for {@linkcode recipe}: how long to train, and anything already decided. */
export interface RecipeOptions {
  /** Seconds of wall clock (default 600, unless `steps` or `epochs` is given). */
  timeBudget?: number;
  /** Train this many steps instead. */
  steps?: number;
  /** Train this many epochs instead. */
  epochs?: number;
  /** Characters held out for validation (default: a tenth of the text, as training does). */
  valChars?: number;
  /** Threads the run will train with (default: the number of cores). */
  threads?: number;
  /** The engine the run will train on (default `auto`). */
  backend?: BackendChoice;
  /** Model options already chosen: the rule keeps them and picks the rest. */
  model?: ModelOptions;
  /** Training options already chosen: the rule keeps them and picks the rest. */
  train?: TrainOptions;
  /**
   * Characters per second of a training step for a model, instead of measuring it (for tests,
   * and to plan for another machine).
   */
  charsPerSec?: (model: { cell: Cell; hidden: number; layers: number }) => number;
}

/** What {@linkcode recipe} picked. */
export interface Recipe {
  /** Options for `createModel`. */
  model: ModelOptions;
  /** Options for `train` / `trainEvents`. */
  train: TrainOptions;
  /** The measured training speed of the picked model, characters per second. */
  charsPerSec: number;
  /** The characters the run is planned to read. */
  plannedChars: number;
  /** Seconds spent measuring speeds (before the budget starts). */
  measureSeconds: number;
  /** One line that says what was picked and why, for the start of a run. */
  summary: string;
}

/**
 * Picks the model and training options that learn the most from `text` in a budget (ten
 * minutes by default), measuring this machine's speed for the candidate models first (about a
 * second or two, before the budget starts). Options given in `model` and `train` are kept.
 *
 * @example A recipe for a short run, with the speed given instead of measured
 * ```ts
 * import { recipe } from "./recipe.ts";
 * const text = "It was the best of times, it was the worst of times. ".repeat(2000);
 * const r = await recipe(text, { timeBudget: 60, charsPerSec: () => 40_000 });
 * console.log(r.summary);
 * console.log(r.model.hidden, r.train.lr);
 * ```
 */
export async function recipe(
  text: string | Corpus,
  options: RecipeOptions = {},
): Promise<Recipe> {
  const R = RECIPE_RULE;
  const given = options.model ?? {};
  const givenTrain = options.train ?? {};
  const steps = options.steps ?? givenTrain.steps;
  const epochs = options.epochs ?? givenTrain.epochs;
  const timeBudget = options.timeBudget ?? givenTrain.timeBudget ??
    (steps === undefined && epochs === undefined ? R.timeBudget : undefined);
  const { length: textLength, distinct: vocabSize } = textStats(text);
  const valChars = options.valChars ??
    (givenTrain.valText !== undefined
      ? textStats(givenTrain.valText).length
      : Math.floor(textLength * (givenTrain.valFraction ?? 0.1)));
  const trainChars = givenTrain.valText !== undefined ? textLength : textLength - valChars;
  const cell = given.cell ?? R.cell;
  const layers = given.layers ?? R.layers;
  const batch = givenTrain.batch ?? R.batch;
  // Line mode's seq is the longest line's unless given; the plan assumes the usual.
  const seq = givenTrain.seq ?? (givenTrain.lines ? undefined : R.seq);
  const planSeq = seq ?? R.seq;
  const threads = options.threads ?? givenTrain.threads ?? defaultThreads();
  const backend = options.backend ?? givenTrain.backend;
  const embedding = given.embedding ?? MODEL_DEFAULTS.embedding;

  // The given options' own errors first, before any time is spent measuring.
  validateCoreConfig({
    cell,
    embedding,
    vocabSize,
    hidden: given.hidden ?? R.widths[0],
    layers,
    dropout: given.dropout ?? 0,
    batch,
    seq: planSeq,
  });
  // Seconds spent measuring (reported; the budget's clock starts after them).
  let measureSeconds = 0;
  const speedOf = async (hidden: number) => {
    const given = options.charsPerSec?.({ cell, hidden, layers });
    if (given !== undefined) return given;
    const t0 = performance.now();
    const speed = await measureCharsPerSec(
      { cell, hidden, layers, embedding, vocabSize, batch, seq: planSeq },
      { threads, backend },
    );
    measureSeconds += (performance.now() - t0) / 1000;
    return speed;
  };
  // Characters a run at `speed` reads: by the clock, what the speed fits in the budget less
  // the measuring so far and the validations; by steps or epochs, what they say.
  const plan = (speed: number) =>
    timeBudget !== undefined
      ? timeBudget * speed * (1 - R.valShare)
      : steps !== undefined
      ? steps * batch * planSeq
      : epochs! * trainChars;

  let hidden = given.hidden ?? R.widths[0];
  let speed = await speedOf(hidden);
  if (given.hidden === undefined) {
    const short = (speed: number) => plan(speed) / (batch * planSeq) < R.minSteps;
    for (const wider of R.widths.slice(1)) {
      // Only a clock run's reading depends on the speed; by steps or epochs none is measured.
      let wSpeed = timeBudget !== undefined ? await speedOf(wider) : speed;
      if (timeBudget !== undefined && short(wSpeed) && !short(wSpeed / (1 - R.reprobe))) {
        wSpeed = Math.max(wSpeed, await speedOf(wider));
      }
      if (short(wSpeed)) break;
      hidden = wider;
      speed = wSpeed;
    }
  }
  const plannedChars = plan(speed);
  const runEpochs = plannedChars / Math.max(1, trainChars);
  const dropout = given.dropout ?? R.dropout.find((d) => runEpochs <= d.epochs)!.dropout;
  const plannedSteps = Math.max(1, Math.round(plannedChars / (batch * planSeq)));
  const valBatches = Math.floor(valChars / (batch * planSeq));
  const batchesPerEpoch = Math.max(1, Math.floor(trainChars / (batch * planSeq)));
  const valEvery = givenTrain.valEvery ?? roundUp(
    Math.max(
      R.minValEvery,
      Math.min(
        Math.ceil(valBatches * VALIDATION_BATCH_IN_STEPS / R.valShare),
        R.maxValEpochs * batchesPerEpoch,
      ),
    ),
  );
  const warmup = givenTrain.warmup ??
    Math.min(R.warmup, Math.floor(plannedSteps * R.warmupShare));
  const lr = givenTrain.lr ?? R.lr;
  const lrFloor = givenTrain.lrFloor ?? R.lrFloor;
  const lrSchedule = givenTrain.lrSchedule ?? "cosine";
  const train: TrainOptions = {
    ...givenTrain,
    batch,
    seq,
    lr,
    clip: givenTrain.clip ?? R.clip,
    lrSchedule,
    lrFloor,
    warmup,
    valEvery,
    patience: givenTrain.patience ?? R.patience,
    threads,
    ...(timeBudget !== undefined
      ? { timeBudget, steps: undefined }
      : steps !== undefined
      ? { steps }
      : { epochs }),
    // One cosine cycle over a run by steps or epochs (by the clock it follows the budget).
    ...(timeBudget === undefined && lrSchedule === "cosine" && givenTrain.cycleLen === undefined
      ? { cycleLen: plannedSteps / batchesPerEpoch }
      : {}),
  };
  const model: ModelOptions = { ...given, cell, hidden, layers, dropout };
  const length = timeBudget !== undefined
    ? formatDuration(timeBudget)
    : steps !== undefined
    ? `${steps} steps`
    : `${epochs} epochs`;
  const summary = `recipe for ${length} on ${formatCount(trainChars)} characters` +
    (timeBudget !== undefined ? ` at ${formatCount(speed)} chars/s` : "") +
    `: ${cell.toUpperCase()} ${layers}×${hidden}, dropout ${dropout}; batch ${batch} × ` +
    `${seq ?? "the longest line"}, ` +
    `lr ${lr} (warm-up ${warmup} steps, ${lrSchedule}` +
    (lrSchedule === "cosine" ? ` to ${+(lr * lrFloor).toPrecision(3)}` : "") +
    `), validation every ${valEvery} steps (patience ${train.patience}); ≈${
      formatCount(plannedChars)
    } characters, ` +
    `${runEpochs.toFixed(1)} epochs` +
    (measureSeconds > 0 ? ` (speeds measured in ${measureSeconds.toFixed(1)} s)` : "");
  return { model, train, charsPerSec: speed, plannedChars, measureSeconds, summary };
}

// A probe's length: 2 steps of 0.25 s each picked a width 1.6× too slow once (anna.txt, 2×384).
const MEASURE_STEPS = 5;
const MEASURE_MS = 250;

/**
 * Characters per second of training steps of a model of this shape on this machine: a step to
 * warm up, then steps until a quarter of a second has passed (at least five), their median.
 */
async function measureCharsPerSec(
  config: {
    cell: Cell;
    hidden: number;
    layers: number;
    embedding: number;
    vocabSize: number;
    batch: number;
    seq: number;
  },
  options: { threads: number; backend?: BackendChoice },
): Promise<number> {
  const engine = await createEngine({ ...config, dropout: 0 }, options);
  try {
    // Weights of the scale a new model has (zeros would skip no work, but keep it realistic).
    const k = 1 / Math.sqrt(config.hidden);
    for (let i = 0; i < engine.params.length; i++) engine.params[i] = k * Math.sin(i);
    engine.load({ params: engine.params });
    for (let i = 0; i < engine.inputs.length; i++) {
      engine.inputs[i] = (i * 7) % config.vocabSize;
      engine.targets[i] = (i * 7 + 1) % config.vocabSize;
    }
    const step = (n: number) =>
      engine.trainStep({
        step: n,
        optimizer: "adam",
        lr: 1e-3,
        momentum: 0,
        clip: 5,
        clipMode: "norm",
      });
    await step(0);
    // The median step, so one slow step (a page fault, another process) does not pick the width.
    const times: number[] = [];
    const t0 = performance.now();
    while (times.length < MEASURE_STEPS || performance.now() - t0 < MEASURE_MS) {
      const t = performance.now();
      await step(times.length + 1);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return config.batch * config.seq / (times[times.length >> 1] / 1000);
  } finally {
    engine.dispose();
  }
}

function roundUp(n: number): number {
  const unit = n <= 100 ? 10 : n <= 1000 ? 50 : 100;
  return Math.ceil(n / unit) * unit;
}

function formatCount(n: number): string {
  return n >= 1e6
    ? `${(n / 1e6).toFixed(1)}M`
    : n >= 1e3
    ? `${Math.round(n / 1e3)}k`
    : `${Math.round(n)}`;
}

function formatDuration(seconds: number): string {
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  return m === 0 ? `${s}s` : s === 0 ? `${m}m` : `${m}m${s}s`;
}
