// The types of training's public face, in one file that the loop, the option checks and
// trainEvents all import (and that imports none of them): the options of train/trainEvents,
// the events they yield, and train's result.

import type { Corpus } from "../data/corpus.ts";
import type { BackendChoice } from "../engine/engine.ts";
import type { ScheduleOptions } from "./schedule.ts";

/**
 * Options for `train` and `trainEvents` (train.ts).
 *
 * @example Options for a short run by steps
 * ```ts
 * import type { TrainOptions } from "./types.ts";
 * const options: TrainOptions = { steps: 100, batch: 16, seq: 64, lr: 3e-3, valEvery: 50 };
 * console.log(options.steps); // 100
 * ```
 */
export interface TrainOptions extends ScheduleOptions {
  /** `adam` (default) or `sgd` (with optional `momentum`). */
  optimizer?: "adam" | "sgd";
  /** SGD momentum (default 0). */
  momentum?: number;
  /**
   * Weight decay (default 0: none; must be a finite number ≥ 0). With Adam it is decoupled,
   * torch.optim.AdamW's arithmetic: p ← p·(1 − lr·weightDecay), then the Adam update (the lr
   * of the step, schedule applied). With SGD it is torch.optim.SGD's `weight_decay`:
   * g ← g + weightDecay·p, then momentum. Clipping applies to the gradient before either.
   * The value is saved with the training state: a resumed model continues with its saved
   * weight decay when this is not given, and with this one when it is.
   */
  weightDecay?: number;
  /** `norm`: rescale to global L2 norm `clip` (default); `value`: clamp each to [-clip, clip]. */
  clipMode?: "norm" | "value";
  /**
   * Passes over the training text; ignored when `steps` or `timeBudget` is given. Without
   * `steps`, `epochs` or `timeBudget`, training goes by the clock for 600 seconds.
   */
  epochs?: number;
  /** Stop once the model has taken this many optimizer steps in all (overrides epochs). */
  steps?: number;
  /**
   * Train by the clock instead: stop once the model has trained this many **seconds** of wall
   * clock in all (its `trainState.trainTime`, so a resumed model trains for what is left of the
   * budget). The last step is the one after which, at the pace of the run so far (steps,
   * validations and samples each timed, the consumer's work between steps included), the budget
   * holds no other step and the final validation, with a step to spare: training ends within
   * the budget unless the last steps run slower than those before them. It validates, as the
   * last step always does. With `lrSchedule: "cosine"` the schedule
   * follows the time spent: one cycle from `lr` down to `lr·lrFloor` (0 by default) at the end
   * of the budget (`cycleLen` and `cycleMult` do not apply). Not with `steps`; overrides
   * `epochs`. Default: 600 seconds when neither `steps` nor `epochs` is given.
   */
  timeBudget?: number;
  /**
   * The clock `timeBudget` reads, in milliseconds (default `performance.now`). A page that
   * pauses a run between steps stops its clock while paused, so the pause is not trained time.
   */
  clock?: () => number;
  /** Sequences per batch (default 16, the recipe's). */
  batch?: number;
  /** Characters per sequence (default 100; in line mode, the longest line plus one). */
  seq?: number;
  /**
   * Line mode: every line is one sequence from a zero state, lines shuffled each epoch, the
   * last tenth of the lines (valFraction) held out (default false).
   */
  lines?: boolean;
  /** Adam learning rate (default 5e-3, the recipe's). */
  lr?: number;
  /** Clip gradients to this global L2 norm (default 5; 0 disables). */
  clip?: number;
  /** Fraction of the text, taken from its end, held out for validation (default 0.1). */
  valFraction?: number;
  /**
   * Validate on this text instead of the end of the training text (all of which then trains);
   * every character must be one the model knows. Not with `valFraction`. A
   * {@linkcode Corpus} (`openCorpus`) is read by position from its token file.
   */
  valText?: string | Corpus;
  /** Validate every this many steps and after the last (default 100; 0 = never). */
  valEvery?: number;
  /**
   * Stop at the best (default 0: never). With N > 0 the run ends once N validations in a row
   * have not beaten its best, and it ends with the state of its best validation: its weights,
   * optimizer moments and position go back into the model (a `note` event says so), so the
   * model a run leaves is the one that scored best, as nanoGPT keeps only checkpoints whose
   * validation improved. Needs validation (`valEvery` > 0). The recipe sets it (RECIPE_RULE).
   */
  patience?: number;
  /**
   * What a non-finite loss or gradient norm does (the step is never applied): `restore` goes
   * back to the last good snapshot with the learning rate halved (default), `stop` ends the run.
   */
  onDivergence?: "restore" | "stop";
  /**
   * Take the in-memory snapshot that divergence restores every this many steps (default 100);
   * the model's arrays are current at these steps' `step` events on every engine.
   */
  snapshotEvery?: number;
  /**
   * Draw a sample from the model every this many steps: a `sample` event (default 0: never).
   * It has its own engine and random generator, so training goes exactly as it would without.
   */
  sampleEvery?: number;
  /** Characters each sample generates after its prime (default 200). */
  sampleLength?: number;
  /** The text each sample starts from (default: none, a random first character). */
  prime?: string;
  /**
   * The samples' seed (default: the model's seed). The sample after step s uses a seed made
   * from this and s, so it is the same in any run that reaches step s with the same weights.
   */
  sampleSeed?: number;
  /** Threads for the WASM core (default: the number of cores). Results do not depend on it. */
  threads?: number;
  /**
   * The engine: `wasm`, `webgpu`, or `auto` (default `auto`: WebGPU on a hardware adapter for
   * large batches, WASM otherwise). On WebGPU the model's arrays (parameters, moments, carried
   * state) are copied back from the GPU only where events need them: they are current at every
   * event except `step`, at the `step` event of every `snapshotEvery`-th step, and once
   * training has returned (see `trainEvents`).
   */
  backend?: BackendChoice;
  /** Stops training after the current step. */
  signal?: AbortSignal;
  /** Called with every event; awaited. */
  onEvent?: (event: TrainEvent) => void | Promise<void>;
}

