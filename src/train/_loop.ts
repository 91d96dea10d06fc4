// The training loop: one optimizer step per batch, and the events around it (step, epoch,
// cycle, validation, diverged, done). On WebGPU it runs one step ahead: step k+1 is submitted
// before step k's loss is read back, so the wait for the read-back overlaps the GPU's work.
// It never runs ahead past a step whose state the host needs (`needsHost`), and it brings the
// host arrays up to date (`HostCopy`) at exactly those steps.

import type { Engine, StepResult } from "../engine/engine.ts";
import type { TrainState } from "../model/model.ts";
import { Divergence } from "./_divergence.ts";
import type { ResolvedOptions } from "./_options.ts";
import { cosineCycle, scheduledLr } from "./schedule.ts";
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

/** A step under way: its result, and the learning rate it used. */
interface Submitted {
  result: Promise<StepResult>;
  lr: number;
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

/**
 * Trains from `ts` (loaded into `core`, host arrays current) to `o.totalSteps`, yielding every
 * event after `start`. When the consumer stops early, a step still running is waited for and
 * counted (or, when it was not finite, the last snapshot restored), and the host arrays are
 * brought up to date.
 */
export async function* trainLoop(
  core: Engine,
  ts: TrainState,
  o: ResolvedOptions,
): AsyncGenerator<TrainEvent> {
  const { source, totalSteps, signal, schedule } = o;
  const perEpoch = source.batchesPerEpoch;
  const host = new HostCopy(core, ts);
  const divergence = new Divergence(core, ts, o.onDivergence);

  const validatesAt = (step: number) =>
    source.valBatches > 0 && o.valEvery > 0 && (step % o.valEvery === 0 || step === totalSteps);
  const endsCycle = (step: number) =>
    schedule.lrSchedule === "cosine" &&
    cosineCycle(step, perEpoch, schedule).index > cosineCycle(step - 1, perEpoch, schedule).index;
  // Whether the host needs the state after `step` steps (the step ending at batch index
  // `batchEnd` of its epoch): events that save or validate see it, and snapshots copy it.
  const needsHost = (step: number, batchEnd: number) =>
    batchEnd === perEpoch || step === totalSteps || validatesAt(step) ||
    step % o.snapshotEvery === 0 || endsCycle(step);
  // Submits the step at (step, epoch, batchInEpoch).
  const submit = (step: number, epoch: number, batchInEpoch: number): Submitted => {
    if (batchInEpoch === 0 || source.independentRows) core.resetState();
    source.fill(epoch, batchInEpoch, core.inputs, core.targets);
    const lr = scheduledLr(o.lr, step, perEpoch, schedule) * ts.lrScale;
    const { optimizer, momentum, weightDecay, clip, clipMode } = o;
    const result = core.trainStep({ step, optimizer, lr, momentum, weightDecay, clip, clipMode });
    result.catch(() => {}); // awaited below, or dropped with the core if the consumer stops
    return { result, lr };
  };
  // On WebGPU the next step goes in before this one's scalars come back (the GPU skips a
  // non-finite update by itself); never past a point where the host needs the state, nor after
  // an abort.
  const pipelined = core.kind !== "wasm";
  let ahead: Submitted | null = null;

  const step0 = ts.step;
  const started = performance.now();
  let lastPause = started;
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
      const current = ahead ?? submit(ts.step, ts.epoch, ts.batchInEpoch);
      ahead = null;
      if (pipelined && !signal?.aborted && !needsHost(ts.step + 1, ts.batchInEpoch + 1)) {
        ahead = submit(ts.step + 1, ts.epoch, ts.batchInEpoch + 1);
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
      if (needsHost(ts.step, epochDone ? perEpoch : ts.batchInEpoch)) await host.sync();
      const elapsedMs = performance.now() - started;
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
      };
      if (epochDone) yield { type: "epoch", step: ts.step, epoch: ts.epoch };
      if (endsCycle(ts.step)) {
        const cycle = cosineCycle(ts.step - 1, perEpoch, schedule).index + 1;
        yield { type: "cycle", step: ts.step, epoch: ts.epoch, cycle };
      }
      if (validatesAt(ts.step)) {
        valLoss = (await core.evaluateBatches(
          source.valBatches,
          source.fillVal,
          source.independentRows,
        )).meanOfBatches;
        const best = valLoss < ts.bestValLoss;
        if (best) ts.bestValLoss = valLoss;
        yield { type: "validation", step: ts.step, epoch: ts.epoch, valLoss, best };
      }
      if (ts.step % o.snapshotEvery === 0) divergence.take();
      // Let timers and signal handlers run now and then without a macrotask per tiny step.
      if (performance.now() - lastPause > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastPause = performance.now();
      }
    }
    await host.sync();
    yield { type: "done", step: ts.step, epoch: ts.epoch, aborted, diverged, valLoss };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // The consumer stopped early (an error in the engine leaves the state as it is).
    if (!failed) {
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
