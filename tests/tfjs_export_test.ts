// The TensorFlow.js export loads with tf.loadLayersModel (from the files on disk) and gives
// the same next-character probabilities for a primed string as this project, within 1e-5.

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type Cell, createModel } from "../mod.ts";
import { exportTfjs } from "../src/io/tfjs.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { assertClose, fillUniform, rng } from "./_helpers.ts";

await tf.setBackend("cpu");

function softmax(z: ArrayLike<number>): Float64Array {
  const mx = Math.max(...Array.from(z));
  const e = Float64Array.from(z, (v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const EXPORTS: [Cell, number, number][] = [["lstm", 1, 0], ["lstm", 2, 0], ["rnn", 2, 0], [
  "lstm",
  2,
  6,
], ["rnn", 1, 6]];
for (const [cell, layers, embedding] of EXPORTS) {
  const input = embedding ? `, embedding ${embedding}` : "";
  Deno.test(`exportTfjs: tf.loadLayersModel gives the same probabilities (${cell}, ${layers} layers${input})`, async () => {
    const text = "It was the best of times, it was the worst of times.\n";
    const model = createModel(text, { cell, embedding, hidden: 12, layers, seed: 4 });
    fillUniform(model.params, rng(30 + layers), 0.6);
    const dir = await Deno.makeTempDir({ prefix: "charlstm-tfjs-" });
    await exportTfjs(model, dir);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    const weightData = (await Deno.readFile(`${dir}/weights.bin`)).buffer as ArrayBuffer;
    const loaded = await tf.loadLayersModel({
      load: () =>
        Promise.resolve({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData,
        }),
    });
    assert.deepEqual(json.userDefinedMetadata["charlstm.vocab"], model.vocab.chars);

    const prime = "it was the";
    const ids = model.vocab.encode(prime);
    const V = model.vocab.size;
    const tokens = tf.tensor2d(Array.from(ids), [1, ids.length], "int32");
    const x = embedding ? tokens : tf.oneHot(tokens, V).toFloat();
    const out = loaded.predict(x) as tf.Tensor;
    const all = out.dataSync();
    const theirs = softmax(all.slice((ids.length - 1) * V, ids.length * V));

    using net = WasmEngine.create({ ...model.config, batch: 1, seq: ids.length }, { threads: 1 });
    net.params.set(model.params);
    net.inputs.set(ids);
    net.forward({ training: false, loss: false });
    const ours = softmax(net.logits.subarray((ids.length - 1) * V));
    assertClose("next-character probabilities", ours, theirs, 1e-5, 1e-7);
    assert.ok(Math.abs(theirs.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    tf.dispose([x, tokens, out]);
    loaded.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("exportTfjs refuses a GRU: tfjs has no reset-after GRU", async () => {
  const model = createModel("abcabc", { cell: "gru", hidden: 4, layers: 1 });
  const dir = await Deno.makeTempDir({ prefix: "charlstm-tfjs-" });
  await assert.rejects(() => exportTfjs(model, dir), /Cannot export a gru to TensorFlow\.js/);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  await Deno.remove(dir);
});
