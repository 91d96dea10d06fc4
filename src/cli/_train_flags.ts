// train.ts's command line: the flag table, and argv read into the model, training and run
// settings. Values are parsed here (a number must be a number); their limits are the library's
// to check, when the model is created and training starts. Only what the command line gives is
// set: the rest comes from the preset (the recipe, src/train/recipe.ts, by default), whose
// defaults the help shows from their one home.

import type { Corpus } from "../data/corpus.ts";
import { MODEL_DEFAULTS, type ModelOptions } from "../model/model.ts";
import type { CharModel } from "../model/model.ts";
import { FINE_TUNE_RULE, type FineTune, prepareFineTune } from "../train/fine_tune.ts";
import { PRESETS, recipe, RECIPE_RULE, TRAIN_DEFAULTS } from "../train/recipe.ts";
import { SCHEDULE_DEFAULTS } from "../train/schedule.ts";
import type { TrainOptions } from "../train/train.ts";
import { type FlagSpec, HELP_FLAG, numberFlag, parseFlags, UsageError } from "./args.ts";

const DEFAULT_DATA = new URL("../../data/anna.txt", import.meta.url);
/** The CLI's own settings' defaults. */
const RUN = { out: "checkpoints", printEvery: 10, sampleLength: 300 } as const;
const R = RECIPE_RULE, M = MODEL_DEFAULTS, T = TRAIN_DEFAULTS, S = SCHEDULE_DEFAULTS;
// The recipe's dropout rule in words: "0 up to 3 epochs, then 0.1".
function dropoutRule(): string {
  const rows = R.dropout;
  return rows.map((d) =>
    Number.isFinite(d.epochs) ? `${d.dropout} up to ${d.epochs} epochs` : `${d.dropout} beyond`
  ).join(", ").replace(/, ([^,]*)$/, ", then $1");
}

/** The names --preset takes: `default` is the recipe. */
export const PRESET_NAMES: readonly ("default" | keyof typeof PRESETS)[] = [
  "default",
  ...Object.keys(PRESETS) as (keyof typeof PRESETS)[],
];
const option = (help: string, dflt?: string | number): FlagSpec =>
  dflt === undefined ? { type: "string", help } : { type: "string", help, default: String(dflt) };

