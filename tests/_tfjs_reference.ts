// The TensorFlow.js reference network shared by the parity tests of both backends.
//
// tfjs's LSTM keeps one bias (= b_ih + b_hh), kernel [in, 4H] (= W_ih^T) and recurrent kernel
// [H, 4H] (= W_hh^T), gate order i, f, c, o (= PyTorch's i, f, g, o). Its default recurrent
// activation is hard-sigmoid, so the reference sets `sigmoid` explicitly.

// The full package, not -core/-layers/-backend-cpu separately: tfjs-layers' dist carries its own
// copy of some core ops, and gradients through a second LSTM layer fail across the two copies.
import * as tf from "@tensorflow/tfjs";
import type { CoreConfig } from "../src/model/config.ts";
import { transposed } from "./_helpers.ts";

await tf.setBackend("cpu");

// tfjs's backprop hands a single-output kernel its gradient as a bare tensor, but Unpack's
// gradient always calls stack(dy): with T = 1 the second LSTM layer's input gradient throws.
// Re-register it to accept both forms (the math is unchanged).
tf.registerGradient({
  kernelName: "Unpack",
  gradFunc: (dy, _saved, attrs) => {
    const list = Array.isArray(dy) ? dy : [dy];
    return { value: () => tf.stack(list, (attrs as { axis: number }).axis) };
  },
});

/** What TensorFlow.js computes for a network: the values every backend must match. */
export interface Reference {
  logits: ArrayLike<number>; // [B, T, V]
  loss: number;
  hT: Float32Array[];
  cT: Float32Array[];
  dh0: Float32Array[];
  dc0: Float32Array[];
  grads: Map<string, Float32Array>; // PyTorch names and layouts
}

/** The network and batch a reference is computed for (WasmLstm is one). */
export interface ReferenceNet {
  config: Required<CoreConfig>;
  inputs: Int32Array;
  targets: Int32Array;
  h0(layer: number): Float32Array;
  c0(layer: number): Float32Array;
  param(name: string): Float32Array;
}

/** Logits, loss, final states and every gradient of `net`'s batch, from TensorFlow.js. */
export function tfjsReference(net: ReferenceNet): Reference {
  const { layers: L, batch: B, seq: T, hidden: H, vocabSize: V } = net.config;
  const tokens = tf.tensor2d(net.inputs, [B, T], "int32");
  const x = tf.cast(tf.oneHot(tokens, V), "float32");
  const labels = tf.oneHot(tf.reshape(tf.tensor2d(net.targets, [B, T], "int32"), [B * T]), V);
  const h0 = Array.from({ length: L }, (_, l) => tf.variable(tf.tensor2d(net.h0(l), [B, H])));
  const c0 = Array.from({ length: L }, (_, l) => tf.variable(tf.tensor2d(net.c0(l), [B, H])));
  const lstms = Array.from({ length: L }, () =>
    tf.layers.lstm({
      units: H,
      returnSequences: true,
      returnState: true,
      recurrentActivation: "sigmoid",
      kernelInitializer: "zeros",
      recurrentInitializer: "zeros",
      biasInitializer: "zeros",
      unitForgetBias: false,
    }));
  const dense = tf.layers.dense({ units: V, kernelInitializer: "zeros" });
  let states: tf.Tensor[] = [];
  const run = () => {
    let y: tf.Tensor = x;
    states = [];
    for (let l = 0; l < L; l++) {
      const [seq, hT, cT] = lstms[l].apply(y, { initialState: [h0[l], c0[l]] }) as tf.Tensor[];
      y = seq;
      states.push(hT, cT);
    }
    return dense.apply(y) as tf.Tensor; // [B, T, V]
  };
  run(); // builds the layers so their weights can be set
  for (let l = 0; l < L; l++) {
    const inSize = l === 0 ? V : H;
    const wih = net.param(`lstm.weight_ih_l${l}`);
    const whh = net.param(`lstm.weight_hh_l${l}`);
    const bias = net.param(`lstm.bias_ih_l${l}`).map((b, i) =>
      b + net.param(`lstm.bias_hh_l${l}`)[i]
    );
    lstms[l].setWeights([
      tf.tensor2d(transposed(wih, inSize, 4 * H), [inSize, 4 * H]),
      tf.tensor2d(transposed(whh, H, 4 * H), [H, 4 * H]),
      tf.tensor1d(bias),
    ]);
  }
  dense.setWeights([
    tf.tensor2d(transposed(net.param("fc.weight"), H, V), [H, V]),
    tf.tensor1d(net.param("fc.bias")),
  ]);

  let logits: ArrayLike<number> = [];
  let stateData: Float32Array[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const out = run();
    logits = out.dataSync();
    stateData = states.map((s) => Float32Array.from(s.dataSync()));
    return tf.losses.softmaxCrossEntropy(labels, tf.reshape(out, [B * T, V])) as tf.Scalar;
  });
  const byName = new Map<string, Float32Array>();
  const get = (v: tf.Variable) => grads[v.name].dataSync() as Float32Array;
  for (let l = 0; l < L; l++) {
    const inSize = l === 0 ? V : H;
    const [kernel, recurrent, bias] = lstms[l].trainableWeights.map((w) => w.read() as tf.Variable);
    byName.set(`lstm.weight_ih_l${l}`, transposed(get(kernel), 4 * H, inSize));
    byName.set(`lstm.weight_hh_l${l}`, transposed(get(recurrent), 4 * H, H));
    byName.set(`lstm.bias_ih_l${l}`, get(bias));
    byName.set(`lstm.bias_hh_l${l}`, get(bias));
  }
  const [dk, db] = dense.trainableWeights.map((w) => w.read() as tf.Variable);
  byName.set("fc.weight", transposed(get(dk), V, H));
  byName.set("fc.bias", get(db));
  const ref: Reference = {
    logits,
    loss: value.dataSync()[0],
    hT: stateData.filter((_, i) => i % 2 === 0),
    cT: stateData.filter((_, i) => i % 2 === 1),
    dh0: h0.map(get),
    dc0: c0.map(get),
    grads: byName,
  };
  tf.disposeVariables();
  return ref;
}