/**
 * Progress of a training run.
 *
 * @example Reading an event
 * ```ts
 * import type { TrainEvent } from "./types.ts";
 * const describe = (e: TrainEvent) =>
 *   e.type === "step" ? `step ${e.step}: loss ${e.loss.toFixed(3)}` : e.type;
 * console.log(describe({ type: "epoch", step: 50, epoch: 1 })); // "epoch"
 * ```
 */
export type TrainEvent =
  | {
    type: "start";
    /** The engine that trains. */
    backend: "wasm" | "webgpu";
    step: number;
    /** The step count training stops at; Infinity with a time budget (the clock decides). */
    totalSteps: number;
    batchesPerEpoch: number;
    trainChars: number;
    valChars: number;
    /** Seconds of training the model has had before this run. */
    trainTime: number;
    /** The time budget in seconds (the model's training time in all), or null. */
    timeBudget: number | null;
  }
  | {
    type: "step";
    step: number;
    /** As in `start`: Infinity with a time budget. */
    totalSteps: number;
    epoch: number;
    loss: number;
    gradNorm: number;
    /** Learning rate the step used (schedule and divergence halving applied). */
    lr: number;
    charsPerSec: number;
    /** Milliseconds since this run's first step began. */
    elapsedMs: number;
    /** Seconds of training in all, resumes included (what `timeBudget` counts). */
    trainTime: number;
  }
  | { type: "validation"; step: number; epoch: number; valLoss: number; best: boolean }
  | { type: "epoch"; step: number; epoch: number }
  | {
    type: "cycle";
    /** Steps taken: the last one ended the cycle. */
    step: number;
    epoch: number;
    /** The cosine cycle that ended, from 1 (`--save-cycles` writes cycle-N.safetensors). */
    cycle: number;
  }
  | {
    type: "sample";
    step: number;
    epoch: number;
    /** The seed it was drawn with (from `sampleSeed` and the step). */
    seed: number;
    /** The prime and the `sampleLength` characters drawn after it (top-k 5). */
    text: string;
  }
  | { type: "note"; message: string }
  | {
    type: "diverged";
    /** The step whose loss or gradient norm was not finite (it was not applied). */
    step: number;
    loss: number;
    gradNorm: number;
    /**
     * The model is back at its last good state, `restoredStep`: `restored` continues from there
     * with the lr scaled by `lrScale`, `stopped` ends the run.
     */
    action: "restored" | "stopped";
    restoredStep: number;
    lrScale: number;
  }
  | {
    type: "done";
    step: number;
    epoch: number;
    aborted: boolean;
    diverged: boolean;
    valLoss: number | null;
  };

/**
 * What `train` returns.
 *
 * @example A result
 * ```ts
 * import type { TrainResult } from "./types.ts";
 * const result: TrainResult = {
 *   steps: 20,
 *   epoch: 0,
 *   aborted: false,
 *   valLoss: null,
 *   trainLoss: 2.9,
 * };
 * console.log(result.trainLoss); // 2.9
 * ```
 */
export interface TrainResult {
  /** Optimizer steps the model has taken in all. */
  steps: number;
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** True when the signal stopped training early. */
  aborted: boolean;
  /** Validation loss at the end, or null without validation. */
  valLoss: number | null;
  /** Mean training loss of the last epoch's steps (or of all steps when fewer). */
  trainLoss: number;
}
