// Parity with TensorFlow.js: the same network (stacked LSTM, one-hot input, dense softmax
// output, mean cross-entropy) built from tfjs-layers with the same weights must give the same
// logits, loss, final states, and gradient of every weight and of the initial state (the
// reference network: tests/_tfjs_reference.ts).

import { WasmLstm } from "../src/backend/wasm.ts";
import { assertClose, fillUniform, rng } from "./_helpers.ts";
import { tfjsReference } from "./_tfjs_reference.ts";

interface Case {
  layers: number;
  batch: number;
  seq: number;
  hidden: number;
  vocabSize: number;
  nonZeroState: boolean;
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
