// The lessons' training recipes: SGD with momentum (against a hand computation), element-wise
// gradient clipping, and the learning-rate schedules (against their formulas), end to end
// through training, checkpoints and exact resume.

import assert from "node:assert/strict";
import { createModel, fromBytes, toBytes, train, type TrainEvent } from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { scheduledLr } from "../src/train/schedule.ts";
import { fillUniform, rng } from "./_helpers.ts";

Deno.test("schedules follow their formulas", () => {
  for (let s = 0; s < 50; s++) {
    assert.equal(scheduledLr(0.1, s, 10), 0.1);
    assert.equal(
      scheduledLr(0.1, s, 10, { lrSchedule: "step", lrStepEvery: 7, lrGamma: 0.3 }),
      0.1 * 0.3 ** Math.floor(s / 7),
    );
  }
  // Cosine with restarts: cycles of 1, 2, 4 epochs of 10 steps start at steps 0, 10, 30.
  const cos = (s: number) =>
    scheduledLr(0.1, s, 10, { lrSchedule: "cosine", cycleLen: 1, cycleMult: 2 });
  for (
    const [s, start, len] of [[0, 0, 10], [5, 0, 10], [10, 10, 20], [25, 10, 20], [30, 30, 40], [
      69,
      30,
      40,
    ]]
  ) {
    const expected = 0.1 * 0.5 * (1 + Math.cos(Math.PI * (s - start) / len));
    assert.ok(Math.abs(cos(s) - expected) < 1e-12, `step ${s}: ${cos(s)} vs ${expected}`);
  }
  assert.equal(cos(10), 0.1);
  assert.equal(cos(30), 0.1);
  assert.ok(cos(29) < 0.001);
});

Deno.test("SGD with momentum and value clipping match a hand computation", () => {
  using net = WasmEngine.create({
    vocabSize: 5,
    hidden: 3,
    layers: 1,
    batch: 1,
    seq: 1,
    dropout: 0,
  });
  const next = rng(12);
  fillUniform(net.params, next, 1);
  const n = net.params.length;
  const p = Float64Array.from(net.params), buf = new Float64Array(n);
  for (let t = 1; t <= 3; t++) {
    fillUniform(net.grads, next, 2);
    const g = Float64Array.from(net.grads, (v) => Math.min(Math.max(v, -0.5), 0.5));
    net.clipGradValue(0.5);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(net.grads[i] - g[i]) < 1e-7, "clipped gradient");
    for (let i = 0; i < n; i++) {
      buf[i] = t === 1 ? g[i] : 0.9 * buf[i] + g[i];
      p[i] -= 0.05 * buf[i];
    }
    net.sgdStep(t, { lr: 0.05, momentum: 0.9 });
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(net.params[i] - p[i]) < 1e-6, `param ${i} at step ${t}`);
    }
  }
});

const TEXT = "a dog, a cat, a rat and a bat sat on a mat.\n".repeat(80);
const RECIPE = {
  batch: 4,
  seq: 16,
  lr: 0.5,
  optimizer: "sgd" as const,
  momentum: 0.9,
  clip: 1,
  clipMode: "value" as const,
  lrSchedule: "cosine" as const,
  cycleLen: 1,
  cycleMult: 2,
  valEvery: 0,
  threads: 1,
};

Deno.test("SGD + cosine restarts train, report the lr, checkpoint and resume exactly", async () => {
  const lrs: number[] = [];
  const losses: number[] = [];
  const onEvent = (e: TrainEvent) => {
    if (e.type === "step") {
      lrs.push(e.lr);
      losses.push(e.loss);
    }
  };
  const straight = createModel(TEXT, { hidden: 24, layers: 1, dropout: 0, seed: 2 });
  let perEpoch = 0;
  await train(straight, TEXT, {
    ...RECIPE,
    steps: 60,
    onEvent: (e) => {
      if (e.type === "start") perEpoch = e.batchesPerEpoch;
      onEvent(e);
    },
  });
  lrs.forEach((lr, s) => assert.equal(lr, scheduledLr(0.5, s, perEpoch, RECIPE)));
  const firstEpoch = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const lastSteps = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(lastSteps < firstEpoch - 0.5, `loss ${firstEpoch} → ${lastSteps}`);

  const half = createModel(TEXT, { hidden: 24, layers: 1, dropout: 0, seed: 2 });
  await train(half, TEXT, { ...RECIPE, steps: 25 });
  const bytes = toBytes(half);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  assert.ok("optim.momentum_buffer.fc.weight" in header && !("optim.exp_avg.fc.weight" in header));
  const resumed = fromBytes(bytes);
  assert.equal(resumed.trainState!.optimizer, "sgd");
  await train(resumed, TEXT, { ...RECIPE, steps: 60 });
  assert.deepEqual(resumed.params, straight.params);
  await assert.rejects(
    train(fromBytes(bytes), TEXT, { ...RECIPE, optimizer: "adam", steps: 30 }),
    /Cannot resume: the model was trained with sgd, got adam/,
  );
});
