// TensorFlow.js's side of the benchmarks, in one home for Deno (bench/_peer_tfjs.ts, for
// bench/compare.ts) and the page (bench/browser_report.ts): the same 2-layer LSTM as a tf.layers
// model (dropout 0.5 after each LSTM layer, a dense softmax) trained with trainOnBatch on one-hot
// batches (Adam 1e-3; tfjs has no global-norm clipping, so none), sampled one character at a time
// through a stateful batch-1 copy with top-k 5, as the other engines.
//
// `tfjsBench` runs from its source text in a page (tests/_browser.ts sends it as a string), so it
// uses nothing but its arguments and globals: keep every helper inside it.

import type * as TF from "@tensorflow/tfjs";

/** The model and how long to measure. */
export interface TfjsBenchConfig {
  hidden: number;
  layers: number;
  batch: number;
  seq: number;
  vocab: number;
  /** Timed rounds of training, after one warm-up step. */
  rounds: number;
  /** trainOnBatch steps per round. */
  steps: number;
  /** Timed rounds of sampling. */
  sampleRounds: number;
  /** Characters per sampling round. */
  sample: number;
}

/** chars/s of each training round and each sampling round. */
export interface TfjsBenchResult {
  train: number[];
  sample: number[];
}

/** Trains and samples config `c` with `tf` (its backend already set and ready). */
export async function tfjsBench(tf: typeof TF, c: TfjsBenchConfig): Promise<TfjsBenchResult> {
  const { hidden: H, layers: L, batch: B, seq: T, vocab: V } = c;
  const build = (batch: number, seq: number, stateful: boolean) => {
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
  };

  const model = build(B, T, false);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
  const ids = (count: number) =>
    tf.tensor(
      Array.from({ length: count }, () => Math.floor(Math.random() * V)),
      undefined,
      "int32",
    );
  const x = tf.oneHot(tf.reshape(ids(B * T), [B, T]), V).toFloat();
  const y = tf.oneHot(tf.reshape(ids(B * T), [B, T]), V).toFloat();
  await model.trainOnBatch(x, y);
  const train: number[] = [];
  for (let r = 0; r < c.rounds; r++) {
    const t0 = performance.now();
    for (let s = 0; s < c.steps; s++) await model.trainOnBatch(x, y);
    train.push(c.steps * B * T / ((performance.now() - t0) / 1000));
  }

  const sampler = build(1, 1, true);
  sampler.setWeights(model.getWeights());
  const sample: number[] = [];
  for (let r = 0; r < c.sampleRounds; r++) {
    sampler.resetStates();
    let char = 0;
    const t0 = performance.now();
    for (let i = 0; i < c.sample; i++) {
      const probs = tf.tidy(() =>
        (sampler.predict(tf.oneHot(tf.tensor([[char]], [1, 1], "int32"), V).toFloat()) as TF.Tensor)
          .dataSync()
      );
      // top-k 5, as the other engines
      const top = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 5);
      let u = Math.random() * top.reduce((s, i) => s + probs[i], 0);
      char = top.find((i) => (u -= probs[i]) < 0) ?? top[4];
    }
    sample.push(c.sample / ((performance.now() - t0) / 1000));
  }
  tf.dispose([x, y]);
  model.dispose();
  sampler.dispose();
  return { train, sample };
}
