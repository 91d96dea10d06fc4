// The training loop: one optimizer step per batch, and the events around it (step, epoch,
// cycle, validation, sample, diverged, done), until the step count or the time budget is
// reached. On WebGPU it runs one step ahead: step k+1 is submitted before step k's loss is read
// back, so the wait for the read-back overlaps the GPU's work. It never runs ahead past a step
// whose state the host needs (`needsHost`), and it brings the host arrays up to date
// (`HostCopy`) at exactly those steps.

import type { Engine, StepResult } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";
import { Budget } from "./_budget.ts";
import { Divergence } from "./_divergence.ts";
import type { ResolvedOptions } from "./_options.ts";
import { cosineCycle, scheduledLr, timedCosineLr, warmupFactor } from "./schedule.ts";
import type { TrainEvent } from "./train.ts";

/** Whether the host copies of the state (model arrays, carried state) match the engine. */
class HostCopy {
  readonly #core: Engine;
  readonly #ts: TrainState;
  #current = true;

  constructor(core: Engine, ts: TrainState) {
    this.#core = core;
    this.#ts = ts;
  }

  /** After a step: WASM's arrays are views of its memory (only the carried state is copied). */
  stepped(): void {
    if (this.#core.kind === "wasm") this.#core.readCarried(this.#ts.h, this.#ts.c);
    else this.#current = false;
  }

  /** Copies the engine's state to the host arrays unless they are current. */
  async sync(): Promise<void> {
    if (this.#current) return;
    await this.#core.sync();
    this.#core.readCarried(this.#ts.h, this.#ts.c);
    this.#current = true;
  }
}

/** A step under way: its result, the learning rate it used, and whether it ends training. */
interface Submitted {
  result: Promise<StepResult>;
  lr: number;
  last: boolean;
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

/** The seed of the sample drawn after `step` steps of a run sampling with `seed`. */
export function sampleSeed(seed: number, step: number): number {
  return (seed + Math.imul(step, 0x9e3779b9)) >>> 0;
}

/**
 * Trains from `ts` (loaded into `core`, host arrays current) to `o.totalSteps` or the end of
 * `o.timeBudget`, yielding every event after `start`; `draw` gives the text of a sample from
 * the model's current arrays for a seed. When the consumer stops early, a step still running is
 * waited for and counted (or, when it was not finite, the last snapshot restored), and the host
 * arrays are brought up to date.
 */
export async function* trainLoop(
  core: Engine,
  ts: TrainState,
  o: ResolvedOptions,
  draw: (seed: number) => string,
): AsyncGenerator<TrainEvent> {
  const { source, totalSteps, signal, schedule, clock, sampling } = o;
  const perEpoch = source.batchesPerEpoch;
  const host = new HostCopy(core, ts);
  const divergence = new Divergence(core, ts, o.onDivergence);

  const step0 = ts.step;
  const budget = new Budget(clock, ts.trainTime ?? 0, o.timeBudget, {
    valEvery: o.valEvery,
    valBatches: source.valBatches,
    sampleEvery: sampling.every,
  });
  const timedCosine = o.timeBudget !== null && schedule.lrSchedule === "cosine";
  // Whether the budget holds the steps numbered first..first+count-1 and a final validation.
  const fits = (first: number, count: number) => budget.fits(first, count, ts.step - step0);

  // `last`: the step that ends training (the step count, or the budget's last step).
  const validatesAt = (step: number, last: boolean) =>
    source.valBatches > 0 && o.valEvery > 0 && (step % o.valEvery === 0 || last);
  const samplesAt = (step: number) => sampling.every > 0 && step % sampling.every === 0;
  const endsCycle = (step: number, last: boolean) =>
    schedule.lrSchedule === "cosine" &&
    (timedCosine ? last : cosineCycle(step, perEpoch, schedule).index >
      cosineCycle(step - 1, perEpoch, schedule).index);
  // Whether the host needs the state after `step` steps (the step ending at batch index
  // `batchEnd` of its epoch): events that save, validate or sample see it, and snapshots copy
  // it. (The budget's last step is known when it is submitted: nothing runs ahead of it.)
  const needsHost = (step: number, batchEnd: number) =>
    batchEnd === perEpoch || step === totalSteps || validatesAt(step, step === totalSteps) ||
    samplesAt(step) || step % o.snapshotEvery === 0 || endsCycle(step, step === totalSteps);
  // Submits the step at (step, epoch, batchInEpoch), `queued` steps being under way already.
  // It is the budget's last when the budget holds no other one after it.
  const submit = (step: number, epoch: number, batchInEpoch: number, queued = 0): Submitted => {
    const last = step + 1 === totalSteps || !fits(step + 1 - queued, queued + 2);
    if (batchInEpoch === 0 || source.independentRows) core.resetState();
    source.fill(epoch, batchInEpoch, core.inputs, core.targets);
    const lr =
      (timedCosine
        ? timedCosineLr(o.lr, budget.spent(), schedule.lrFloor)
        : scheduledLr(o.lr, step, perEpoch, schedule)) *
      warmupFactor(step, schedule.warmup ?? 0) * ts.lrScale;
    const { optimizer, momentum, weightDecay, clip, clipMode } = o;
    const result = core.trainStep({ step, optimizer, lr, momentum, weightDecay, clip, clipMode });
    result.catch(() => {}); // awaited below, or dropped with the core if the consumer stops
    return { result, lr, last };
  };
  // On WebGPU the next step goes in before this one's scalars come back (the GPU skips a
  // non-finite update by itself); never past a point where the host needs the state, nor after
  // an abort.
  const pipelined = core.kind !== "wasm";
  let ahead: Submitted | null = null;

  let lastPause = performance.now();
  let aborted = false;
  let diverged = false;
  let valLoss: number | null = null;
  let failed = false;
  // Validates after the step just taken (timed apart from the steps, for the budget's pace).
  const validation = async (): Promise<TrainEvent> => {
    const loss = await budget.validate(async () =>
      (await core.evaluateBatches(source.valBatches, source.fillVal, source.independentRows))
        .meanOfBatches
    );
    valLoss = loss;
    const best = loss < ts.bestValLoss;
    if (best) ts.bestValLoss = loss;
    return { type: "validation", step: ts.step, epoch: ts.epoch, valLoss: loss, best };
  };
  try {
    while (ts.step < totalSteps) {
      if (!ahead && signal?.aborted) {
        aborted = true;
        break;
      }
      // No time for a step at all: a resumed model whose budget is spent.
      if (!ahead && ts.step === step0 && !fits(ts.step + 1, 1)) break;
      const current = ahead ?? submit(ts.step, ts.epoch, ts.batchInEpoch);
      ahead = null;
      if (
        pipelined && !signal?.aborted && !current.last &&
        !needsHost(ts.step + 1, ts.batchInEpoch + 1)
      ) {
        ahead = submit(ts.step + 1, ts.epoch, ts.batchInEpoch + 1, 1);
      }
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
      const last = current.last;
      if (last || needsHost(ts.step, epochDone ? perEpoch : ts.batchInEpoch)) await host.sync();
      const elapsedMs = budget.elapsedMs();
      ts.trainTime = budget.trainedSeconds();
      yield {
        type: "step",
        step: ts.step,
        totalSteps,
        epoch: epochDone ? ts.epoch - 1 : ts.epoch,
        loss,
        gradNorm,
        lr: current.lr,
        charsPerSec: (ts.step - step0) * o.batch * o.seq / (elapsedMs / 1000),
        elapsedMs,
        trainTime: ts.trainTime,
      };
      if (epochDone) yield { type: "epoch", step: ts.step, epoch: ts.epoch };
      if (endsCycle(ts.step, last)) {
        const cycle = timedCosine ? 1 : cosineCycle(ts.step - 1, perEpoch, schedule).index + 1;
        yield { type: "cycle", step: ts.step, epoch: ts.epoch, cycle };
      }
      if (validatesAt(ts.step, last)) yield await validation();
      if (samplesAt(ts.step)) {
        // Its own engine and generator: training's state and randomness are not touched.
        const seed = sampleSeed(sampling.seed, ts.step);
        const text = budget.sample(() => draw(seed));
        yield { type: "sample", step: ts.step, epoch: ts.epoch, seed, text };
      }
      if (ts.step % o.snapshotEvery === 0) divergence.take();
      // Let timers and signal handlers run now and then without a macrotask per tiny step.
      if (performance.now() - lastPause > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastPause = performance.now();
      }
      if (last) break;
      if (!ahead && !fits(ts.step + 1, 1)) {
        // The budget ran short after this step went in as not the last: it is the last after
        // all, and ends training as the last step does.
        await host.sync();
        if (!validatesAt(ts.step, false) && validatesAt(ts.step, true)) yield await validation();
        if (timedCosine) yield { type: "cycle", step: ts.step, epoch: ts.epoch, cycle: 1 };
        break;
      }
    }
    await host.sync();
    yield { type: "done", step: ts.step, epoch: ts.epoch, aborted, diverged, valLoss };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // Done, or the consumer stopped early (an error in the engine leaves the state as it is).
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
