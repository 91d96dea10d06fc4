// deno bench: one training step on WASM and on WebGPU at a small and a large batch (H 128,
// seq 10). `deno task bench:webgpu` prints the whole grid (batch 32–1024, H 128 and 512) as
// chars/s with median/min/max and the crossover batch. Skipped when no WebGPU adapter exists.

import { gpuContext } from "../src/backend/_gpu_device.ts";
import { prepareTrainStep } from "./_webgpu_step.ts";

const gpu = await gpuContext();
if (!gpu) console.log("skipping the WebGPU benches: navigator.gpu found no adapter");

for (const batch of [32, 512]) {
  for (const backend of ["wasm", "webgpu"] as const) {
    if (backend === "webgpu" && !gpu) continue;
    const { run } = await prepareTrainStep(backend, batch, 128, 10);
    Deno.bench({
      name: `train step L2 H128 B${batch} T10 ${backend}`,
      group: `train step B${batch}`,
      baseline: backend === "wasm",
      n: 3,
      warmup: 1,
      fn: run,
    });
  }
}
