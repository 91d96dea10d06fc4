// One engine × config of bench/compare.ts: TensorFlow.js 4.22 (cpu or wasm backend), the same
// 2-layer LSTM as a tf.layers model trained with trainOnBatch (Adam; tfjs has no global-norm
// clipping, so none), sampled one character at a time through a stateful batch-1 copy: the
// model and the loops are bench/_tfjs_model.ts's, which bench/browser_report.ts runs in a page.
//   deno run -A bench/_peer_tfjs.ts --backend wasm --hidden 128 --batch 32 --seq 64 ...

import * as tf from "@tensorflow/tfjs";
import { peakRssMiB, peerArgs } from "./_peer.ts";
import { tfjsBench } from "./_tfjs_model.ts";

const { values, n, H, L, B, T, V } = peerArgs(["backend"]);
const rounds = n("rounds", 3), steps = n("steps", 1);
const backend = values.backend ?? "cpu";
if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
await tf.setBackend(backend);
await tf.ready();

const { train, sample } = await tfjsBench(tf, {
  hidden: H,
  layers: L,
  batch: B,
  seq: T,
  vocab: V,
  rounds,
  steps,
  sampleRounds: Math.max(1, rounds >> 1),
  sample: n("sample", 200),
});
console.log(JSON.stringify({ engine: `tfjs ${backend}`, train, sample, peakRssMiB: peakRssMiB() }));
