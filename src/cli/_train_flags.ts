// train.ts's command line: the flag table, the named presets, and argv read into the model,
// training and run settings. Values are parsed here (a number must be a number); their limits
// are the library's to check, when the model is created and training starts. The help shows
// the library's defaults from their one home.

import { MODEL_DEFAULTS, type ModelOptions } from "../model/model.ts";
import type { CharModel } from "../model/model.ts";
import { TRAIN_DEFAULTS } from "../train/_options.ts";
import { SCHEDULE_DEFAULTS } from "../train/schedule.ts";
import type { TrainOptions } from "../train/train.ts";
import { type FlagSpec, HELP_FLAG, numberFlag, parseFlags, UsageError } from "./_args.ts";

/** Named sets of defaults; explicit flags override them. */
export const PRESETS = {
  default: {
    hidden: 128,
    layers: 2,
    batch: 32,
    seq: 100,
    dropout: 0.1,
    lr: 0.002,
    clip: 5,
    epochs: 12,
    "val-every": 200,
  },
  tiny: {
    hidden: 64,
    layers: 2,
    batch: 16,
    seq: 50,
    dropout: 0,
    lr: 0.003,
    clip: 5,
    steps: 300,
    "val-every": 100,
  },
  udacity: {
    hidden: 512,
    layers: 2,
    batch: 128,
    seq: 100,
    dropout: 0.5,
    lr: 0.001,
    clip: 5,
    epochs: 20,
    "val-every": 100,
  },
} as const;

const DEFAULT_DATA = new URL("../../data/anna.txt", import.meta.url);
/** The CLI's own settings' defaults. */
const RUN = { out: "checkpoints", printEvery: 10, sampleLength: 300 } as const;
const D = PRESETS.default, M = MODEL_DEFAULTS, T = TRAIN_DEFAULTS, S = SCHEDULE_DEFAULTS;
const option = (help: string, dflt?: string | number): FlagSpec =>
  dflt === undefined ? { type: "string", help } : { type: "string", help, default: String(dflt) };

/** Every flag of train.ts, in the order --help lists them. */
export const FLAGS: Record<string, FlagSpec> = {
  data: option("UTF-8 text file to train on", "data/anna.txt"),
  preset: option("default | tiny (one-minute smoke run) | udacity (2×512, 20 epochs)", "default"),
  hidden: option("hidden units per layer", D.hidden),
  layers: option("stacked recurrent layers", D.layers),
  cell: option("recurrent cell: lstm | gru | rnn (tanh), PyTorch's equations", M.cell),
  embedding: option(
    "learn an N-wide character embedding (encoder.weight) instead of one-hot input",
    `${M.embedding} (one-hot)`,
  ),
  init: option("default (PyTorch's) | identity (W_hh = I, with --cell rnn)", M.init),
  lowercase: { type: "boolean", help: "lowercase the text (and the vocabulary, and --prime)" },
  "min-freq": option(
    "characters seen fewer than N times share one unknown symbol (U+FFFD)",
    M.minFreq,
  ),
  batch: option("sequences per batch", D.batch),
  seq: option("characters per sequence (BPTT length)", D.seq),
  epochs: option("passes over the training text", D.epochs),
  steps: option("stop after N optimizer steps in all (overrides --epochs)"),
  lr: option("learning rate (the schedule starts from it)", D.lr),
  clip: option("clip gradients to this global L2 norm (0 = off)", D.clip),
  dropout: option("dropout between layers and before the output", D.dropout),
  val: option("fraction of the text held out for validation", T.valFraction),
  "val-every": option("validate every N steps (0 = never)", D["val-every"]),
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
  "lr-schedule": option("constant | step | cosine (with warm restarts)", S.lrSchedule),
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
  "sample-length": option("characters to sample at the end (0 = none)", RUN.sampleLength),
  prime: option("text that starts the final sample", "first word of the text"),
  help: HELP_FLAG,
};

/** What a train.ts command line asks for. */
export interface TrainArgs {
  help: boolean;
  data: string | URL;
  /** The checkpoint to continue from. */
  resume?: string;
  /** The new model's options (a resumed model keeps its own). */
  model: ModelOptions;
  /**
   * Training options; on resume, batch and seq are the checkpoint's unless given (see
   * {@linkcode resumeOptions}).
   */
  train: TrainOptions;
  out: string;
  /** Write last.safetensors every this many steps (the training snapshot interval too). */
  checkpointEvery: number;
  log?: string;
  printEvery: number;
  sampleLength: number;
  /** The final sample's prime (default: the text's first word). */
  prime?: string;
  exportDir?: string;
  saveCycles: boolean;
  /** Flags given on the command line, by name. */
  given: Set<string>;
}

