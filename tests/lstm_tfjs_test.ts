// Parity with TensorFlow.js: the same network (stacked LSTM, one-hot input, dense softmax
// output, mean cross-entropy) built from tfjs-layers with the same weights must give the same
// logits, loss, final states, and gradient of every weight and of the initial state.
//
// tfjs's LSTM keeps one bias (= b_ih + b_hh), kernel [in, 4H] (= W_ih^T) and recurrent kernel
// [H, 4H] (= W_hh^T), gate order i, f, c, o (= PyTorch's i, f, g, o). Its default recurrent
// activation is hard-sigmoid, so the reference sets `sigmoid` explicitly.

// The full package, not -core/-layers/-backend-cpu separately: tfjs-layers' dist carries its own
// copy of some core ops, and gradients through a second LSTM layer fail across the two copies.
import * as tf from "@tensorflow/tfjs";
import { WasmLstm } from "../src/backend/wasm.ts";
import { assertClose, fillUniform, rng, transposed } from "./_helpers.ts";

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

interface Case {
  layers: number;
  batch: number;
  seq: number;
  hidden: number;
  vocabSize: number;
  nonZeroState: boolean;
}

interface Reference {
  logits: ArrayLike<number>; // [B, T, V]
  loss: number;
  hT: Float32Array[];
  cT: Float32Array[];
  dh0: Float32Array[];
  dc0: Float32Array[];
  grads: Map<string, Float32Array>; // PyTorch names and layouts
}

function tfjsReference(net: WasmLstm): Reference {
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

function caseName(c: Case): string {
  return `L${c.layers} B${c.batch} T${c.seq} H${c.hidden} V${c.vocabSize} ` +
    (c.nonZeroState ? "state≠0" : "state=0");
}

const cases: Case[] = [];
for (const layers of [1, 2]) {
  for (const batch of [1, 3]) {
    for (const seq of [1, 7]) {
      for (const hidden of [7, 32]) {
        for (const vocabSize of [11, 83]) {
          for (const nonZeroState of [false, true]) {
            cases.push({ layers, batch, seq, hidden, vocabSize, nonZeroState });
          }
        }
      }
    }
  }
}

Deno.test(`WASM LSTM matches TensorFlow.js (${cases.length} cases)`, async (t) => {
  let worst = { ratio: 0, where: "" };
  for (const [n, c] of cases.entries()) {
    await t.step(caseName(c), () => {
      const net = WasmLstm.create({ ...c, dropout: 0 });
      const next = rng(1000 + n);
      fillUniform(net.params, next, 0.5);
      for (let i = 0; i < net.inputs.length; i++) {
        net.inputs[i] = Math.floor(next() * c.vocabSize);
        net.targets[i] = Math.floor(next() * c.vocabSize);
      }
      for (let l = 0; l < c.layers; l++) {
        if (c.nonZeroState) {
          fillUniform(net.h0(l), next, 0.8);
          fillUniform(net.c0(l), next, 0.8);
        }
      }
      const ref = tfjsReference(net);
      const loss = net.forward();
      net.backward();

      const { batch: B, seq: T, vocabSize: V } = c;
      const logitsBTV = new Float32Array(B * T * V);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          logitsBTV.set(net.logits.subarray((t * B + b) * V, (t * B + b + 1) * V), (b * T + t) * V);
        }
      }
      const checks: [string, ArrayLike<number>, ArrayLike<number>][] = [
        ["logits", logitsBTV, ref.logits],
        ["loss", [loss], [ref.loss]],
      ];
      for (let l = 0; l < c.layers; l++) {
        checks.push([`hT[${l}]`, net.hT(l), ref.hT[l]], [`cT[${l}]`, net.cT(l), ref.cT[l]]);
        checks.push([`dh0[${l}]`, net.dh0(l), ref.dh0[l]], [`dc0[${l}]`, net.dc0(l), ref.dc0[l]]);
      }
      for (const spec of net.layout.tensors) {
        checks.push([`d ${spec.name}`, net.grad(spec.name), ref.grads.get(spec.name)!]);
      }
      for (const [name, actual, expected] of checks) {
        const r = assertClose(`${caseName(c)}: ${name}`, actual, expected);
        if (r.worstRatio > worst.ratio) {
          worst = { ratio: r.worstRatio, where: `${caseName(c)} ${name}` };
        }
      }
    });
  }
  console.log(`worst element: ${worst.ratio.toFixed(3)}× tolerance at ${worst.where}`);
});