/** Every flag of train.ts, in the order --help lists them. */
export const FLAGS: Record<string, FlagSpec> = {
  data: option("UTF-8 text file to train on", "data/anna.txt"),
  preset: option(
    "default (the recipe: the model and run that learn the most in --time on this text and " +
      "machine) | tiny (one-minute smoke run) | udacity (the tutorial's 2×512, 20 epochs)",
    "default",
  ),
  hidden: option(
    "hidden units per layer",
    `the recipe's: the widest of ${R.widths.join(", ")} that takes ${R.minSteps} steps or ` +
      "more in the budget",
  ),
  layers: option("stacked recurrent layers", R.layers),
  cell: option("recurrent cell: lstm | gru | rnn (tanh), PyTorch's equations", R.cell),
  embedding: option(
    "learn an N-wide character embedding (encoder.weight) instead of one-hot input",
    `${M.embedding} (one-hot)`,
  ),
  init: option("default (PyTorch's) | identity (W_hh = I, with --cell rnn)", M.init),
  "input-scale": option(
    "one-hot input weights of the first layer uniform in ±S instead of PyTorch's ±1/√hidden " +
      "(0: PyTorch's)",
    M.inputScale,
  ),
  "forget-bias": option(
    "the LSTM's forget-gate bias at the start (b_ih's forget slice; 0: PyTorch's uniform)",
    M.forgetBias,
  ),
  lowercase: { type: "boolean", help: "lowercase the text (and the vocabulary, and --prime)" },
  "min-freq": option(
    "characters seen fewer than N times share one unknown symbol (U+FFFD)",
    M.minFreq,
  ),
  batch: option("sequences per batch", R.batch),
  seq: option("characters per sequence (BPTT length)", R.seq),
  time: option(
    "train for a wall-clock budget (90s, 10m, 1h30m; --resume continues it); with " +
      "--lr-schedule cosine, one cycle that reaches --lr-floor at its end",
    `${R.timeBudget / 60}m, unless --steps or --epochs`,
  ),
  epochs: option("train for N passes over the training text instead"),
  steps: option("train for N optimizer steps in all instead"),
  lr: option("learning rate (the schedule starts from it)", R.lr),
  warmup: option(
    "raise the lr linearly over the first N steps",
    `${R.warmup}, at most ${R.warmupShare * 100}% of the run's steps`,
  ),
  clip: option("clip gradients to this global L2 norm (0 = off)", R.clip),
  dropout: option(
    "dropout between layers and before the output",
    `the recipe's, by the epochs the run reads: ${dropoutRule()}`,
  ),
  val: option("fraction of the text held out for validation", T.valFraction),
  "val-every": option(
    "validate every N steps (0 = never)",
    `as often as costs at most ${
      R.valShare * 100
    }% of the time, at least every ${R.maxValEpochs} passes`,
  ),
  patience: option(
    "stop once N validations in a row have not beaten the best, and end with the best's state " +
      "(0 = never)",
    `${R.patience}`,
  ),
  "val-data": option("validate on FILE instead of the last --val of the text (all of it trains)"),
  out: option("folder for last.safetensors and best.safetensors", RUN.out),
  "checkpoint-every": option("write last.safetensors every N steps", T.snapshotEvery),
  lines: {
    type: "boolean",
    help: "line mode: each line one example from a zero state, shuffled each epoch; " +
      "--seq defaults to the longest line + 1",
  },
  optimizer: option("adam | sgd", T.optimizer),
  momentum: option("SGD momentum", T.momentum),
  "weight-decay": option(
    "weight decay: decoupled with adam (torch.optim.AdamW's), L2 with sgd " +
      "(torch.optim.SGD's); on --resume the checkpoint's unless given",
    T.weightDecay,
  ),
  "clip-mode": option("norm (global L2 norm) | value (clamp each to ±clip)", T.clipMode),
  "lr-schedule": option("constant | step | cosine (with warm restarts)", "cosine"),
  "lr-floor": option("where cosine ends, as a fraction of --lr", R.lrFloor),
  "lr-step-every": option("steps between decays (step schedule)", S.lrStepEvery),
  "lr-gamma": option("decay factor (step schedule)", S.lrGamma),
  "cycle-len": option("first cosine cycle, in epochs", S.cycleLen),
  "cycle-mult": option("each cosine cycle this many times the last", S.cycleMult),
  "save-cycles": {
    type: "boolean",
    help: "write cycle-N.safetensors at the end of each cosine cycle",
  },
  "on-divergence": option(
    "a non-finite loss or gradient: go back to the last snapshot (taken every " +
      "--checkpoint-every steps) with lr halved, or stop there",
    T.onDivergence,
  ),
  "export-tfjs": option("also write a TensorFlow.js LayersModel to DIR at the end"),
  resume: option("continue training from this checkpoint"),
  from: option(
    "fine-tune a trained model on --data: a bundled one (anna, shakespeare) or a checkpoint; " +
      "the text's new characters are added, and the run is the recipe's for its shape at " +
      `lr ${FINE_TUNE_RULE.lr}`,
    `none; with it --time defaults to ${FINE_TUNE_RULE.timeBudget}s`,
  ),
  seed: option("seed for initialisation, dropout and sampling", M.seed),
  threads: option(
    "threads for the WASM core (results do not depend on it)",
    "number of cores",
  ),
  backend: option(
    "wasm (CPU) | webgpu (GPU; an error when no adapter exists) | auto (WebGPU on a " +
      "hardware GPU for large batches, else WASM); checkpoints resume on either",
    "auto",
  ),
  log: option("append every progress event to FILE as JSON lines"),
  "print-every": option("progress line interval when not on a terminal", RUN.printEvery),
  "sample-length": option(
    "characters to sample at the end and at --sample-every (0 = none)",
    RUN.sampleLength,
  ),
  prime: option("text that starts the samples", "first word of the text"),
  "sample-every": option("print a sample above the progress every N steps (0 = never)", 0),
  plot: option("redraw loss.svg from a --log FILE (beside it, or in --out if given), and exit"),
  help: HELP_FLAG,
};