/** Reads argv; throws a UsageError for what only the command line can get wrong. */
export function parseTrainArgs(argv: string[]): TrainArgs {
  const { values } = parseFlags(argv, FLAGS);
  const given = new Set(Object.keys(values).filter((k) => values[k] !== undefined));
  const presetName = (values.preset as string | undefined) ?? "default";
  if (!Object.hasOwn(PRESETS, presetName)) {
    throw new UsageError(
      `Invalid --preset: ${JSON.stringify(presetName)}: expected ${
        Object.keys(PRESETS).join(", ")
      }`,
    );
  }
  const preset: Record<string, number> = PRESETS[presetName as keyof typeof PRESETS];
  const num = (name: string) => numberFlag(name, values[name]);
  const int = (name: string) => numberFlag(name, values[name], { integer: true });
  const str = <T extends string>(name: string) => values[name] as T | undefined;
  const saveCycles = Boolean(values["save-cycles"]);
  if (saveCycles && values["lr-schedule"] !== "cosine") {
    throw new UsageError(
      "Invalid --save-cycles: cycles exist only with --lr-schedule cosine: add it, or drop " +
        "--save-cycles",
    );
  }
  const newModelOnly = ["init", "min-freq"].find((f) => given.has(f));
  if (values.resume && newModelOnly) {
    throw new UsageError(
      `Invalid --${newModelOnly} with --resume: it shapes a new model, and the checkpoint ` +
        "already has one: drop it",
    );
  }
  const steps = int("steps");
  const epochs = int("epochs");
  const seed = int("seed") ?? M.seed;
  return {
    help: Boolean(values.help),
    data: str("data") ?? DEFAULT_DATA,
    resume: str("resume"),
    model: {
      cell: str("cell"),
      embedding: int("embedding"),
      init: str("init"),
      lowercase: Boolean(values.lowercase),
      minFreq: int("min-freq"),
      hidden: int("hidden") ?? preset.hidden,
      layers: int("layers") ?? preset.layers,
      dropout: num("dropout") ?? preset.dropout,
      seed,
    },
    train: {
      batch: int("batch") ?? preset.batch,
      seq: int("seq") ?? (values.lines ? undefined : preset.seq),
      lr: num("lr") ?? preset.lr,
      clip: num("clip") ?? preset.clip,
      steps: steps ?? (epochs !== undefined ? undefined : preset.steps),
      epochs: epochs ?? preset.epochs,
      valFraction: num("val"),
      valEvery: int("val-every") ?? preset["val-every"],
      lines: Boolean(values.lines),
      threads: int("threads"),
      backend: str("backend"),
      optimizer: str("optimizer"),
      momentum: num("momentum"),
      weightDecay: num("weight-decay"),
      clipMode: str("clip-mode"),
      lrSchedule: str("lr-schedule"),
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
    sampleLength: int("sample-length") ?? RUN.sampleLength,
    prime: str("prime"),
    exportDir: str("export-tfjs"),
    saveCycles,
    given,
  };
}

/**
 * The training options for a model loaded from `--resume`: it trains on with its checkpoint's
 * batch and seq unless --batch or --seq says otherwise. Throws a UsageError when a flag that
 * shapes the model contradicts the checkpoint.
 */
export function resumeOptions(args: TrainArgs, model: CharModel): TrainOptions {
  const saved: Record<string, unknown> = { ...model.config, lowercase: model.vocab.lowercase };
  const asked: Record<string, unknown> = { ...args.model };
  const clash = ["cell", "embedding", "hidden", "layers", "lowercase"].find((k) =>
    args.given.has(k) && asked[k] !== saved[k]
  );
  if (clash) {
    throw new UsageError(
      `Invalid --${clash} with --resume: the checkpoint has ${clash} ` +
        `${JSON.stringify(saved[clash])}, not ${JSON.stringify(asked[clash])}: drop --${clash}`,
    );
  }
  const state = model.trainState;
  return {
    ...args.train,
    batch: state && !args.given.has("batch") ? state.batch : args.train.batch,
    seq: state && !args.given.has("seq") ? state.seq : args.train.seq,
  };
}
