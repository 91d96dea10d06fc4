// The one place trainEvents' options are checked and their defaults applied: every option, the
// batch source it implies (with the text long enough for one batch) and a resumed state's
// fit, all before an engine is created or anything is trained.

import { type BatchSource, lineSource, streamSource } from "../data/sources.ts";
import { type BackendChoice, checkBackend } from "../engine/engine.ts";
import { checkThreads, defaultThreads } from "../engine/threads.ts";
import { validateCoreConfig } from "../model/config.ts";
import type { CharModel } from "../model/model.ts";
import { type ScheduleOptions, validateSchedule } from "./schedule.ts";
import type { TrainOptions } from "./train.ts";

/** The defaults of {@linkcode TrainOptions} (threads: the number of cores): their one home. */
export const TRAIN_DEFAULTS = {
  optimizer: "adam",
  momentum: 0,
  weightDecay: 0,
  clipMode: "norm",
  epochs: 10,
  batch: 32,
  seq: 100,
  lr: 1e-3,
  clip: 5,
  valFraction: 0.1,
  valEvery: 100,
  onDivergence: "restore",
  snapshotEvery: 100,
} as const;

/** Every training option, checked, with its default applied. */
export interface ResolvedOptions {
  batch: number;
  /** Characters per sequence (in line mode, the longest line plus one unless given). */
  seq: number;
  lr: number;
  clip: number;
  clipMode: "norm" | "value";
  optimizer: "adam" | "sgd";
  momentum: number;
  /** Weight decay: the option, else the resumed state's, else 0. */
  weightDecay: number;
  schedule: ScheduleOptions;
  valFraction: number;
  valEvery: number;
  onDivergence: "restore" | "stop";
  snapshotEvery: number;
  /** The step count training stops at (the model's steps so far included). */
  totalSteps: number;
  threads: number;
  backend: BackendChoice;
  signal?: AbortSignal;
  /** Where the training and validation batches come from. */
  source: BatchSource;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Invalid option: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function fraction(name: string, value: number): number {
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`Invalid option: ${name} must be in [0, 1), got ${value}`);
  }
  return value;
}

function oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new RangeError(
      `Invalid option: ${name} must be ${allowed.join(" or ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`Invalid option: ${name} must be a finite number ≥ 0, got ${value}`);
  }
  return value;
}

/**
 * Checks `options` for training `model` on `text` and fills in the defaults; throws a
 * RangeError (a VocabError for a character the model does not know) naming the first problem.
 */
export function resolveTrainOptions(
  model: CharModel,
  text: string,
  options: TrainOptions,
): ResolvedOptions {
  const d = TRAIN_DEFAULTS;
  const batch = positiveInt("batch", options.batch ?? d.batch);
  const lr = nonNegative("lr", options.lr ?? d.lr);
  const clip = nonNegative("clip", options.clip ?? d.clip);
  const clipMode = oneOf("clipMode", options.clipMode ?? d.clipMode, ["norm", "value"] as const);
  const optimizer = oneOf("optimizer", options.optimizer ?? d.optimizer, ["adam", "sgd"] as const);
  const momentum = fraction("momentum", options.momentum ?? d.momentum);
  // On resume, the saved weight decay unless the option says otherwise.
  const weightDecay = options.weightDecay ?? model.trainState?.weightDecay ?? d.weightDecay;
  if (typeof weightDecay !== "number" || !(weightDecay >= 0) || !Number.isFinite(weightDecay)) {
    throw new RangeError(`Invalid option: weightDecay must be a number ≥ 0, got ${weightDecay}`);
  }
  validateSchedule(options);
  const { lrSchedule, lrStepEvery, lrGamma, cycleLen, cycleMult } = options;
  const valFraction = fraction("valFraction", options.valFraction ?? d.valFraction);
  const valEvery = options.valEvery ?? d.valEvery;
  if (!Number.isInteger(valEvery) || valEvery < 0) {
    throw new RangeError(`Invalid option: valEvery must be an integer ≥ 0, got ${valEvery}`);
  }
  const onDivergence = oneOf(
    "onDivergence",
    options.onDivergence ?? d.onDivergence,
    ["restore", "stop"] as const,
  );
  const snapshotEvery = positiveInt("snapshotEvery", options.snapshotEvery ?? d.snapshotEvery);
  const threads = checkThreads(options.threads ?? defaultThreads());
  const backend = checkBackend(options.backend);
  const steps = options.steps === undefined ? undefined : positiveInt("steps", options.steps);
  const epochs = steps === undefined ? positiveInt("epochs", options.epochs ?? d.epochs) : 0;

  const source = options.lines
    ? lineSource(
      model.vocab,
      text,
      batch,
      options.seq === undefined ? undefined : positiveInt("seq", options.seq),
      valFraction,
      model.config.seed,
    )
    : streamSource(model.vocab, text, batch, positiveInt("seq", options.seq ?? d.seq), valFraction);
  const seq = source.seq;
  validateCoreConfig({ ...model.config, batch, seq });
  if (source.batchesPerEpoch === 0) {
    const heldOut = valFraction > 0
      ? ` after holding out ${valFraction * 100}% for validation`
      : "";
    throw new RangeError(
      source.kind === "lines"
        ? `Cannot train: the text has no non-empty lines${heldOut}: line mode needs at least one`
        : `Cannot train: the text has ${source.trainCount} training characters${heldOut}, ` +
          `but one batch of ${batch} × ${seq} needs ${batch * seq}: ` +
          `use a longer text or a smaller batch or seq`,
    );
  }

  const state = model.trainState;
  if (state && (state.batch !== batch || state.seq !== seq)) {
    throw new RangeError(
      `Cannot resume: the model was trained with batch ${state.batch} × seq ${state.seq}, ` +
        `got batch ${batch} × seq ${seq}: train with the same batch and seq`,
    );
  }
  if (state && (state.optimizer ?? "adam") !== optimizer) {
    throw new RangeError(
      `Cannot resume: the model was trained with ${state.optimizer ?? "adam"}, got ${optimizer}: ` +
        "train with the same optimizer",
    );
  }
  return {
    batch,
    seq,
    lr,
    clip,
    clipMode,
    optimizer,
    momentum,
    weightDecay,
    schedule: { lrSchedule, lrStepEvery, lrGamma, cycleLen, cycleMult },
    valFraction,
    valEvery,
    onDivergence,
    snapshotEvery,
    totalSteps: steps ?? epochs * source.batchesPerEpoch,
    threads,
    backend,
    signal: options.signal,
    source,
  };
}
