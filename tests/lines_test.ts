// Line mode: batches read "\n" + line and predict line + "\n", padding is left out of the loss,
// the order is a per-epoch permutation, and a line-mode model learns to end its lines.

import assert from "node:assert/strict";
import { arrayLines, fillLineBatch, linePermutation, splitLines } from "../src/data/lines.ts";
import { createModel, sample, train } from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { rng } from "./_helpers.ts";

Deno.test("line batches: newline first, shifted targets, -1 padding, cut long lines", () => {
  const lines = [Int32Array.of(1, 2, 3), Int32Array.of(4), Int32Array.of(5, 6, 7, 8, 9)];
  const x = new Int32Array(4 * 5), y = new Int32Array(4 * 5);
  fillLineBatch(arrayLines(lines), Uint32Array.of(0, 1, 2), 4, 5, 0, 0, x, y);
  assert.deepEqual([...x], [0, 1, 2, 3, 0, 0, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0, 0]);
  assert.deepEqual(
    [...y],
    [1, 2, 3, 0, -1, 4, 0, -1, -1, -1, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1],
  );
  assert.deepEqual(splitLines("ab\n\ncd\n"), ["ab", "cd"]);
});

Deno.test("line order: a permutation per epoch, fixed by (seed, epoch)", () => {
  const a = linePermutation(50, 7, 0);
  assert.deepEqual([...a].sort((p, q) => p - q), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(linePermutation(50, 7, 0), a);
  assert.notDeepEqual(linePermutation(50, 7, 1), a);
  assert.notDeepEqual(linePermutation(50, 8, 0), a);
});

Deno.test("padding targets are left out of the loss and its gradient", () => {
  const full = WasmEngine.create({
    vocabSize: 6,
    hidden: 5,
    layers: 1,
    batch: 2,
    seq: 4,
    dropout: 0,
  });
  const next = rng(3);
  for (let i = 0; i < full.params.length; i++) full.params[i] = next() - 0.5;
  full.inputs.set([1, 2, 3, 4, 5, 1, 0, 0]);
  full.targets.set([2, 3, 4, 5, 1, 2, -1, -1]);
  const loss = full.forward();
  full.backward();
  // The same two rows' valid prefixes, computed without padding: seq 4 row 0, seq 2 row 1.
  const rowA = WasmEngine.create({ ...full.config, batch: 1, seq: 4 });
  const rowB = WasmEngine.create({ ...full.config, batch: 1, seq: 2 });
  for (const net of [rowA, rowB]) net.params.set(full.params);
  rowA.inputs.set([1, 2, 3, 4]);
  rowA.targets.set([2, 3, 4, 5]);
  rowB.inputs.set([5, 1]);
  rowB.targets.set([1, 2]);
  const lossA = rowA.forward(), lossB = rowB.forward();
  rowA.backward();
  rowB.backward();
  const expected = (lossA * 4 + lossB * 2) / 6;
  assert.ok(Math.abs(loss - expected) < 1e-6, `${loss} vs ${expected}`);
  for (const t of full.layout.tensors) {
    const g = full.grad(t.name), ga = rowA.grad(t.name), gb = rowB.grad(t.name);
    for (let i = 0; i < g.length; i++) {
      const e = (ga[i] * 4 + gb[i] * 2) / 6;
      assert.ok(Math.abs(g[i] - e) < 1e-6 + 1e-5 * Math.abs(e), `${t.name}[${i}]`);
    }
  }
});

Deno.test("a line-mode model learns to write lines that end", async () => {
  const syllables = ["sau", "rus", "tyr", "an", "no", "dac", "ty", "lo", "ce", "ra", "tops"];
  const next = rng(11);
  const names = Array.from({ length: 400 }, () => {
    const n = 2 + Math.floor(next() * 3);
    return Array.from({ length: n }, () => syllables[Math.floor(next() * syllables.length)]).join(
      "",
    );
  });
  const text = names.join("\n") + "\n";
  const model = createModel(text, { hidden: 32, layers: 1, dropout: 0, seed: 2 });
  const result = await train(model, text, { lines: true, batch: 16, steps: 150, lr: 0.02 });
  assert.equal(model.trainState!.seq, Math.max(...names.map((n) => n.length)) + 1);
  assert.ok(result.valLoss! < 1.6, `val loss ${result.valLoss}`);
  let ended = 0;
  for (let seed = 0; seed < 10; seed++) {
    const line = sample(model, { prime: "\n", stop: "\n", length: 40, seed });
    if (line.length < 41) ended++;
    assert.ok(!line.slice(1).includes("\n"));
  }
  assert.ok(ended >= 8, `only ${ended} of 10 sampled lines ended`);
});
