// The one place trainEvents' options are checked and their defaults applied: every option, the
// batch source it implies (with the text long enough for one batch, and a validation text in
// the model's characters), the samples and time budget, and a resumed state's fit, all before
// an engine is created or anything is trained.

import type { Corpus } from "../data/corpus.ts";
import { type BatchSource, lineSource, streamSource } from "../data/sources.ts";
import { type BackendChoice, checkBackend } from "../engine/engine.ts";
import { checkThreads, defaultThreads } from "../engine/threads.ts";
import { validateCoreConfig } from "../model/config.ts";
import type { CharModel } from "../model/model.ts";
import { checkSampleOptions } from "../sample/sample.ts";
import { TRAIN_DEFAULTS } from "./recipe.ts";
import { type ScheduleOptions, validateSchedule } from "./schedule.ts";
import type { TrainOptions } from "./types.ts";

/** The key of trainEvents' clock (ms, like `performance.now`): an option for tests only. */
export const CLOCK: unique symbol = Symbol("charlstm.clock");

/** {@linkcode TrainOptions} with what only the tests set. */
export interface InternalTrainOptions extends TrainOptions {
  /** Replaces `performance.now` for the time budget and the timed schedule. */
  [CLOCK]?: () => number;
}

/** The samples drawn during training. */
export interface Sampling {
  /** Steps between samples (0: none). */
  every: number;
  length: number;
  prime: string;
  seed: number;
}

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
  /** Validations without a new best after which the run stops at its best (0: never). */
  patience: number;
  onDivergence: "restore" | "stop";
  snapshotEvery: number;
  /** The step count training stops at (the model's steps so far included; Infinity by time). */
  totalSteps: number;
  /** Seconds of training in all (the model's time so far included), or null. */
  timeBudget: number | null;
  /** Milliseconds of a monotonic clock. */
  clock: () => number;
  sampling: Sampling;
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
  text: string | Corpus,
  options: InternalTrainOptions,
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
  const { lrSchedule, lrStepEvery, lrGamma, cycleLen, cycleMult, warmup, lrFloor } = options;
  const valFraction = fraction("valFraction", options.valFraction ?? d.valFraction);
  const valEvery = options.valEvery ?? d.valEvery;
  if (!Number.isInteger(valEvery) || valEvery < 0) {
    throw new RangeError(`Invalid option: valEvery must be an integer ≥ 0, got ${valEvery}`);
  }
  const patience = options.patience ?? d.patience;
  if (!Number.isInteger(patience) || patience < 0) {
    throw new RangeError(
      `Invalid option: patience must be an integer ≥ 0 (validations without a new best), got ` +
        String(patience),
    );
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
  const timeBudget = resolveTimeBudget(options, steps);
  const epochs = steps === undefined && timeBudget === null
    ? positiveInt("epochs", options.epochs!)
    : 0;
  const sampling = resolveSampling(model, options);
  const valText = checkValText(model, options);

  if (options.clock !== undefined && typeof options.clock !== "function") {
    throw new RangeError(
      `Invalid option: clock must be a function that returns milliseconds, got ${typeof options
        .clock}`,
    );
  }
  const source = options.lines
    ? lineSource(
      model.vocab,
      text,
      batch,
      options.seq === undefined ? undefined : positiveInt("seq", options.seq),
      valFraction,
      model.config.seed,
      valText,
    )
    : streamSource(
      model.vocab,
      text,
      batch,
      positiveInt("seq", options.seq ?? d.seq),
      valFraction,
      valText,
    );
  try {
    checkSource(model, options, source, batch, valFraction, valText);
  } catch (e) {
    source.close?.();
    throw e;
  }
  const seq = source.seq;
  return {
    batch,
    seq,
    lr,
    clip,
    clipMode,
    optimizer,
    momentum,
    weightDecay,
    schedule: { lrSchedule, lrStepEvery, lrGamma, cycleLen, cycleMult, warmup, lrFloor },
    valFraction: valText === undefined ? valFraction : 0,
    valEvery,
    patience,
    onDivergence,
    snapshotEvery,
    totalSteps: timeBudget !== null ? Infinity : steps ?? epochs * source.batchesPerEpoch,
    timeBudget,
    clock: options[CLOCK] ?? options.clock ?? (() => performance.now()),
    sampling,
    threads,
    backend,
    signal: options.signal,
    source,
  };
}

