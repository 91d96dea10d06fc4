// Training's public face: `trainEvents`/`train`, which set an engine up for a model and run
// the loop of the PyTorch char-RNN tutorial on it (Adam, cross-entropy, gradient clipping,
// dropout, hidden state carried from batch to batch and reset at each epoch, validation on the
// last part of the text or on a text of its own), for a number of steps or a time budget, with
// samples along the way. The parts live beside it: the option, event and result types in
// types.ts, option checks in _options.ts, the loop in _loop.ts (what each step owes the host
// in _plan.ts), divergence in _divergence.ts, the clock in budget.ts, batches in
// ../data/sources.ts; the samples are ../sample's.

import { createEngine } from "../engine/create.ts";
import type { Corpus } from "../data/corpus.ts";
import type { CharModel, TrainState } from "../model/model.ts";
import { sample } from "../sample/sample.ts";
import { trainLoop } from "./_loop.ts";
import { resolveTrainOptions } from "./_options.ts";
import type { TrainEvent, TrainOptions, TrainResult } from "./types.ts";

export type { TrainEvent, TrainOptions, TrainResult } from "./types.ts";

/**
 * Trains `model` on `text`, yielding progress events. `text` is a string, or a
 * {@linkcode Corpus} (`openCorpus`) whose batches are read by position from its token file:
 * the same batches in the same order, so the same numbers, in memory that does not grow with
 * the text.
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
  text: string | Corpus,
  options: TrainOptions = {},
): AsyncGenerator<TrainEvent> {
  const o = resolveTrainOptions(model, text, options);
  const { batch, seq, source } = o;
  const notes: string[] = [];
  let engine;
  try {
    engine = await createEngine({ ...model.config, batch, seq }, {
      backend: o.backend,
      threads: o.threads,
      onNote: (message) => notes.push(message),
    });
  } catch (e) {
    source.close?.();
    throw e;
  }
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
      adamM: new Float32Array(engine.layout.size),
      adamV: new Float32Array(engine.layout.size),
      h: new Float32Array(L * batch * H),
      c: new Float32Array(L * batch * H),
    };
    ts.weightDecay = o.weightDecay;
    engine.load({
      params: model.params,
      firstMoment: ts.adamM,
      secondMoment: ts.adamV,
      h: ts.h,
      c: ts.c,
    });
    await engine.sync();
    // A state from another text (or another validation split) may point past this epoch's end.
    const wrapped = ts.batchInEpoch >= source.batchesPerEpoch;
    if (wrapped) {
      ts.epoch++;
      ts.batchInEpoch = 0;
    }
    // While training, the model's arrays are the engine's host arrays: no copy per step (on
    // WASM they are views of its memory; WebGPU copies into them when the loop syncs).
    model.params = engine.params;
    ts.adamM = engine.firstMoment;
    ts.adamV = engine.secondMoment;
    ts.timeBudget = o.timeBudget ?? undefined;
    model.trainState = ts;

    yield {
      type: "start",
      backend: engine.kind,
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
    // model.params are the engine's host arrays, current at a sample's step.
    const draw = (seed: number) => sample(model, { prime, length, seed, topK: 5, threads: 1 });
    yield* trainLoop(engine, ts, { ...o, draw });
  } finally {
    // Hand the model plain arrays again so the engine's memory can be freed, whenever the
    // consumer stops (a break at the first event included).
    if (model.params === engine.params) model.params = engine.params.slice();
    const held = model.trainState;
    if (held?.adamM === engine.firstMoment) held.adamM = engine.firstMoment.slice();
    if (held?.adamV === engine.secondMoment) held.adamV = engine.secondMoment.slice();
    engine.dispose();
    source.close?.(); // a corpus's token files
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
  text: string | Corpus,
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
