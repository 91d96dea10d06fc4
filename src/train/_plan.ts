// Which steps of a run owe the host something once they are taken: the end of an epoch, a
// cosine cycle that ends, a validation, a sample, a divergence snapshot. The loop syncs the
// engine's state to the host at exactly those steps (and at the last), and on WebGPU never
// submits a step ahead past one of them. Pure arithmetic on step numbers, apart from the loop.

import { cosineCycle, type ScheduleOptions } from "./schedule.ts";

/** What the plan needs to know of a run. */
export interface PlanOptions {
  batchesPerEpoch: number;
  /** The step count training stops at (Infinity when the clock decides). */
  totalSteps: number;
  /** Steps between validations (0: never). */
  valEvery: number;
  /** Validation batches (0: no validation). */
  valBatches: number;
  /** Steps between samples (0: never). */
  sampleEvery: number;
  /** Steps between divergence snapshots. */
  snapshotEvery: number;
  schedule: ScheduleOptions;
  /** Whether training goes by a time budget (a cosine schedule is then one cycle over it). */
  timed: boolean;
}

/** An event the host owes after a step, with the state current, in the order they come. */
export type HostEvent =
  | { type: "epoch" }
  | { type: "cycle"; cycle: number }
  | { type: "validation" }
  | { type: "sample" };

/** What the host does after one step. */
export interface StepWork {
  /** The events, in order: epoch, cycle, validation, sample. */
  events: HostEvent[];
  /** Whether the divergence snapshot is taken (after the events). */
  snapshot: boolean;
  /** Whether the host needs the engine's state after the step (for any of the above). */
  needsHost: boolean;
}

/** Which steps of one run need the host, and what for. */
export class StepPlan {
  readonly #o: PlanOptions;
  readonly #cosine: boolean;

  constructor(options: PlanOptions) {
    this.#o = options;
    this.#cosine = options.schedule.lrSchedule === "cosine";
  }

  /**
   * The work after the step that brings the count to `step` and ends at batch `batchEnd` of
   * its epoch (`batchesPerEpoch` when it ends the epoch); `last`: it ends training.
   */
  after(step: number, batchEnd: number, last: boolean): StepWork {
    const events: HostEvent[] = [];
    if (batchEnd === this.#o.batchesPerEpoch) events.push({ type: "epoch" });
    const cycle = this.#cycleEnded(step, last);
    if (cycle > 0) events.push({ type: "cycle", cycle });
    if (this.#validates(step, last)) events.push({ type: "validation" });
    const { sampleEvery, snapshotEvery } = this.#o;
    if (sampleEvery > 0 && step % sampleEvery === 0) events.push({ type: "sample" });
    const snapshot = step % snapshotEvery === 0;
    return { events, snapshot, needsHost: events.length > 0 || snapshot };
  }

  /**
   * Whether the host needs the state after that step, as far as the step count tells (a time
   * budget's last step is known when it is submitted, and nothing runs ahead of it).
   */
  needsHost(step: number, batchEnd: number): boolean {
    return step === this.#o.totalSteps ||
      this.after(step, batchEnd, step === this.#o.totalSteps).needsHost;
  }

  /**
   * What a step that went in as not the last still owes when it turns out to be the last (the
   * time budget ran short after it): a final validation unless it validated anyway, and the
   * end of a timed cosine cycle. In that order: it comes after the step's other events.
   */
  owedAtEnd(step: number): HostEvent[] {
    const owed: HostEvent[] = [];
    if (!this.#validates(step, false) && this.#validates(step, true)) {
      owed.push({ type: "validation" });
    }
    const cycle = this.#cycleEnded(step, true);
    if (cycle > 0 && this.#cycleEnded(step, false) === 0) owed.push({ type: "cycle", cycle });
    return owed;
  }

  // Validation every valEvery steps and after the last, when there is a held-out part.
  #validates(step: number, last: boolean): boolean {
    const { valBatches, valEvery } = this.#o;
    return valBatches > 0 && valEvery > 0 && (step % valEvery === 0 || last);
  }

  // The cosine cycle (from 1) that the step ends, 0 when none: by the clock the one cycle ends
  // at the last step, by steps a cycle ends where the next one starts.
  #cycleEnded(step: number, last: boolean): number {
    if (!this.#cosine) return 0;
    if (this.#o.timed) return last ? 1 : 0;
    const { batchesPerEpoch, schedule } = this.#o;
    const before = cosineCycle(step - 1, batchesPerEpoch, schedule).index;
    return cosineCycle(step, batchesPerEpoch, schedule).index > before ? before + 1 : 0;
  }
}
