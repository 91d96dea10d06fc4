// Training's public face: its options, events and result, and `trainEvents`/`train`, which
// set an engine up for a model and run the loop of the PyTorch char-RNN tutorial on it (Adam,
// cross-entropy, gradient clipping, dropout, hidden state carried from batch to batch and
// reset at each epoch, validation on the last part of the text or on a text of its own), for a
// number of steps or a time budget, with samples along the way. The parts live beside it:
// option checks in _options.ts, the loop in _loop.ts, divergence in _divergence.ts, batches
// in ../data/sources.ts; the samples are ../sample's.

import type { BackendChoice } from "../engine/engine.ts";
import { createEngine } from "../engine/create.ts";
import type { CharModel, TrainState } from "../model/model.ts";
import { sample } from "../sample/sample.ts";
import { trainLoop } from "./_loop.ts";
import { resolveTrainOptions } from "./_options.ts";
import type { ScheduleOptions } from "./schedule.ts";

/** Options for {@linkcode train} and {@linkcode trainEvents}. */
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
  /** Sequences per batch (default 32). */
  batch?: number;
  /** Characters per sequence (default 100; in line mode, the longest line plus one). */
  seq?: number;
  /**
   * Line mode: every line is one sequence from a zero state, lines shuffled each epoch, the
   * last tenth of the lines (valFraction) held out (default false).
   */
  lines?: boolean;
  /** Adam learning rate (default 3e-3, the recipe's). */
  lr?: number;
  /** Clip gradients to this global L2 norm (default 5; 0 disables). */
  clip?: number;
  /** Fraction of the text, taken from its end, held out for validation (default 0.1). */
  valFraction?: number;
  /**
   * Validate on this text instead of the end of the training text (all of which then trains);
   * every character must be one the model knows. Not with `valFraction`.
   */
  valText?: string;
  /** Validate every this many steps and after the last (default 100; 0 = never). */
  valEvery?: number;
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
   * training has returned (see {@linkcode trainEvents}).
   */
  backend?: BackendChoice;
  /** Stops training after the current step. */
  signal?: AbortSignal;
  /** Called with every event; awaited. */
  onEvent?: (event: TrainEvent) => void | Promise<void>;
}

/** Progress of a training run. */
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

/** What {@linkcode train} returns. */
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

/**
 * Trains `model` on `text`, yielding progress events.
 *
 * The model's arrays (`model.params`, and `model.trainState` with its moments and carried
 * state) are current at every event except `step`, and once the generator has finished or its
 * consumer has stopped early: save the model then to checkpoint it. At a `step` event they are
 * current on WASM, and on WebGPU only when the step is a multiple of `snapshotEvery`; at the
 * others the next step is already running on the GPU and only the counters (`step`, `epoch`,
 * `batchInEpoch`) are current. A consumer that stops at such an event gets the model with that
 * running step taken too.
 *
 * @example Watching training events
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { trainEvents } from "./train.ts";
 * const text = "abcabcabd".repeat(200);
 * const model = createModel(text, { hidden: 16, layers: 1 });
 * for await (const e of trainEvents(model, text, { steps: 5, batch: 4, seq: 10 })) {
 *   if (e.type === "step") console.log(e.step, e.loss);
 * }
 * ```
 */
export async function* trainEvents(
  model: CharModel,
  text: string,
  options: TrainOptions = {},
): AsyncGenerator<TrainEvent> {
  const o = resolveTrainOptions(model, text, options);
  const { batch, seq, source } = o;
  const notes: string[] = [];
  const core = await createEngine({ ...model.config, batch, seq }, {
    backend: o.backend,
    threads: o.threads,
    onNote: (message) => notes.push(message),
  });
  try {
    const { layers: L, hidden: H } = model.config;
    const ts: TrainState = model.trainState ?? {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      batch,
      seq,
      bestValLoss: Infinity,
      lrScale: 1,
      optimizer: o.optimizer,
      trainTime: 0,
      adamM: new Float32Array(core.layout.size),
      adamV: new Float32Array(core.layout.size),
      h: new Float32Array(L * batch * H),
      c: new Float32Array(L * batch * H),
    };
    ts.weightDecay = o.weightDecay;
    core.load({ params: model.params, adamM: ts.adamM, adamV: ts.adamV, h: ts.h, c: ts.c });
    await core.sync();
    // A state from another text (or another validation split) may point past this epoch's end.
    const wrapped = ts.batchInEpoch >= source.batchesPerEpoch;
    if (wrapped) {
      ts.epoch++;
      ts.batchInEpoch = 0;
    }
    // While training, the model's arrays are the core's host arrays: no copy per step (on
    // WASM they are views of its memory; WebGPU copies into them when the loop syncs).
    model.params = core.params;
    ts.adamM = core.adamM;
    ts.adamV = core.adamV;
    ts.timeBudget = o.timeBudget ?? undefined;
    model.trainState = ts;

    yield {
      type: "start",
      backend: core.kind,
      step: ts.step,
      totalSteps: o.totalSteps,
      batchesPerEpoch: source.batchesPerEpoch,
      trainChars: source.trainChars,
      valChars: source.valChars,
      trainTime: ts.trainTime ?? 0,
      timeBudget: o.timeBudget,
    };
    if (wrapped) {
      yield {
        type: "note",
        message: `The saved position is past this text's ${source.batchesPerEpoch} batches per ` +
          `epoch: continuing at the start of epoch ${ts.epoch + 1}`,
      };
    }
    if (o.valFraction > 0 && source.valBatches === 0) {
      yield {
        type: "note",
        message: `Validation off: the held-out part (${source.valChars} characters) is smaller ` +
          `than one batch of ${batch} × ${seq}`,
      };
    }
    for (const message of notes) yield { type: "note", message };
    const { prime, length } = o.sampling;
    yield* trainLoop(core, ts, o, (seed) =>
      // model.params are the core's host arrays, current at a sample's step.
      sample(model, { prime, length, seed, topK: 5, threads: 1 }));
  } finally {
    // Hand the model plain arrays again so the core's memory can be freed, whenever the
    // consumer stops (a break at the first event included).
    if (model.params === core.params) model.params = core.params.slice();
    const held = model.trainState;
    if (held?.adamM === core.adamM) held.adamM = core.adamM.slice();
    if (held?.adamV === core.adamV) held.adamV = core.adamV.slice();
    core.dispose();
  }
}

/**
 * Trains `model` on `text` (see {@linkcode trainEvents}); resolves when done or aborted. The
 * model's arrays are current once it has settled (also when `onEvent` threw).
 *
 * @example Training a model
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { train } from "./train.ts";
 * const text = "the cat sat on the mat. ".repeat(100);
 * const model = createModel(text, { hidden: 32, layers: 1, dropout: 0 });
 * const result = await train(model, text, { steps: 20, batch: 8, seq: 16 });
 * console.log(result.trainLoss);
 * ```
 */
export async function train(
  model: CharModel,
  text: string,
  options: TrainOptions = {},
): Promise<TrainResult> {
  let steps = 0, epoch = 0, aborted = false;
  let valLoss: number | null = null;
  const recent: number[] = [];
  let perEpoch = 1;
  for await (const event of trainEvents(model, text, options)) {
    await options.onEvent?.(event);
    if (event.type === "start") perEpoch = event.batchesPerEpoch;
    if (event.type === "step") {
      recent.push(event.loss);
      if (recent.length > perEpoch) recent.shift();
    }
    if (event.type === "done") ({ step: steps, epoch, aborted, valLoss } = event);
  }
  const trainLoss = recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length);
  return { steps, epoch, aborted, valLoss, trainLoss };
}
