// deno task bench:webgpu — training throughput (chars/s) of both backends for batch 32, 128,
// 512, 1024 at hidden 128 and 512 (2 layers, vocabulary 83, dropout 0.5), median / min / max
// over repeated steps after a warm-up step, the batch from which WebGPU is faster (the
// crossover), and the dispatches one WebGPU step issues.
//
// With --two-threads H:B,..., also WASM at 2 threads for those (hidden, batch) pairs, against
// WebGPU (the figure: U at batch 512 against 2-thread WASM). bench/webgpu_device.sh
// runs it on a machine with a GPU.
//
//   deno task bench:webgpu [--seq 10] [--reps 3] [--hidden 128,512] [--batch 32,128,512,1024]
//     [--two-threads 512:512]

import { parseArgs } from "node:util";
import { gpuContext } from "../src/engine/gpu_device.ts";
import { defaultThreads } from "../src/engine/threads.ts";
import { WebGpuEngine } from "../src/engine/webgpu_engine.ts";
import { dispatchesPerStep } from "../src/engine/_probe.ts";
import { prepareTrainStep } from "./_webgpu_step.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seq: { type: "string", default: "10" },
    reps: { type: "string", default: "3" },
    hidden: { type: "string", default: "128,512" },
    batch: { type: "string", default: "32,128,512,1024" },
    "two-threads": { type: "string", default: "" },
  },
});
const seq = Number(values.seq), reps = Number(values.reps);
const hiddens = values.hidden.split(",").map(Number);
const batches = values.batch.split(",").map(Number);

const gpu = await gpuContext();
console.log(
  `engine: Deno ${Deno.version.deno}; WASM: ${defaultThreads()} threads; WebGPU: ` +
    (gpu
      ? `${gpu.description}${gpu.software ? " (a software adapter: CPU, not a GPU)" : ""}`
      : "no adapter"),
);
console.log(
  `one training step (forward, backward, clip, Adam), L2 V83 dropout 0.5, seq ${seq}; ` +
    `chars/s median / min / max over ${reps} steps after one warm-up step\n`,
);

async function measure(
  backend: "wasm" | "webgpu",
  batch: number,
  hidden: number,
  threads = defaultThreads(),
) {
  const { core, chars, run } = await prepareTrainStep(backend, batch, hidden, seq, threads);
  try {
    await run();
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) {
      const start = performance.now();
      await run();
      rates.push(chars / ((performance.now() - start) / 1000));
    }
    rates.sort((a, b) => a - b);
    const dispatches = core instanceof WebGpuEngine ? dispatchesPerStep(core) : 0;
    return { median: rates[rates.length >> 1], min: rates[0], max: rates.at(-1)!, dispatches };
  } finally {
    core.dispose();
  }
}

const cell = (r: { median: number; min: number; max: number }) =>
  [r.median, r.min, r.max].map((v) => v.toFixed(0)).join(" / ");

const crossovers: (number | null)[] = [];
for (const hidden of hiddens) {
  console.log(`H ${hidden}`);
  console.log("| batch | WASM chars/s | WebGPU chars/s | WebGPU / WASM | dispatches per step |");
  console.log("| ----- | ------------ | -------------- | ------------- | ------------------- |");
  let crossover: number | null = null;
  for (const batch of batches) {
    const wasm = await measure("wasm", batch, hidden);
    const webgpu = gpu ? await measure("webgpu", batch, hidden).catch((e) => e as Error) : null;
    if (webgpu instanceof Error || webgpu === null) {
      const why = webgpu ? webgpu.message : "no adapter";
      console.log(`| ${batch} | ${cell(wasm)} | — (${why}) | — | — |`);
      continue;
    }
    if (crossover === null && webgpu.median > wasm.median) crossover = batch;
    console.log(
      `| ${batch} | ${cell(wasm)} | ${cell(webgpu)} | ${
        (webgpu.median / wasm.median).toFixed(2)
      } | ` +
        `${webgpu.dispatches} |`,
    );
  }
  console.log(
    crossover === null
      ? `crossover: none — WASM was faster at every batch measured\n`
      : `crossover: WebGPU is faster from batch ${crossover}\n`,
  );
  crossovers.push(crossover);
}
// The auto rule (src/engine/create.ts) picks WebGPU from one batch size for every hidden size:
// the largest crossover, so that it never picks the slower backend among those measured.
if (gpu && !gpu.software && crossovers.length > 0 && crossovers.every((c) => c !== null)) {
  console.log(
    `AUTO_WEBGPU_MIN_BATCH from this machine: ${Math.max(...(crossovers as number[]))}\n`,
  );
}

const pairs = values["two-threads"].split(",").filter(Boolean).map((p) => p.split(":").map(Number));
if (pairs.length > 0) {
  console.log(`WebGPU against WASM at 2 threads (seq ${seq})`);
  console.log("| hidden | batch | WASM 2 threads chars/s | WebGPU chars/s | WebGPU / WASM |");
  console.log("| ------ | ----- | ---------------------- | -------------- | ------------- |");
  for (const [hidden, batch] of pairs) {
    const wasm = await measure("wasm", batch, hidden, 2);
    const webgpu = gpu ? await measure("webgpu", batch, hidden).catch((e) => e as Error) : null;
    const ok = webgpu && !(webgpu instanceof Error);
    console.log(
      `| ${hidden} | ${batch} | ${cell(wasm)} | ${ok ? cell(webgpu) : "—"} | ` +
        `${ok ? (webgpu.median / wasm.median).toFixed(1) + "×" : "—"} |`,
    );
  }
}
