// When the model's arrays are current during trainEvents: at every event but `step`, at the
// `step` event of every snapshotEvery-th step, and after the consumer stops, on WebGPU as on
// WASM (where the next step may already be running when a `step` event is seen).

import assert from "node:assert/strict";
import { createModel, sample, trainEvents, type TrainOptions } from "../mod.ts";
import { gpuContext } from "../src/engine/gpu_device.ts";
import { assertClose } from "./_helpers.ts";

const noAdapter = (await gpuContext()) === null;
const text = "the quick brown fox jumps over the lazy dog. ".repeat(60);
// 50 batches per epoch: step 5 is a snapshot, steps 6 to 9 are not sync points.
const recipe: TrainOptions = {
  batch: 4,
  seq: 12,
  lr: 0.01,
  valEvery: 0,
  clip: 1,
  snapshotEvery: 5,
  steps: 20,
};

async function run(backend: "wasm" | "webgpu", stopAt: number, options: TrainOptions = {}) {
  const model = createModel(text, { hidden: 16, layers: 2, dropout: 0.1, seed: 4 });
  let atSnapshot: Float32Array | null = null;
  for await (const e of trainEvents(model, text, { ...recipe, ...options, backend })) {
    if (e.type === "step" && e.step === 5) atSnapshot = model.params.slice();
    if (e.type === "step" && e.step === stopAt) break;
  }
  return { model, atSnapshot: atSnapshot! };
}

Deno.test("trainEvents stopped at a step event: the model holds every step taken (WASM)", async () => {
  const { model } = await run("wasm", 8);
  const s = model.trainState!;
  assert.deepEqual([s.step, s.epoch, s.batchInEpoch], [8, 0, 8]);
  const full = await run("wasm", -1, { steps: 8 });
  assert.deepEqual(model.params, full.model.params);
  assert.deepEqual(s.h, full.model.trainState!.h);
});

Deno.test({
  name: "trainEvents on WebGPU: current at snapshot steps; a stop counts the step running ahead",
  ignore: noAdapter,
  async fn() {
    const gpu = await run("webgpu", 8);
    const s = gpu.model.trainState!;
    // Step 9 was already running when the consumer stopped at step 8's event: it counts.
    assert.deepEqual([s.step, s.epoch, s.batchInEpoch], [9, 0, 9]);
    const cpu = await run("wasm", -1, { steps: 9 });
    const c = cpu.model.trainState!;
    assertClose("params at the snapshot step", gpu.atSnapshot, cpu.atSnapshot, 1e-4, 1e-5);
    assertClose("params", gpu.model.params, cpu.model.params, 1e-4, 1e-5);
    assertClose("adam m", s.adamM, c.adamM, 1e-4, 1e-6);
    assertClose("carried h", s.h, c.h, 1e-4, 1e-5);
    assertClose("carried c", s.c, c.c, 1e-4, 1e-5);
  },
});

Deno.test({
  name: "trainEvents on WebGPU: samples see the step's weights and leave training as it was",
  ignore: noAdapter,
  async fn() {
    const plain = await run("webgpu", -1, { steps: 9 });
    const model = createModel(text, { hidden: 16, layers: 2, dropout: 0.1, seed: 4 });
    const samples: string[] = [];
    const options: TrainOptions = { ...recipe, steps: 9, backend: "webgpu", sampleEvery: 3 };
    for await (const e of trainEvents(model, text, { ...options, sampleLength: 12 })) {
      if (e.type === "sample") {
        samples.push(e.text);
        // The arrays are current at a sample: the same as sampling from them now.
        assert.equal(e.text, sample(model, { length: 12, seed: e.seed, topK: 5 }));
      }
    }
    assert.equal(samples.length, 3);
    assert.deepEqual(model.params, plain.model.params);
    assert.deepEqual(model.trainState!.adamM, plain.model.trainState!.adamM);
  },
});

Deno.test({
  name: "trainEvents on WebGPU by the clock: nothing runs ahead of the budget's last step",
  ignore: noAdapter,
  async fn() {
    const model = createModel(text, { hidden: 16, layers: 2, dropout: 0.1, seed: 4 });
    const options: TrainOptions = { ...recipe, steps: undefined, valEvery: 7, timeBudget: 1 };
    const seen: string[] = [];
    let lastStep = 0;
    for await (const e of trainEvents(model, text, { ...options, backend: "webgpu" })) {
      seen.push(e.type);
      if (e.type === "step") lastStep = e.step;
      if (e.type === "done") assert.equal(e.step, lastStep);
    }
    assert.equal(model.trainState!.step, lastStep);
    assert.ok(lastStep > 1);
    // The last step validates.
    assert.deepEqual(seen.filter((t) => t !== "epoch").slice(-3), ["step", "validation", "done"]);
  },
});
