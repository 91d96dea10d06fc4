// The training loop: one optimizer step per batch, and the events around it (step, epoch,
// cycle, validation, sample, diverged, done), until the step count or the time budget is
// reached. On WebGPU it runs one step ahead: step k+1 is submitted before step k's loss is read
// back, so the wait for the read-back overlaps the GPU's work. Which steps the host needs (their
// events, a snapshot) is the plan's (_plan.ts) to say: the loop never runs ahead past one of
// them, and brings the host arrays up to date (`HostCopy`) at exactly those steps.

import type { Engine, StepResult } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";
import { Budget } from "./budget.ts";
import { Divergence } from "./_divergence.ts";
import type { ResolvedOptions } from "./_options.ts";
import { type HostEvent, StepPlan } from "./_plan.ts";
import { Snapshot } from "./_snapshot.ts";
import { scheduledLr, timedCosineLr, warmupFactor } from "./schedule.ts";
import type { TrainEvent } from "./types.ts";

/** The loop's options: every training option, checked, and how to draw a sample. */
export interface LoopOptions extends ResolvedOptions {
  /** The text of a sample from the model's current arrays, for a seed. */
  draw: (seed: number) => string;
}

/** The seed of the sample drawn after `step` steps of a run sampling with `seed`. */
export function sampleSeed(seed: number, step: number): number {
  return (seed + Math.imul(step, 0x9e3779b9)) >>> 0;
}

/**
 * Trains from `ts` (loaded into `engine`, host arrays current) to `o.totalSteps` or the end of
 * `o.timeBudget`, yielding every event after `start`. When the consumer stops early, a step
 * still running is waited for and counted (or, when it was not finite, the last snapshot
 * restored), and the host arrays are brought up to date.
 */
export async function* trainLoop(
  engine: Engine,
  ts: TrainState,
  o: LoopOptions,
): AsyncGenerator<TrainEvent> {
  const perEpoch = o.source.batchesPerEpoch;
  const step0 = ts.step;
  const budget = new Budget(o.clock, {
    priorSeconds: ts.trainTime ?? 0,
    budgetSeconds: o.timeBudget,
    valEvery: o.valEvery,
    valBatches: o.source.valBatches,
    sampleEvery: o.sampling.every,
    stepsDone: () => ts.step - step0,
  });
  const run: Run = { engine, ts, o, budget, valLoss: null };
  const plan = new StepPlan({
    batchesPerEpoch: perEpoch,
    totalSteps: o.totalSteps,
    valEvery: o.valEvery,
    valBatches: o.source.valBatches,
    sampleEvery: o.sampling.every,
    snapshotEvery: o.snapshotEvery,
    schedule: o.schedule,
    timed: o.timeBudget !== null,
  });
  const host = new HostCopy(engine, ts);
  const divergence = new Divergence(engine, ts, { onDivergence: o.onDivergence });
  // With patience, the state of the best validation so far (none yet: a resumed run's best may
  // lie in an earlier run).
  let best: Snapshot | null = null;
  let sinceBest = 0;
  // On WebGPU the next step goes in before this one's scalars come back (the GPU skips a
  // non-finite update by itself); never past a step whose state the host needs, nor after an
  // abort.
  const pipelined = engine.kind !== "wasm";
  let ahead: Submitted | null = null;
  let aborted = false, diverged = false, endedLate = false, failed = false, atBest = false;
  let lastPause = performance.now();
  try {
    while (ts.step < o.totalSteps) {
      if (!ahead && o.signal?.aborted) {
        aborted = true;
        break;
      }
      // No time for a step at all: a resumed model whose budget is spent.
      if (!ahead && ts.step === step0 && !budget.fits(ts.step + 1, 1)) break;

      const current: Submitted = ahead ?? submit(run, 0);
      ahead = pipelined && !o.signal?.aborted && !current.last &&
          !plan.needsHost(ts.step + 1, ts.batchInEpoch + 1)
        ? submit(run, 1)
        : null;
      const { loss, gradNorm, applied } = await current.result;
      if (!applied) {
        // The step submitted ahead ran on the old weights; the restore undoes it.
        if (ahead) await ahead.result;
        ahead = null;
        const event = divergence.diverged(ts.step + 1, loss, gradNorm);
        yield event;
        if (event.action === "stopped") {
          diverged = true;
          break;
        }
        continue;
      }

      const epochDone = advance(ts, perEpoch);
      host.stepped();
      const work = plan.after(ts.step, epochDone ? perEpoch : ts.batchInEpoch, current.last);
      if (current.last || work.needsHost) await host.sync();
      const elapsedMs = budget.elapsedMs();
      ts.trainTime = budget.trainedSeconds();
      yield {
        type: "step",
        step: ts.step,
        totalSteps: o.totalSteps,
        epoch: epochDone ? ts.epoch - 1 : ts.epoch,
        loss,
        gradNorm,
        lr: current.lr,
        charsPerSec: (ts.step - step0) * o.batch * o.seq / (elapsedMs / 1000),
        elapsedMs,
        trainTime: ts.trainTime,
      };
      for (const event of work.events) {
        const done = await hostEvent(run, event);
        yield done;
        if (done.type === "validation" && o.patience > 0) {
          // A validation step owes the host its state, so the arrays are current here.
          if (done.best) {
            if (best) best.take();
            else best = new Snapshot(engine, ts);
            sinceBest = 0;
          } else sinceBest++;
        }
      }
      if (work.snapshot) divergence.take();
      if (o.patience > 0 && sinceBest >= o.patience) {
        atBest = true;
        break;
      }

      // Let timers and signal handlers run now and then without a macrotask per tiny step.
      if (performance.now() - lastPause > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastPause = performance.now();
      }
      if (current.last) break;
      // The budget ran short after this step went in as not the last (the consumer's work
      // included): it is the last after all.
      if (!ahead && !budget.fits(ts.step + 1, 1)) {
        endedLate = true;
        break;
      }
    }

    // The end of the run, however it ended.
    await host.sync();
    if (endedLate) {
      for (const event of plan.owedAtEnd(ts.step)) yield await hostEvent(run, event);
    }
    // A run with patience ends at its best validation, however else it ended (unless stopped
    // by its consumer or by divergence: then it stays where it is).
    if (best && !aborted && !diverged && best.step !== ts.step) {
      const from = ts.step;
      best.restore();
      run.valLoss = ts.bestValLoss;
      yield {
        type: "note",
        message: `${atBest ? "stopped at" : "ended at"} the best validation: step ` +
          `${ts.step}'s state (validation loss ${ts.bestValLoss.toFixed(4)}), not step ${from}'s` +
          (atBest ? ` (${o.patience} validations without a better one)` : ""),
      };
    }
    const { valLoss } = run;
    yield { type: "done", step: ts.step, epoch: ts.epoch, aborted, diverged, valLoss };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // Done, or the consumer stopped early (an error in the engine leaves the state as it is):
    // the time counts, and so does a step still running (not finite: the snapshot goes back).
    if (!failed) {
      ts.trainTime = budget.trainedSeconds();
      if (ahead) {
        const { applied } = await ahead.result;
        if (applied) {
          advance(ts, perEpoch);
          host.stepped();
        } else divergence.restore();
      }
      await host.sync();
    }
  }
}

