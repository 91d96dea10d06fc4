// The TensorFlow.js reference network shared by the parity tests of both backends: a stacked
// LSTM or tanh RNN, one-hot or embedded input, dense softmax output, mean cross-entropy.
//
// tfjs's LSTM and SimpleRNN keep one bias (= b_ih + b_hh), kernel [in, G] (= W_ih^T) and
// recurrent kernel [H, G] (= W_hh^T); the LSTM's gate order i, f, c, o is PyTorch's i, f, g, o.
// Its default recurrent activation is hard-sigmoid, so the reference sets `sigmoid`
// explicitly. tfjs's Embedding holds [V, N], as nn.Embedding. tfjs has no GRU with PyTorch's
// reset-after equations: the GRU is checked against the float64 reference instead
// (gradcheck_test.ts) and against PyTorch (pytorch_checkpoint_test.ts).

// The full package, not -core/-layers/-backend-cpu separately: tfjs-layers' dist carries its own
// copy of some core ops, and gradients through a second LSTM layer fail across the two copies.
import * as tf from "@tensorflow/tfjs";
import { type CoreConfig, gateBlocks } from "../src/model/config.ts";
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

/** The network and batch a reference is computed for (WasmEngine is one). */
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
  const { layers: L, batch: B, seq: T, hidden: H, vocabSize: V, cell, embedding: N } = net.config;
  const G = gateBlocks(cell) * H;
  const lstm = cell === "lstm";
  const tokens = tf.tensor2d(net.inputs, [B, T], "int32");
  const encoder = N
    ? tf.layers.embedding({ inputDim: V, outputDim: N, embeddingsInitializer: "zeros" })
    : null;
  const labels = tf.oneHot(tf.reshape(tf.tensor2d(net.targets, [B, T], "int32"), [B * T]), V);
  const h0 = Array.from({ length: L }, (_, l) => tf.variable(tf.tensor2d(net.h0(l), [B, H])));
  const c0 = Array.from({ length: L }, (_, l) => tf.variable(tf.tensor2d(net.c0(l), [B, H])));
  const zeros = {
    kernelInitializer: "zeros",
    recurrentInitializer: "zeros",
    biasInitializer: "zeros",
  } as const;
  const rnns = Array.from({ length: L }, () =>
    lstm
      ? tf.layers.lstm({
        units: H,
        returnSequences: true,
        returnState: true,
        recurrentActivation: "sigmoid",
        unitForgetBias: false,
        ...zeros,
      })
      : tf.layers.simpleRNN({
        units: H,
        returnSequences: true,
        returnState: true,
        activation: "tanh",
        ...zeros,
      }));
  const dense = tf.layers.dense({ units: V, kernelInitializer: "zeros" });
  let states: tf.Tensor[] = [];
  const run = () => {
    let y = encoder ? encoder.apply(tokens) as tf.Tensor : tf.cast(tf.oneHot(tokens, V), "float32");
    states = [];
    for (let l = 0; l < L; l++) {
      const initialState = lstm ? [h0[l], c0[l]] : [h0[l]];
      const [seq, hT, cT] = rnns[l].apply(y, { initialState }) as tf.Tensor[];
      y = seq;
      states.push(hT, cT ?? hT);
    }
    return dense.apply(y) as tf.Tensor; // [B, T, V]
  };
  run(); // builds the layers so their weights can be set
  if (encoder) encoder.setWeights([tf.tensor2d(net.param("encoder.weight"), [V, N])]);
  for (let l = 0; l < L; l++) {
    const inSize = l === 0 ? N || V : H;
    const wih = net.param(`${cell}.weight_ih_l${l}`);
    const whh = net.param(`${cell}.weight_hh_l${l}`);
    const bias = net.param(`${cell}.bias_ih_l${l}`).map((b, i) =>
      b + net.param(`${cell}.bias_hh_l${l}`)[i]
    );
    rnns[l].setWeights([
      tf.tensor2d(transposed(wih, inSize, G), [inSize, G]),
      tf.tensor2d(transposed(whh, H, G), [H, G]),
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
  if (encoder) byName.set("encoder.weight", get(encoder.trainableWeights[0].read() as tf.Variable));
  for (let l = 0; l < L; l++) {
    const inSize = l === 0 ? N || V : H;
    const [kernel, recurrent, bias] = rnns[l].trainableWeights.map((w) => w.read() as tf.Variable);
    byName.set(`${cell}.weight_ih_l${l}`, transposed(get(kernel), G, inSize));
    byName.set(`${cell}.weight_hh_l${l}`, transposed(get(recurrent), G, H));
    byName.set(`${cell}.bias_ih_l${l}`, get(bias));
    byName.set(`${cell}.bias_hh_l${l}`, get(bias));
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
    dc0: lstm ? c0.map(get) : [],
    grads: byName,
  };
  tf.disposeVariables();
  return ref;
}
