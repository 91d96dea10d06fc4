// The training loop of the PyTorch char-RNN tutorial, on the WASM core: Adam, cross-entropy,
// gradient clipping by global norm, dropout, hidden state carried from batch to batch and reset
// at each epoch (truncated BPTT), validation on the last part of the text with its own carried
// state and dropout off.

import type { BackendChoice } from "../engine/engine.ts";
import { createEngine } from "../engine/create.ts";
import { batchCount, getBatch, splitValidation } from "../data/batches.ts";
import { getLineBatch, linePermutation, splitLines } from "../data/lines.ts";
import type { CharModel, TrainState } from "../model/model.ts";
import { defaultThreads } from "../engine/threads.ts";
import { cosineCycle, scheduledLr, type ScheduleOptions, validateSchedule } from "./schedule.ts";

/** Options for {@linkcode train} and {@linkcode trainEvents}. */
export interface TrainOptions extends ScheduleOptions {
  /** `adam` (default) or `sgd` (with optional `momentum`). */
  optimizer?: "adam" | "sgd";
  /** SGD momentum (default 0). */
  momentum?: number;
  /** `norm`: rescale to global L2 norm `clip` (default); `value`: clamp each to [-clip, clip]. */
  clipMode?: "norm" | "value";
  /** Passes over the training text (default 10); ignored when `steps` is given. */
  epochs?: number;
  /** Stop once the model has taken this many optimizer steps in all (overrides epochs). */
  steps?: number;
  /** Sequences per batch (default 32). */
  batch?: number;
  /** Characters per sequence (default 100; in line mode, the longest line plus one). */
  seq?: number;
  /**
   * Line mode: every line is one sequence from a zero state, lines shuffled each epoch, the
   * last tenth of the lines (valFraction) held out (default false).
   */
  lines?: boolean;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Clip gradients to this global L2 norm (default 5; 0 disables). */
  clip?: number;
  /** Fraction of the text, taken from its end, held out for validation (default 0.1). */
  valFraction?: number;
  /** Validate every this many steps and after the last (default 100; 0 = never). */
  valEvery?: number;
  /**
   * What a non-finite loss or gradient norm does (the step is never applied): `restore` goes
   * back to the last good snapshot with the learning rate halved (default), `stop` ends the run.
   */
  onDivergence?: "restore" | "stop";
  /** Take the in-memory snapshot that divergence restores every this many steps (default 100). */
  snapshotEvery?: number;
  /** Threads for the WASM core (default: the number of cores). Results do not depend on it. */
  threads?: number;
  /**
   * The engine: `wasm`, `webgpu`, or `auto` (default `auto`:
   * WebGPU on a hardware adapter for large batches, WASM otherwise). On WebGPU the model's
   * arrays (parameters, moments, carried state) are copied back from the GPU before every
   * validation, epoch, cycle, diverged and done event and every `snapshotEvery` steps, not after
   * every step.
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
    totalSteps: number;
    batchesPerEpoch: number;
    trainChars: number;
    valChars: number;
  }
  | {
    type: "step";
    step: number;
    totalSteps: number;
    epoch: number;
    loss: number;
    gradNorm: number;
    /** Learning rate the step used (schedule and divergence halving applied). */
    lr: number;
    charsPerSec: number;
    elapsedMs: number;
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
      `Invalid option: ${name} must be ${allowed.join(" or ")}, got ${String(value)}`,
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
 * Trains `model` on `text`, yielding progress events; the model's parameters and training
 * state reflect the latest step whenever an event is observed (save it then to checkpoint).
 *
 * @example
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
  const batch = positiveInt("batch", options.batch ?? 32);
  const lr = nonNegative("lr", options.lr ?? 1e-3);
  const clip = nonNegative("clip", options.clip ?? 5);
  const valFraction = fraction("valFraction", options.valFraction ?? 0.1);
  const optimizer = oneOf("optimizer", options.optimizer ?? "adam", ["adam", "sgd"] as const);
  const momentum = fraction("momentum", options.momentum ?? 0);
  const clipMode = oneOf("clipMode", options.clipMode ?? "norm", ["norm", "value"] as const);
  validateSchedule(options);
  const onDivergence = oneOf(
    "onDivergence",
    options.onDivergence ?? "restore",
    ["restore", "stop"] as const,
  );
  const snapshotEvery = positiveInt("snapshotEvery", options.snapshotEvery ?? 100);
  const valEvery = options.valEvery ?? 100;
  if (!Number.isInteger(valEvery) || valEvery < 0) {
    throw new RangeError(`Invalid option: valEvery must be an integer ≥ 0, got ${valEvery}`);
  }
  const source = options.lines
    ? lineSource(model, text, options.seq, batch, valFraction, model.config.seed)
    : streamSource(model, text, positiveInt("seq", options.seq ?? 100), batch, valFraction);
  const { seq, batchesPerEpoch, valBatches } = source;
  if (batchesPerEpoch === 0 && options.lines) {
    throw new RangeError(
      `Corpus too short: no training lines` +
        (valFraction > 0 ? ` after holding out ${valFraction * 100}% for validation` : "") +
        `: line mode needs non-empty lines`,
    );
  }
  if (batchesPerEpoch === 0) {
    throw new RangeError(
      `Corpus too short: ${source.trainSize}` +
        (valFraction > 0 ? ` (after holding out ${valFraction * 100}% for validation)` : "") +
        `, but one batch of ${batch} × ${seq} needs ${batch * seq}: ` +
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
  const step0 = state?.step ?? 0;
  const totalSteps = options.steps !== undefined
    ? positiveInt("steps", options.steps)
    : positiveInt("epochs", options.epochs ?? 10) * batchesPerEpoch;

  const notes: string[] = [];
  const core = await createEngine({ ...model.config, batch, seq }, {
    backend: options.backend,
    threads: options.threads ?? defaultThreads(),
    onNote: (message) => notes.push(message),
  });
  try {
    const { layers: L, hidden: H } = model.config;
    const stateSize = batch * H;
    const ts: TrainState = state ?? {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      batch,
      seq,
      bestValLoss: Infinity,
      lrScale: 1,
      optimizer,
      adamM: new Float32Array(core.layout.size),
      adamV: new Float32Array(core.layout.size),
      h: new Float32Array(L * stateSize),
      c: new Float32Array(L * stateSize),
    };
    core.load({ params: model.params, adamM: ts.adamM, adamV: ts.adamV, h: ts.h, c: ts.c });
    await core.sync();
    const loadCarried = () => core.load({ h: ts.h, c: ts.c });
    const saveCarried = () => core.readCarried(ts.h, ts.c);
    // WASM's arrays are views of its memory; WebGPU's are copied back at these points only.
    const hostEveryStep = core.kind === "wasm";
    const syncHost = async () => {
      if (hostEveryStep) return;
      await core.sync();
      saveCarried();
    };
    // A state from another text (or another validation split) may point past this epoch's end.
    const wrapped = ts.batchInEpoch >= batchesPerEpoch;
    if (wrapped) {
      ts.epoch++;
      ts.batchInEpoch = 0;
    }
    // While training, the model's arrays are views of the core's memory: no copy per step.
    model.params = core.params;
    ts.adamM = core.adamM;
    ts.adamV = core.adamV;
    model.trainState = ts;

    const validate = (): Promise<number> =>
      core.evaluateBatches(valBatches, source.fillVal, source.independentRows);

    yield {
      type: "start",
      backend: core.kind,
      step: ts.step,
      totalSteps,
      batchesPerEpoch,
      trainChars: source.trainChars,
      valChars: source.valChars,
    };
    if (wrapped) {
      yield {
        type: "note",
        message: `The saved position is past this text's ${batchesPerEpoch} batches per epoch: ` +
          `continuing at the start of epoch ${ts.epoch + 1}`,
      };
    }
    if (valFraction > 0 && valBatches === 0) {
      yield {
        type: "note",
        message: `Validation off: the held-out part (${source.valChars} characters) is smaller ` +
          `than one batch of ${batch} × ${seq}`,
      };
    }
    for (const message of notes) yield { type: "note", message };

    // The last good state, in memory: what a divergence goes back to.
    const snapshot = {
      params: core.params.slice(),
      adamM: core.adamM.slice(),
      adamV: core.adamV.slice(),
      h: ts.h.slice(),
      c: ts.c.slice(),
      step: ts.step,
      epoch: ts.epoch,
      batchInEpoch: ts.batchInEpoch,
    };
    const takeSnapshot = () => {
      snapshot.params.set(core.params);
      snapshot.adamM.set(core.adamM);
      snapshot.adamV.set(core.adamV);
      snapshot.h.set(ts.h);
      snapshot.c.set(ts.c);
      ({ step: snapshot.step, epoch: snapshot.epoch, batchInEpoch: snapshot.batchInEpoch } = ts);
    };
    const restoreSnapshot = () => {
      core.load({ params: snapshot.params, adamM: snapshot.adamM, adamV: snapshot.adamV });
      ts.h.set(snapshot.h);
      ts.c.set(snapshot.c);
      ({ step: ts.step, epoch: ts.epoch, batchInEpoch: ts.batchInEpoch } = snapshot);
      loadCarried();
    };
    const MAX_RESTORES = 10;
    let restores = 0;

    const validatesAt = (step: number) =>
      valBatches > 0 && valEvery > 0 && (step % valEvery === 0 || step === totalSteps);
    const endsCycle = (step: number) =>
      options.lrSchedule === "cosine" &&
      cosineCycle(step, batchesPerEpoch, options).index >
        cosineCycle(step - 1, batchesPerEpoch, options).index;
    // Whether the host needs the state after `step` steps (the step ending at batch index
    // `batchEnd` of its epoch): events that save or validate see it, and snapshots copy it.
    const needsHost = (step: number, batchEnd: number) =>
      batchEnd === batchesPerEpoch || step === totalSteps || validatesAt(step) ||
      step % snapshotEvery === 0 || endsCycle(step);
    // Submits the step at (step, epoch, batchInEpoch) and returns its result's promise.
    const submit = (step: number, epoch: number, batchInEpoch: number) => {
      if (batchInEpoch === 0 || source.independentRows) core.resetState();
      source.fill(epoch, batchInEpoch, core.inputs, core.targets);
      const stepLr = scheduledLr(lr, step, batchesPerEpoch, options) * ts.lrScale;
      const result = core.trainStep({ step, optimizer, lr: stepLr, momentum, clip, clipMode });
      result.catch(() => {}); // awaited below, or dropped with the core if the consumer stops
      return { result, lr: stepLr };
    };
    // On WebGPU the next step is submitted before this one's scalars come back, so the
    // read-back wait overlaps the GPU's work (the GPU skips a non-finite update by itself).
    // Never past a point where the host needs the state, nor after an abort.
    const pipelined = core.kind !== "wasm";
    let ahead: ReturnType<typeof submit> | null = null;

    const started = performance.now();
    let lastYield = started;
    let aborted = false;
    let diverged = false;
    let valLoss: number | null = null;
    while (ts.step < totalSteps) {
      if (!ahead && options.signal?.aborted) {
        aborted = true;
        break;
      }
      const current = ahead ?? submit(ts.step, ts.epoch, ts.batchInEpoch);
      ahead = null;
      if (
        pipelined && !options.signal?.aborted && !needsHost(ts.step + 1, ts.batchInEpoch + 1)
      ) {
        ahead = submit(ts.step + 1, ts.epoch, ts.batchInEpoch + 1);
      }
      const { loss, gradNorm, applied } = await current.result;
      const stepLr = current.lr;
      if (!applied) {
        // The step submitted ahead ran on the old weights; the restore below undoes it.
        if (ahead) await ahead.result;
        ahead = null;
        // Never apply a non-finite step: the weights stay as they were.
        const failedStep = ts.step + 1;
        const stop = onDivergence === "stop" || restores >= MAX_RESTORES;
        // Either way the model goes back to its last good state.
        restoreSnapshot();
        if (!stop) {
          ts.lrScale *= 0.5;
          restores++;
        }
        yield {
          type: "diverged",
          step: failedStep,
          loss,
          gradNorm,
          action: stop ? "stopped" : "restored",
          restoredStep: snapshot.step,
          lrScale: ts.lrScale,
        };
        if (stop) {
          diverged = true;
          break;
        }
        continue;
      }
      ts.step++;
      if (hostEveryStep) saveCarried();
      ts.batchInEpoch++;
      // Roll over before anyone sees the state: a checkpoint never holds batchInEpoch at the
      // end of an epoch.
      const epochDone = ts.batchInEpoch === batchesPerEpoch;
      if (epochDone) {
        ts.epoch++;
        ts.batchInEpoch = 0;
      }
      const validating = validatesAt(ts.step);
      if (needsHost(ts.step, epochDone ? batchesPerEpoch : ts.batchInEpoch)) await syncHost();
      const elapsedMs = performance.now() - started;
      yield {
        type: "step",
        step: ts.step,
        totalSteps,
        epoch: epochDone ? ts.epoch - 1 : ts.epoch,
        loss,
        gradNorm,
        lr: stepLr,
        charsPerSec: (ts.step - step0) * batch * seq / (elapsedMs / 1000),
        elapsedMs,
      };
      if (epochDone) yield { type: "epoch", step: ts.step, epoch: ts.epoch };
      if (endsCycle(ts.step)) {
        const cycle = cosineCycle(ts.step - 1, batchesPerEpoch, options).index + 1;
        yield { type: "cycle", step: ts.step, epoch: ts.epoch, cycle };
      }
      if (validating) {
        valLoss = await validate();
        const best = valLoss < ts.bestValLoss;
        if (best) ts.bestValLoss = valLoss;
        yield { type: "validation", step: ts.step, epoch: ts.epoch, valLoss, best };
      }
      if (ts.step % snapshotEvery === 0) {
        takeSnapshot();
        restores = 0;
      }
      // Let timers and signal handlers run now and then without a macrotask per tiny step.
      if (performance.now() - lastYield > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
      }
    }
    await syncHost();
    yield { type: "done", step: ts.step, epoch: ts.epoch, aborted, diverged, valLoss };
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

/** Where batches come from: the text as B parallel streams, or its lines. */
interface BatchSource {
  seq: number;
  batchesPerEpoch: number;
  valBatches: number;
  /** Rows are separate examples: every batch starts from a zero state. */
  independentRows: boolean;
  trainSize: string;
  trainChars: number;
  valChars: number;
  fill(epoch: number, index: number, x: Int32Array, y: Int32Array): void;
  fillVal: (index: number, x: Int32Array, y: Int32Array) => void;
}

function streamSource(
  model: CharModel,
  text: string,
  seq: number,
  batch: number,
  valFraction: number,
): BatchSource {
  const { train, val } = splitValidation(model.vocab.encode(text), valFraction);
  return {
    seq,
    batchesPerEpoch: batchCount(train.length, batch, seq),
    valBatches: batchCount(val.length, batch, seq),
    independentRows: false,
    trainSize: `${train.length} training characters`,
    trainChars: train.length,
    valChars: val.length,
    fill: (_epoch, index, x, y) => getBatch(train, batch, seq, index, x, y),
    fillVal: (index, x, y) => getBatch(val, batch, seq, index, x, y),
  };
}

function lineSource(
  model: CharModel,
  text: string,
  seqOption: number | undefined,
  batch: number,
  valFraction: number,
  seed: number,
): BatchSource {
  const newline = model.vocab.indexOf("\n");
  if (newline < 0) {
    throw new RangeError(
      'Line mode needs newlines: the model\'s vocabulary has no "\\n": train on a text of lines',
    );
  }
  const all = splitLines(text).map((line) => model.vocab.encode(line));
  const cut = Math.floor(all.length * (1 - valFraction));
  const train = all.slice(0, cut), val = all.slice(cut);
  const longest = all.reduce((m, l) => Math.max(m, l.length), 0);
  const seq = positiveInt("seq", seqOption ?? longest + 1);
  const valOrder = Uint32Array.from(val.keys());
  let orderEpoch = -1;
  let order: Uint32Array = new Uint32Array();
  const count = (lines: Int32Array[]) => lines.reduce((n, l) => n + l.length + 1, 0);
  return {
    seq,
    batchesPerEpoch: Math.ceil(train.length / batch),
    valBatches: Math.ceil(val.length / batch),
    independentRows: true,
    trainSize: `${train.length} training lines`,
    trainChars: count(train),
    valChars: count(val),
    fill: (epoch, index, x, y) => {
      if (epoch !== orderEpoch) {
        order = linePermutation(train.length, seed, epoch);
        orderEpoch = epoch;
      }
      getLineBatch(train, order, batch, seq, index, newline, x, y);
    },
    fillVal: (index, x, y) => getLineBatch(val, valOrder, batch, seq, index, newline, x, y),
  };
}

/**
 * Trains `model` on `text` (see {@linkcode trainEvents}); resolves when done or aborted.
 *
 * @example
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
