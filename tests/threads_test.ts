// Worker threads share every kernel, and each output element is computed by one thread in a
// fixed order: any thread count gives bitwise the same losses, gradients and weights.

import assert from "node:assert/strict";
import { type Cell, createModel, train } from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { fillUniform, rng } from "./_helpers.ts";
import { dc0, dh0 } from "../src/engine/_probe.ts";

async function step(threads: number, hidden: number, cell: Cell, embedding: number) {
  using net = WasmEngine.create(
    { cell, embedding, vocabSize: 13, hidden, layers: 2, batch: 5, seq: 6, dropout: 0.3, seed: 4 },
    { threads },
  );
  await net.whenReady();
  assert.equal(net.activeThreads, threads);
  const next = rng(17);
  fillUniform(net.params, next, 0.4);
  for (let i = 0; i < net.inputs.length; i++) {
    net.inputs[i] = Math.floor(next() * 13);
    net.targets[i] = i % 7 === 3 ? -1 : Math.floor(next() * 13);
  }
  fillUniform(net.h0(1), next, 0.5);
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    losses.push(net.forward({ step: s }));
    net.backward();
    losses.push(net.clipGradNorm(0.5));
    net.adamStep(s + 1, { lr: 0.01 });
    net.carryState();
  }
  return {
    losses,
    logits: net.logits.slice(),
    grads: net.grads.slice(),
    params: net.params.slice(),
    dh0: dh0(net, 0).slice(),
    dc0: dc0(net, 1).slice(),
  };
}

const STEP_CASES: [Cell, number, number][] = [
  ["lstm", 20, 0],
  ["lstm", 64, 0],
  ["gru", 20, 0],
  ["gru", 36, 9],
  ["rnn", 20, 0],
  ["rnn", 36, 9],
];
for (const [cell, hidden, embedding] of STEP_CASES) {
  const input = embedding ? `, embedding ${embedding}` : "";
  Deno.test(`${cell}: 1, 2 and 3 threads give bitwise identical steps (H=${hidden}${input})`, async () => {
    const one = await step(1, hidden, cell, embedding);
    for (const threads of [2, 3]) {
      const many = await step(threads, hidden, cell, embedding);
      for (const key of Object.keys(one) as (keyof typeof one)[]) {
        assert.deepEqual(many[key], one[key], `${key} differs with ${threads} threads`);
      }
    }
  });
}

Deno.test("a core switches from one thread to all of them mid-run, same results", async () => {
  const config = { vocabSize: 7, hidden: 16, layers: 1, batch: 3, seq: 5, dropout: 0 };
  using solo = WasmEngine.create(config, { threads: 1 });
  using pair = WasmEngine.create(config, { threads: 2 });
  fillUniform(solo.params, rng(8), 0.5);
  pair.params.set(solo.params);
  for (const net of [solo, pair]) net.inputs.set([1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0, 1]);
  for (const net of [solo, pair]) net.targets.set([2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2]);
  const before = pair.activeThreads; // usually 1: the worker is still starting
  assert.equal(pair.forward({ training: false }), solo.forward({ training: false }));
  await pair.whenReady();
  assert.equal(pair.activeThreads, 2);
  assert.equal(pair.forward({ training: false }), solo.forward({ training: false }));
  assert.deepEqual(pair.logits, solo.logits);
  assert.ok(before === 1 || before === 2);
});

Deno.test("training with 2 threads gives the same model as with 1", async () => {
  const text = "to be or not to be, that is the question.\n".repeat(60);
  const a = createModel(text, { hidden: 24, layers: 2, dropout: 0.2, seed: 1 });
  const b = createModel(text, { hidden: 24, layers: 2, dropout: 0.2, seed: 1 });
  const run = { steps: 12, batch: 4, seq: 20, lr: 0.01, valEvery: 6 };
  const ra = await train(a, text, { ...run, threads: 1 });
  const rb = await train(b, text, { ...run, threads: 2 });
  assert.equal(rb.valLoss, ra.valLoss);
  assert.deepEqual(b.params, a.params);
});

for (const [cell, embedding] of [["lstm", 0], ["gru", 0], ["rnn", 0], ["gru", 5]] as const) {
  const input = embedding ? `, embedding ${embedding}` : "";
  Deno.test(`${cell}${input}: sampleStep gives forward's logits and state, 1 and 2 threads`, async () => {
    await sampleMatchesForward(cell, embedding);
  });
}

async function sampleMatchesForward(cell: Cell, embedding: number) {
  for (const threads of [1, 2]) {
    const config = {
      cell,
      embedding,
      vocabSize: 11,
      hidden: 12,
      layers: 2,
      batch: 1,
      seq: 1,
      dropout: 0.5,
    };
    using a = WasmEngine.create(config, { threads });
    using b = WasmEngine.create(config, { threads });
    await a.whenReady();
    await b.whenReady();
    fillUniform(a.params, rng(5), 0.5);
    b.params.set(a.params);
    for (const token of [3, 0, 10, 7, 7, 2]) {
      a.inputs[0] = token;
      a.forward({ training: false, loss: false });
      a.carryState();
      b.sampleStep(token);
      assert.deepEqual(b.logits, a.logits);
      assert.deepEqual(b.h0(1), a.h0(1));
      if (cell === "lstm") assert.deepEqual(b.c0(0), a.c0(0));
    }
  }
}
