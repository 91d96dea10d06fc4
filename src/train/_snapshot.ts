// A training state kept in memory to go back to: the engine's parameters and optimizer
// moments, the carried state, and the position in the text. Divergence goes back to the last
// good one; a run with `patience` ends at the one of its best validation.

import type { Engine } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";

/** One copy of a run's state (taken while the engine's host arrays are current). */
export class Snapshot {
  readonly #engine: Engine;
  readonly #ts: TrainState;
  readonly #params: Float32Array;
  readonly #firstMoment: Float32Array;
  readonly #secondMoment: Float32Array;
  readonly #h: Float32Array;
  readonly #c: Float32Array;
  #step = 0;
  #epoch = 0;
  #batchInEpoch = 0;

  /** Takes the first copy: the engine's host arrays and `ts` must be current. */
  constructor(engine: Engine, ts: TrainState) {
    this.#engine = engine;
    this.#ts = ts;
    this.#params = engine.params.slice();
    this.#firstMoment = engine.firstMoment.slice();
    this.#secondMoment = engine.secondMoment.slice();
    this.#h = ts.h.slice();
    this.#c = ts.c.slice();
    this.take();
  }

  /** The step count of the copy. */
  get step(): number {
    return this.#step;
  }

  /** Copies the current state (host arrays current). */
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
  }

  /** Puts the copy back into the engine, its host arrays and `ts`. */
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
}
