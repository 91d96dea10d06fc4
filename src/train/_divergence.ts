// What a non-finite step leads to: the last good training state, kept in memory (a snapshot
// taken every `snapshotEvery` steps while the host arrays are current), goes back into the
// engine, and training either continues from it with the learning rate halved or stops.

import type { Engine } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";
import type { TrainEvent } from "./types.ts";

/** Restores in a row (without a snapshot in between) after which training stops anyway. */
const MAX_RESTORES = 10;

/** The last good state of one training run, and the policy that goes back to it. */
export class Divergence {
  readonly #engine: Engine;
  readonly #ts: TrainState;
  readonly #stopAtOnce: boolean;
  readonly #params: Float32Array;
  readonly #firstMoment: Float32Array;
  readonly #secondMoment: Float32Array;
  readonly #h: Float32Array;
  readonly #c: Float32Array;
  #step = 0;
  #epoch = 0;
  #batchInEpoch = 0;
  #restores = 0;

  /**
   * Takes the first snapshot: the engine's host arrays and `ts` must be current.
   * `onDivergence`: `restore` goes back and halves the lr, `stop` ends the run.
   */
  constructor(engine: Engine, ts: TrainState, options: { onDivergence: "restore" | "stop" }) {
    this.#engine = engine;
    this.#ts = ts;
    this.#stopAtOnce = options.onDivergence === "stop";
    this.#params = engine.params.slice();
    this.#firstMoment = engine.firstMoment.slice();
    this.#secondMoment = engine.secondMoment.slice();
    this.#h = ts.h.slice();
    this.#c = ts.c.slice();
    this.take();
  }

  /** Copies the current state (host arrays current) as the one to go back to. */
  take(): void {
    const engine = this.#engine, ts = this.#ts;
    this.#params.set(engine.params);
    this.#firstMoment.set(engine.firstMoment);
    this.#secondMoment.set(engine.secondMoment);
    this.#h.set(ts.h);
    this.#c.set(ts.c);
    this.#step = ts.step;
    this.#epoch = ts.epoch;
    this.#batchInEpoch = ts.batchInEpoch;
    this.#restores = 0;
  }

  /** Puts the snapshot back into the engine, its host arrays and `ts`. */
  restore(): void {
    const ts = this.#ts;
    ts.h.set(this.#h);
    ts.c.set(this.#c);
    ts.step = this.#step;
    ts.epoch = this.#epoch;
    ts.batchInEpoch = this.#batchInEpoch;
    this.#engine.load({
      params: this.#params,
      firstMoment: this.#firstMoment,
      secondMoment: this.#secondMoment,
      h: ts.h,
      c: ts.c,
    });
  }

  /**
   * Handles step `failedStep`, whose loss or gradient norm was not finite (it was not applied):
   * goes back to the snapshot and, unless the run stops, halves the learning rate.
   */
  diverged(failedStep: number, loss: number, gradNorm: number): TrainEvent & { type: "diverged" } {
    const stop = this.#stopAtOnce || this.#restores >= MAX_RESTORES;
    this.restore();
    if (!stop) {
      this.#ts.lrScale *= 0.5;
      this.#restores++;
    }
    return {
      type: "diverged",
      step: failedStep,
      loss,
      gradNorm,
      action: stop ? "stopped" : "restored",
      restoredStep: this.#step,
      lrScale: this.#ts.lrScale,
    };
  }
}
