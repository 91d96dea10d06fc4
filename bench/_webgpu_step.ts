// Shared set-up for the WebGPU benchmarks: one full training step (forward, backward, clip,
// Adam, state carried) on either backend for a given batch and hidden size.

import type { Engine, StepResult } from "../src/engine/engine.ts";
import { createEngine } from "../src/engine/create.ts";
import { defaultThreads } from "../src/engine/threads.ts";

/** The model the WebGPU bench trains: 2 layers, vocabulary 83 (Anna Karenina), dropout 0.5. */
export const BENCH_MODEL = { vocabSize: 83, layers: 2, dropout: 0.5, seed: 1 };

/**
 * A training step on `backend`, its batch filled once: `submit` starts one step and returns its
 * result's promise, `run` takes one step and waits for it.
 */
export async function prepareTrainStep(
  backend: "wasm" | "webgpu",
  batch: number,
  hidden: number,
  seq: number,
  threads: number = defaultThreads(),
): Promise<{
  core: Engine;
  chars: number;
  submit: () => Promise<StepResult>;
  run: () => Promise<void>;
}> {
  const config = { ...BENCH_MODEL, hidden, batch, seq };
  const core = await createEngine(config, { backend, threads });
  const params = new Float32Array(core.layout.size);
  for (let i = 0; i < params.length; i++) params[i] = Math.sin(i) * 0.08;
  core.load({ params });
  await core.sync();
  for (let i = 0; i < core.inputs.length; i++) {
    core.inputs[i] = (i * 31) % 83;
    core.targets[i] = (i * 17) % 83;
  }
  let step = 0;
  const submit = () =>
    core.trainStep({
      step: step++,
      optimizer: "adam",
      lr: 1e-3,
      momentum: 0,
      clip: 5,
      clipMode: "norm",
    });
  return {
    core,
    chars: batch * seq,
    submit,
    run: async () => {
      await submit();
    },
  };
}