/** One run of the loop: its engine and state, its options and clock, and its last val loss. */
interface Run {
  readonly engine: Engine;
  readonly ts: TrainState;
  readonly o: LoopOptions;
  readonly budget: Budget;
  valLoss: number | null;
}

/** A step under way: its result, the learning rate it used, and whether it ends training. */
interface Submitted {
  result: Promise<StepResult>;
  lr: number;
  last: boolean;
}

/**
 * Submits the next step (`queued` = 1: the one after it, the next being under way), with its
 * batch and learning rate. It is the last when it reaches the step count, or when the budget
 * holds no other step after it (and the final validation).
 */
function submit(run: Run, queued: 0 | 1): Submitted {
  const { engine, ts, o, budget } = run;
  const step = ts.step + queued, batchInEpoch = ts.batchInEpoch + queued;
  const last = step + 1 === o.totalSteps || !budget.fits(step + 1 - queued, queued + 2);
  if (batchInEpoch === 0 || o.source.independentRows) engine.resetState();
  o.source.fill(ts.epoch, batchInEpoch, engine.inputs, engine.targets);
  const { schedule } = o;
  const scheduled = o.timeBudget !== null && schedule.lrSchedule === "cosine"
    ? timedCosineLr(o.lr, budget.spent(), schedule.lrFloor)
    : scheduledLr(o.lr, step, o.source.batchesPerEpoch, schedule);
  const lr = scheduled * warmupFactor(step, schedule.warmup ?? 0) * ts.lrScale;
  const { optimizer, momentum, weightDecay, clip, clipMode } = o;
  const result = engine.trainStep({ step, optimizer, lr, momentum, weightDecay, clip, clipMode });
  result.catch(() => {}); // awaited by the loop, or dropped with the engine if the consumer stops
  return { result, lr, last };
}

/** Does what the plan says the host owes after the step just taken, and says so. */
async function hostEvent(run: Run, event: HostEvent): Promise<TrainEvent> {
  const { engine, ts, o, budget } = run;
  const { step, epoch } = ts;
  switch (event.type) {
    case "epoch":
      return { type: "epoch", step, epoch };
    case "cycle":
      return { type: "cycle", step, epoch, cycle: event.cycle };
    case "validation": {
      // Timed apart from the steps, for the budget's pace.
      const { source } = o;
      const valLoss = await budget.validate(async () =>
        (await engine.evaluateBatches(source.valBatches, source.fillVal, source.independentRows))
          .meanOfBatches
      );
      run.valLoss = valLoss;
      const best = valLoss < ts.bestValLoss;
      if (best) ts.bestValLoss = valLoss;
      return { type: "validation", step, epoch, valLoss, best };
    }
    case "sample": {
      // Its own engine and generator: training's state and randomness are not touched.
      const seed = sampleSeed(o.sampling.seed, step);
      const text = budget.sample(() => o.draw(seed));
      return { type: "sample", step, epoch, seed, text };
    }
  }
}

/** Counts a step that was applied; true when it ended an epoch (the position rolls over). */
function advance(ts: TrainState, batchesPerEpoch: number): boolean {
  ts.step++;
  ts.batchInEpoch++;
  // Roll over before anyone sees the state: a checkpoint never holds batchInEpoch at the end
  // of an epoch.
  if (ts.batchInEpoch < batchesPerEpoch) return false;
  ts.epoch++;
  ts.batchInEpoch = 0;
  return true;
}

/** Whether the host copies of the state (model arrays, carried state) match the engine. */
class HostCopy {
  readonly #engine: Engine;
  readonly #ts: TrainState;
  #current = true;

  constructor(engine: Engine, ts: TrainState) {
    this.#engine = engine;
    this.#ts = ts;
  }

  /** After a step: WASM's arrays are views of its memory (only the carried state is copied). */
  stepped(): void {
    if (this.#engine.kind === "wasm") this.#engine.readCarried(this.#ts.h, this.#ts.c);
    else this.#current = false;
  }

  /** Copies the engine's state to the host arrays unless they are current. */
  async sync(): Promise<void> {
    if (this.#current) return;
    await this.#engine.sync();
    this.#engine.readCarried(this.#ts.h, this.#ts.c);
    this.#current = true;
  }
}