// Flags that only a new model takes (a trained one has its own weights and vocabulary).
const NEW_MODEL_ONLY = ["init", "min-freq", "forget-bias", "input-scale"];
// Flags that shape a model: a trained one (--resume, --from) must agree with them.
const SHAPE_FLAGS = ["cell", "embedding", "hidden", "layers", "lowercase"];

/** What a train.ts command line asks for. */
export interface TrainArgs {
  help: boolean;
  data: string | URL;
  /** The checkpoint to continue from. */
  resume?: string;
  /** The trained model to fine-tune: a bundled model's name or a checkpoint. */
  from?: string;
  /** `default` (the recipe), or the name of one of the library's PRESETS. */
  preset: "default" | keyof typeof PRESETS;
  /** The new model's options that the command line gives (a resumed model keeps its own). */
  model: ModelOptions;
  /**
   * The training options that the command line gives; {@linkcode runOptions} completes them
   * from the preset (on resume, batch and seq are the checkpoint's unless given).
   */
  train: TrainOptions;
  out: string;
  /** Write last.safetensors every this many steps (the training snapshot interval too). */
  checkpointEvery: number;
  log?: string;
  printEvery: number;
  sampleLength: number;
  /** The samples' prime (default: the text's first word). */
  prime?: string;
  /** Print a sample every this many steps (0: never). */
  sampleEvery: number;
  /** The file to validate on, instead of the end of the text. */
  valData?: string;
  /** The JSON log to redraw loss.svg from (nothing trains). */
  plot?: string;
  exportDir?: string;
  saveCycles: boolean;
  /** Flags given on the command line, by name. */
  given: Set<string>;
}

