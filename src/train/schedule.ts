// Learning-rate schedules of the lessons: constant, step decay, and cosine annealing with warm
// restarts (fast.ai's CosAnneal with cycle_mult: each cycle anneals from lr to 0 over
// cycleLen·cycleMult^k epochs, then restarts); under a time budget, cosine is one cycle over the
// budget's seconds.

/** How the learning rate moves during training. */
export interface ScheduleOptions {
  /** `constant` (default), `step` (× lrGamma every lrStepEvery steps) or `cosine`. */
  lrSchedule?: "constant" | "step" | "cosine";
  /** Steps between decays for `step` (default 1000). */
  lrStepEvery?: number;
  /** Decay factor for `step` (default 0.5). */
  lrGamma?: number;
  /** First cycle's length in epochs for `cosine` (default 1). */
  cycleLen?: number;
  /** Each cycle is this many times longer than the last, for `cosine` (default 1). */
  cycleMult?: number;
  /**
   * Linear warm-up: step s (from 0) of the first `warmup` steps uses the scheduled lr times
   * (s + 1) / warmup (default 0: none). It keeps Adam's first, poorly estimated, updates small.
   */
  warmup?: number;
  /**
   * Where a cosine schedule ends, as a fraction of `lr` (default 0): the cosine runs from lr
   * down to lr·lrFloor instead of to 0.
   */
  lrFloor?: number;
}

/** The defaults of {@linkcode ScheduleOptions}: their one home. */
export const SCHEDULE_DEFAULTS = {
  lrSchedule: "constant",
  lrStepEvery: 1000,
  lrGamma: 0.5,
  cycleLen: 1,
  cycleMult: 1,
  warmup: 0,
  lrFloor: 0,
} as const;

/** Throws a RangeError naming the first schedule option that is not usable. */
export function validateSchedule(o: ScheduleOptions): void {
  const kind = o.lrSchedule ?? SCHEDULE_DEFAULTS.lrSchedule;
  if (kind !== "constant" && kind !== "step" && kind !== "cosine") {
    throw new RangeError(
      `Invalid option: lrSchedule must be constant, step or cosine, got ${String(kind)}`,
    );
  }
  const every = o.lrStepEvery ?? SCHEDULE_DEFAULTS.lrStepEvery;
  if (!Number.isInteger(every) || every < 1) {
    throw new RangeError(`Invalid option: lrStepEvery must be a positive integer, got ${every}`);
  }
  const gamma = o.lrGamma ?? SCHEDULE_DEFAULTS.lrGamma;
  if (!(gamma > 0 && gamma <= 1)) {
    throw new RangeError(`Invalid option: lrGamma must be in (0, 1], got ${gamma}`);
  }
  const len = o.cycleLen ?? SCHEDULE_DEFAULTS.cycleLen;
  if (!(len > 0) || !Number.isFinite(len)) {
    throw new RangeError(
      `Invalid option: cycleLen must be a positive number of epochs, got ${len}`,
    );
  }
  const mult = o.cycleMult ?? SCHEDULE_DEFAULTS.cycleMult;
  if (!(mult >= 1) || !Number.isFinite(mult)) {
    throw new RangeError(`Invalid option: cycleMult must be ≥ 1, got ${mult}`);
  }
  const warmup = o.warmup ?? SCHEDULE_DEFAULTS.warmup;
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new RangeError(`Invalid option: warmup must be an integer ≥ 0, got ${warmup}`);
  }
  const floor = o.lrFloor ?? SCHEDULE_DEFAULTS.lrFloor;
  if (!(floor >= 0 && floor <= 1)) {
    throw new RangeError(`Invalid option: lrFloor must be in [0, 1], got ${floor}`);
  }
}

/**
 * The warm-up factor of the step with 0-based index `step`: (step + 1) / warmup during the
 * first `warmup` steps, 1 after.
 *
 * @example Warming up over 4 steps
 * ```ts
 * import { warmupFactor } from "./schedule.ts";
 * console.log([0, 1, 3, 9].map((s) => warmupFactor(s, 4))); // [0.25, 0.5, 1, 1]
 * ```
 */
export function warmupFactor(step: number, warmup: number): number {
  return warmup > 0 && step < warmup ? (step + 1) / warmup : 1;
}

/**
 * The learning rate for the step with 0-based index `step` (the step about to be taken).
 *
 * @example The learning rate of a step
 * ```ts
 * import { scheduledLr } from "./schedule.ts";
 * // Cosine with restarts, cycles of 1 then 2 epochs of 10 batches: lr 0.01 at the restarts.
 * console.log(scheduledLr(0.01, 10, 10, { lrSchedule: "cosine", cycleMult: 2 })); // 0.01
 * ```
 */
export function scheduledLr(
  lr: number,
  step: number,
  batchesPerEpoch: number,
  o: ScheduleOptions = {},
): number {
  const d = SCHEDULE_DEFAULTS;
  switch (o.lrSchedule ?? d.lrSchedule) {
    case "constant":
      return lr;
    case "step":
      return lr * (o.lrGamma ?? d.lrGamma) ** Math.floor(step / (o.lrStepEvery ?? d.lrStepEvery));
    case "cosine": {
      const { start, len } = cosineCycle(step, batchesPerEpoch, o);
      const epochs = step / batchesPerEpoch;
      const floor = o.lrFloor ?? d.lrFloor;
      const cos = 0.5 * (1 + Math.cos(Math.PI * Math.max(0, epochs - start) / len));
      return lr * (floor + (1 - floor) * cos);
    }
  }
}

/**
 * The cosine cycle that the step with 0-based index `step` belongs to: its number (from 0),
 * first epoch and length in epochs. A cycle has ended once the next step's `index` is higher.
 *
 * @example Where a step lies in its cosine cycle
 * ```ts
 * import { cosineCycle } from "./schedule.ts";
 * // Cycles of 1, 2, 4 epochs of 10 batches: step 30 starts the third.
 * console.log(cosineCycle(30, 10, { lrSchedule: "cosine", cycleMult: 2 })); // { index: 2, start: 3, len: 4 }
 * ```
 */
export function cosineCycle(
  step: number,
  batchesPerEpoch: number,
  o: ScheduleOptions = {},
): { index: number; start: number; len: number } {
  const epochs = step / batchesPerEpoch;
  let start = 0, len = o.cycleLen ?? SCHEDULE_DEFAULTS.cycleLen, index = 0;
  const mult = o.cycleMult ?? SCHEDULE_DEFAULTS.cycleMult;
  // A small tolerance keeps a restart exactly at its step despite float division.
  while (epochs >= start + len - 1e-9) {
    start += len;
    len *= mult;
    index++;
  }
  return { index, start, len };
}

/**
 * The cosine schedule of a run with a time budget: one cycle from `lr` at the start to
 * `lr·lrFloor` (default 0) at the end of the budget, `fraction` being the part of the budget
 * spent (clamped to [0, 1]).
 *
 * @example
 * ```ts
 * import { timedCosineLr } from "./schedule.ts";
 * console.log(timedCosineLr(0.01, 0.5)); // 0.005: half the budget spent
 * console.log(timedCosineLr(0.01, 1)); // 0: the end of the budget
 * console.log(timedCosineLr(0.01, 1, 0.1)); // 0.001: the floor
 * ```
 */
export function timedCosineLr(lr: number, fraction: number, lrFloor = 0): number {
  const f = Math.min(1, Math.max(0, fraction));
  return f >= 1 ? lr * lrFloor : lr * (lrFloor + (1 - lrFloor) * 0.5 * (1 + Math.cos(Math.PI * f)));
}