// The source makes at least one batch (and one validation batch with a validation text), and a
// resumed state's geometry and optimizer fit.
function checkSource(
  model: CharModel,
  options: InternalTrainOptions,
  source: BatchSource,
  batch: number,
  valFraction: number,
  valText: string | Corpus | undefined,
): void {
  const seq = source.seq;
  const optimizer = options.optimizer ?? TRAIN_DEFAULTS.optimizer;
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

  if (valText !== undefined && source.valBatches === 0) {
    throw new RangeError(
      source.kind === "lines"
        ? "Cannot validate: the validation text has no non-empty lines"
        : `Cannot validate: the validation text has ${source.valChars} characters, but one ` +
          `batch of ${batch} × ${seq} needs ${batch * seq}: use a longer validation text or a ` +
          "smaller batch or seq",
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
}

// The time budget in seconds (null: train by steps or epochs; without either, the default
// budget); a cosine schedule by the clock is one cycle over it.
function resolveTimeBudget(options: TrainOptions, steps: number | undefined): number | null {
  const byDefault = options.timeBudget === undefined && steps === undefined &&
    options.epochs === undefined;
  const budget = byDefault ? TRAIN_DEFAULTS.timeBudget : options.timeBudget;
  if (budget === undefined) return null;
  if (byDefault && (options.cycleLen !== undefined || options.cycleMult !== undefined)) {
    throw new RangeError(
      "Invalid option: cycleLen and cycleMult count epochs, and without steps or epochs " +
        `training goes by the clock (${budget} s): give epochs or steps`,
    );
  }
  if (typeof budget !== "number" || !(budget > 0) || !Number.isFinite(budget)) {
    throw new RangeError(
      `Invalid option: timeBudget must be a positive number of seconds, got ${budget}`,
    );
  }
  if (steps !== undefined) {
    throw new RangeError(
      "Invalid option: timeBudget and steps both say when to stop: give one of them",
    );
  }
  if (options.cycleLen !== undefined || options.cycleMult !== undefined) {
    throw new RangeError(
      "Invalid option: cycleLen and cycleMult do not apply with timeBudget: the cosine " +
        "schedule is then one cycle over the budget",
    );
  }
  return budget;
}

// The samples during training: a positive length, and a prime in the model's characters.
function resolveSampling(model: CharModel, options: TrainOptions): Sampling {
  const d = TRAIN_DEFAULTS;
  const every = options.sampleEvery ?? d.sampleEvery;
  if (!Number.isInteger(every) || every < 0) {
    throw new RangeError(`Invalid option: sampleEvery must be an integer ≥ 0, got ${every}`);
  }
  const length = options.sampleLength ?? d.sampleLength;
  if (every > 0 && (!Number.isInteger(length) || length < 1)) {
    throw new RangeError(
      `Invalid option: sampleLength must be a positive integer with sampleEvery, got ${length}`,
    );
  }
  const prime = options.prime ?? "";
  const seed = options.sampleSeed ?? model.config.seed;
  // The sampler's own checks (the prime's characters, the seed), with its messages.
  if (every > 0) checkSampleOptions(model, { prime, length, seed, threads: 1 });
  return { every, length, prime, seed };
}

// The validation text, when given: not empty, and in the model's characters.
function checkValText(model: CharModel, options: TrainOptions): string | Corpus | undefined {
  const valText = options.valText;
  if (valText === undefined) return undefined;
  if (typeof valText === "object" && valText !== null && "tokenPath" in valText) {
    if (options.valFraction !== undefined) {
      throw new RangeError(
        "Invalid option: valFraction and valText both say what validates: give one of them",
      );
    }
    return checkValChars(model, valText, valText.vocab.chars.join(""));
  }
  if (options.valFraction !== undefined) {
    throw new RangeError(
      "Invalid option: valFraction and valText both say what validates: give one of them",
    );
  }
  if (typeof valText !== "string" || valText.length === 0) {
    throw new RangeError(
      "Cannot validate: the validation text is empty: give one, or leave valText out to hold " +
        "out the end of the training text",
    );
  }
  return checkValChars(model, valText, valText);
}

// Every character of the validation text (`chars`: its characters, or all of it) is the model's.
function checkValChars<T>(model: CharModel, valText: T, chars: string): T {
  const unknown = model.vocab.unknownChars(chars);
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).map((c) => JSON.stringify(c)).join(", ");
    const more = unknown.length > 10 ? ` and ${unknown.length - 10} more` : "";
    throw new RangeError(
      `Cannot validate: the validation text has characters the training text does not: ` +
        `${shown}${more}: validate on a text in the training text's characters`,
    );
  }
  return valText;
}