/** Reads argv; throws a UsageError for what only the command line can get wrong. */
export function parseTrainArgs(argv: string[]): TrainArgs {
  const { values } = parseFlags(argv, FLAGS);
  const given = new Set(Object.keys(values).filter((k) => values[k] !== undefined));
  const preset = (values.preset as string | undefined) ?? "default";
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new UsageError(
      `Invalid --preset: ${JSON.stringify(preset)}: expected ${PRESET_NAMES.join(", ")}`,
    );
  }
  const num = (name: string) => numberFlag(name, values[name]);
  const int = (name: string) => numberFlag(name, values[name], { integer: true });
  const str = <T extends string>(name: string) => values[name] as T | undefined;
  const saveCycles = Boolean(values["save-cycles"]);
  const schedule = values["lr-schedule"] ?? (preset === "default" ? "cosine" : undefined);
  if (saveCycles && schedule !== "cosine") {
    throw new UsageError(
      "Invalid --save-cycles: cycles exist only with --lr-schedule cosine: add it, or drop " +
        "--save-cycles",
    );
  }
  const newModelOnly = NEW_MODEL_ONLY.find((f) => given.has(f));
  if (values.resume && newModelOnly) {
    throw new UsageError(
      `Invalid --${newModelOnly} with --resume: it shapes a new model, and the checkpoint ` +
        "already has one: drop it",
    );
  }
  const fromClash = values.from !== undefined &&
    (["resume", "preset", ...NEW_MODEL_ONLY].find((f) => given.has(f)));
  if (fromClash) {
    throw new UsageError(
      `Invalid --${fromClash} with --from: ` +
        (fromClash === "resume"
          ? "--resume continues a run, --from starts a fine-tuning run: drop one of them"
          : fromClash === "preset"
          ? "fine-tuning has its own recipe: drop --preset"
          : "it shapes a new model, and --from starts from a trained one: drop it"),
    );
  }
  const steps = int("steps");
  const epochs = int("epochs");
  const time = values.time === undefined ? undefined : parseDuration(String(values.time));
  const clash = time !== undefined && ["steps", "epochs"].find((f) => given.has(f));
  if (clash) {
    throw new UsageError(
      `Invalid --time with --${clash}: both say when to stop: drop one of them`,
    );
  }
  const cycles = ["cycle-len", "cycle-mult"].find((f) => given.has(f));
  if (cycles && time === undefined && steps === undefined && epochs === undefined) {
    throw new UsageError(
      `Invalid --${cycles}: cosine cycles are counted in epochs, and the run goes by the clock ` +
        "(10m) unless told otherwise: add --epochs N or --steps N",
    );
  }
  if (values["val-data"] !== undefined && given.has("val")) {
    throw new UsageError(
      "Invalid --val with --val-data: the validation file replaces the held-out part: drop --val",
    );
  }
  const sampleLength = int("sample-length") ?? RUN.sampleLength;
  const sampleEvery = int("sample-every") ?? 0;
  if (sampleEvery > 0 && sampleLength === 0) {
    throw new UsageError(
      "Invalid --sample-every: --sample-length is 0, which leaves no room for a sample: give " +
        "a positive --sample-length",
    );
  }
  const seed = int("seed") ?? M.seed;
  return {
    help: Boolean(values.help),
    data: str("data") ?? DEFAULT_DATA,
    resume: str("resume"),
    from: str("from"),
    preset: preset as TrainArgs["preset"],
    model: {
      cell: str("cell"),
      embedding: int("embedding"),
      init: str("init"),
      lowercase: Boolean(values.lowercase),
      minFreq: int("min-freq"),
      forgetBias: num("forget-bias"),
      inputScale: num("input-scale"),
      hidden: int("hidden"),
      layers: int("layers"),
      dropout: num("dropout"),
      seed,
    },
    train: {
      batch: int("batch"),
      seq: int("seq"),
      lr: num("lr"),
      clip: num("clip"),
      steps,
      epochs,
      timeBudget: time,
      valFraction: num("val"),
      valEvery: int("val-every"),
      patience: int("patience"),
      lines: Boolean(values.lines),
      threads: int("threads"),
      backend: str("backend"),
      optimizer: str("optimizer"),
      momentum: num("momentum"),
      weightDecay: num("weight-decay"),
      clipMode: str("clip-mode"),
      lrSchedule: str("lr-schedule"),
      warmup: int("warmup"),
      lrFloor: num("lr-floor"),
      lrStepEvery: int("lr-step-every"),
      lrGamma: num("lr-gamma"),
      cycleLen: num("cycle-len"),
      cycleMult: num("cycle-mult"),
      onDivergence: str("on-divergence"),
    },
    out: str("out") ?? RUN.out,
    checkpointEvery: int("checkpoint-every") ?? T.snapshotEvery,
    log: str("log"),
    printEvery: numberFlag("print-every", values["print-every"], { integer: true, min: 1 }) ??
      RUN.printEvery,
    sampleLength,
    prime: str("prime"),
    sampleEvery,
    valData: str("val-data"),
    plot: str("plot"),
    exportDir: str("export-tfjs"),
    saveCycles,
    given,
  };
}

/** The model and training options of a run, complete, and what the recipe said. */
export interface RunOptions {
  /** Options for `createModel` (unused on resume). */
  model: ModelOptions;
  train: TrainOptions;
  /** The recipe's line for the start of the run (none with a named preset). */
  summary?: string;
  /** With --from: the model to fine-tune (the trained one, widened for the text). */
  fineTune?: FineTune;
}

