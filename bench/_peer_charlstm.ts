// One engine × config of bench/compare.ts, in its own process so that its peak RSS is its own:
// this project's WASM core. Prints one JSON line.
//   deno run -A bench/_peer_charlstm.ts --hidden 128 --batch 32 --seq 64 --threads 2 ...

import { createModel, sampleStream } from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { peakRssMiB, peerArgs } from "./_peer.ts";
import { adamTrainStep } from "./_kernels.ts";

const { n, H, L, B, T, V, cell } = peerArgs();
const threads = n("threads", 1), rounds = n("rounds", 5), steps = n("steps", 3);

const train: number[] = [];
{
  using net = WasmEngine.create(
    { cell, vocabSize: V, hidden: H, layers: L, batch: B, seq: T, dropout: 0.5 },
    { threads },
  );
  await net.whenReady();
  const k = 1 / Math.sqrt(H);
  for (let i = 0; i < net.params.length; i++) net.params[i] = (Math.random() * 2 - 1) * k;
  for (let i = 0; i < net.inputs.length; i++) {
    net.inputs[i] = Math.floor(Math.random() * V);
    net.targets[i] = Math.floor(Math.random() * V);
  }
  const trainStep = adamTrainStep(net);
  trainStep();
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) trainStep();
    train.push(steps * B * T / ((performance.now() - t0) / 1000));
  }
}

// Sampling as a user runs it: a model, a stream with top-k 5, the core's start-up included.
const vocab = Array.from({ length: V }, (_, i) => String.fromCodePoint(0x100 + i));
const model = createModel(vocab, { cell, hidden: H, layers: L });
const sample: number[] = [];
for (let r = 0; r < Math.max(1, rounds >> 1); r++) {
  const t0 = performance.now();
  let count = 0;
  for (const _ of sampleStream(model, { length: n("sample", 1000), topK: 5, seed: r, threads })) {
    count++;
  }
  sample.push(count / ((performance.now() - t0) / 1000));
}
console.log(JSON.stringify({ engine: "charlstm (wasm)", train, sample, peakRssMiB: peakRssMiB() }));
