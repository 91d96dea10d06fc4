// The training loop: one optimizer step per batch, and the events around it (step, epoch,
// cycle, validation, sample, diverged, done), until the step count or the time budget is
// reached. On WebGPU it runs one step ahead: step k+1 is submitted before step k's loss is read
// back, so the wait for the read-back overlaps the GPU's work. It never runs ahead past a step
// whose state the host needs (`needsHost`), and it brings the host arrays up to date
// (`HostCopy`) at exactly those steps.

import type { Engine, StepResult } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";
import { Divergence } from "./_divergence.ts";
import type { ResolvedOptions } from "./_options.ts";
import { cosineCycle, scheduledLr, timedCosineLr } from "./schedule.ts";
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

  // The clock: this run's start, the model's training time before it, the budget.
  const step0 = ts.step;
  const started = clock();
  const priorMs = (ts.trainTime ?? 0) * 1000;
  const budgetMs = o.timeBudget === null ? Infinity : o.timeBudget * 1000;
  const timedCosine = o.timeBudget !== null && schedule.lrSchedule === "cosine";
  const trainedMs = () => priorMs + clock() - started;
  // Whether the budget leaves time for `steps` more steps at this run's mean pace so far
  // (everything between steps counted: validation, samples, the consumer's saves).
  const timeFor = (steps: number) => {
    const left = budgetMs - trainedMs();
    return left > 0 && left >= steps * (clock() - started) / Math.max(1, ts.step - step0);
  };

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
  // It is the budget's last when the budget has no time for another one after it.
  const submit = (step: number, epoch: number, batchInEpoch: number, queued = 0): Submitted => {
    const last = step + 1 === totalSteps || !timeFor(2 + queued);
    if (batchInEpoch === 0 || source.independentRows) core.resetState();
    source.fill(epoch, batchInEpoch, core.inputs, core.targets);
    const lr =
      (timedCosine
        ? timedCosineLr(o.lr, trainedMs() / budgetMs)
        : scheduledLr(o.lr, step, perEpoch, schedule)) * ts.lrScale;
    const { optimizer, momentum, clip, clipMode } = o;
    const result = core.trainStep({ step, optimizer, lr, momentum, clip, clipMode });
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
  try {
    while (ts.step < totalSteps) {
      if (!ahead && signal?.aborted) {
        aborted = true;
        break;
      }
      // No time for a step at all: a resumed model whose budget is spent. (Later in a run, a
      // step that found time short only after it was submitted as not the last is followed by
      // one that is: the end of training always validates.)
      if (!ahead && ts.step === step0 && !timeFor(1)) break;
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
      const elapsedMs = clock() - started;
      ts.trainTime = (priorMs + elapsedMs) / 1000;
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
      if (validatesAt(ts.step, last)) {
        valLoss = await core.evaluateBatches(
          source.valBatches,
          source.fillVal,
          source.independentRows,
        );
        const best = valLoss < ts.bestValLoss;
        if (best) ts.bestValLoss = valLoss;
        yield { type: "validation", step: ts.step, epoch: ts.epoch, valLoss, best };
      }
      if (samplesAt(ts.step)) {
        // Its own engine and generator: training's state and randomness are not touched.
        const seed = sampleSeed(sampling.seed, ts.step);
        yield { type: "sample", step: ts.step, epoch: ts.epoch, seed, text: draw(seed) };
      }
      if (ts.step % o.snapshotEvery === 0) divergence.take();
      // Let timers and signal handlers run now and then without a macrotask per tiny step.
      if (performance.now() - lastPause > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastPause = performance.now();
      }
      if (last) break;
    }
    await host.sync();
    yield { type: "done", step: ts.step, epoch: ts.epoch, aborted, diverged, valLoss };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // Done, or the consumer stopped early (an error in the engine leaves the state as it is).
    if (!failed) {
      ts.trainTime = (priorMs + clock() - started) / 1000;
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