/**
 * Completes what the command line gives: from the recipe (the default preset; it measures this
 * machine's speed for the candidate models) or a named preset. A model loaded from --resume
 * keeps its shape and trains on with its checkpoint's batch, seq and time budget unless flags
 * say otherwise; throws a UsageError when a flag that shapes the model contradicts it.
 */
export async function runOptions(
  args: TrainArgs,
  text: string | Corpus,
  options: { valText?: string | Corpus; resumed?: CharModel; base?: CharModel } = {},
): Promise<RunOptions> {
  const given = { ...args.train, valText: options.valText };
  if (options.base) {
    checkShape(args, options.base, `--from ${args.from}`);
    const fineTune = await prepareFineTune(options.base, text, {
      dropout: args.model.dropout,
      valText: options.valText,
      train: defined(given),
    });
    return { model: {}, train: fineTune.train, summary: fineTune.summary, fineTune };
  }
  const train = options.resumed ? resumeOptions(args, options.resumed, given) : given;
  if (args.preset !== "default") {
    const p = PRESETS[args.preset];
    const length = ["time", "steps", "epochs"].some((f) => args.given.has(f))
      ? {}
      : { steps: p.train.steps, epochs: p.train.epochs };
    return {
      model: { ...p.model, ...defined(args.model) },
      train: { ...p.train, ...length, ...defined(train) },
    };
  }
  const cfg = options.resumed?.config;
  const r = await recipe(text, {
    model: cfg
      ? { cell: cfg.cell, hidden: cfg.hidden, layers: cfg.layers, dropout: cfg.dropout }
      : defined(args.model),
    train: defined(train),
  });
  return { model: { ...args.model, ...r.model }, train: r.train, summary: r.summary };
}

// The training options for a model loaded from `--resume`: its checkpoint's batch and seq
// unless --batch or --seq says otherwise, and what is left of its time budget unless --time,
// --steps or --epochs says otherwise.
function resumeOptions(args: TrainArgs, model: CharModel, train: TrainOptions): TrainOptions {
  checkShape(args, model, "--resume");
  const state = model.trainState;
  // A model trained by the clock goes on with what is left of its budget, unless told otherwise.
  const budget = state?.timeBudget !== undefined &&
      !["time", "steps", "epochs"].some((f) => args.given.has(f))
    ? { timeBudget: state.timeBudget, steps: undefined }
    : {};
  return {
    ...train,
    batch: state && !args.given.has("batch") ? state.batch : train.batch,
    seq: state && !args.given.has("seq") ? state.seq : train.seq,
    ...budget,
  };
}

// A flag that shapes a model must agree with the trained model `with` names (--resume, --from).
function checkShape(args: TrainArgs, model: CharModel, with_: string): void {
  const saved: Record<string, unknown> = { ...model.config, lowercase: model.vocab.lowercase };
  const asked: Record<string, unknown> = { ...args.model };
  const clash = SHAPE_FLAGS.find((k) => args.given.has(k) && asked[k] !== saved[k]);
  if (clash) {
    const what = with_ === "--resume" ? "the checkpoint" : "the model";
    throw new UsageError(
      `Invalid --${clash} with ${with_}: ${what} has ${clash} ` +
        `${JSON.stringify(saved[clash])}, not ${JSON.stringify(asked[clash])}: drop --${clash}`,
    );
  }
}

/** The entries of `o` that are not undefined. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Seconds in a duration written `90s`, `10m`, `1h`, `1h30m` or `1h30m15s` (each part may have
 * a decimal point: `1.5h`); throws a UsageError for anything else, and for zero.
 */
export function parseDuration(text: string): number {
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text.trim());
  if (!m || text.trim() === "") {
    throw new UsageError(
      `Invalid --time: ${JSON.stringify(text)} is not a duration: write it like 90s, 10m or 1h30m`,
    );
  }
  const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  if (!(seconds > 0)) {
    throw new UsageError(
      `Invalid --time: ${JSON.stringify(text)} is zero: give a positive duration`,
    );
  }
  return seconds;
}
