// What a non-finite step leads to: the last good training state, kept in memory (a snapshot
// taken every `snapshotEvery` steps while the host arrays are current), goes back into the
// engine, and training either continues from it with the learning rate halved or stops.

import type { Engine } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";
import { Snapshot } from "./_snapshot.ts";
import type { TrainEvent } from "./types.ts";

/** Restores in a row (without a snapshot in between) after which training stops anyway. */
const MAX_RESTORES = 10;

/** The last good state of one training run, and the policy that goes back to it. */
export class Divergence {
  readonly #ts: TrainState;
  readonly #stopAtOnce: boolean;
  readonly #snapshot: Snapshot;
  #restores = 0;

  /**
   * Takes the first snapshot: the engine's host arrays and `ts` must be current.
   * `onDivergence`: `restore` goes back and halves the lr, `stop` ends the run.
   */
  constructor(engine: Engine, ts: TrainState, options: { onDivergence: "restore" | "stop" }) {
    this.#ts = ts;
    this.#stopAtOnce = options.onDivergence === "stop";
    this.#snapshot = new Snapshot(engine, ts);
  }

  /** Copies the current state (host arrays current) as the one to go back to. */
  take(): void {
    this.#snapshot.take();
    this.#restores = 0;
  }

  /** Puts the snapshot back into the engine, its host arrays and `ts`. */
  restore(): void {
    this.#snapshot.restore();
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
      restoredStep: this.#snapshot.step,
      lrScale: this.#ts.lrScale,
    };
  }
}
