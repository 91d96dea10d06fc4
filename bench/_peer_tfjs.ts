// One engine × config of bench/compare.ts: TensorFlow.js 4.22 (cpu or wasm backend), the same
// 2-layer LSTM as a tf.layers model trained with trainOnBatch (Adam; tfjs has no global-norm
// clipping, so none), sampled one character at a time through a stateful batch-1 copy.
//   deno run -A bench/_peer_tfjs.ts --backend wasm --hidden 128 --batch 32 --seq 64 ...

import * as tf from "@tensorflow/tfjs";
import { peakRssMiB, peerArgs } from "./_peer.ts";

const { values, n, H, L, B, T, V } = peerArgs(["backend"]);
const rounds = n("rounds", 3), steps = n("steps", 1);
const backend = values.backend ?? "cpu";
if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
await tf.setBackend(backend);
await tf.ready();

function build(batch: number, seq: number, stateful: boolean) {
  const model = tf.sequential();
  for (let l = 0; l < L; l++) {
    model.add(tf.layers.lstm({
      units: H,
      returnSequences: true,
      stateful,
      recurrentActivation: "sigmoid",
      recurrentInitializer: "glorotUniform",
      ...(l === 0 ? { batchInputShape: [batch, seq, V] } : {}),
    }));
    model.add(tf.layers.dropout({ rate: stateful ? 0 : 0.5 }));
  }
  model.add(tf.layers.dense({ units: V, activation: "softmax" }));
  return model;
}

const model = build(B, T, false);
model.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
const ids = (count: number) =>
  tf.tensor(Array.from({ length: count }, () => Math.floor(Math.random() * V)), undefined, "int32");
const x = tf.oneHot(tf.reshape(ids(B * T), [B, T]), V).toFloat();
const y = tf.oneHot(tf.reshape(ids(B * T), [B, T]), V).toFloat();
await model.trainOnBatch(x, y);
const train: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await model.trainOnBatch(x, y);
  train.push(steps * B * T / ((performance.now() - t0) / 1000));
}

const sampler = build(1, 1, true);
sampler.setWeights(model.getWeights());
const sample: number[] = [];
for (let r = 0; r < Math.max(1, rounds >> 1); r++) {
  sampler.resetStates();
  let char = 0;
  const t0 = performance.now();
  const count = n("sample", 200);
  for (let i = 0; i < count; i++) {
    const probs = tf.tidy(() =>
      (sampler.predict(tf.oneHot(tf.tensor([[char]], [1, 1], "int32"), V).toFloat()) as tf.Tensor)
        .dataSync()
    );
    // top-k 5, as the other engines
    const top = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 5);
    let u = Math.random() * top.reduce((s, i) => s + probs[i], 0);
    char = top.find((i) => (u -= probs[i]) < 0) ?? top[4];
  }
  sample.push(count / ((performance.now() - t0) / 1000));
}
console.log(JSON.stringify({ engine: `tfjs ${backend}`, train, sample, peakRssMiB: peakRssMiB() }));
