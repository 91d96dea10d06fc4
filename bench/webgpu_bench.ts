// deno bench: one training step on WASM and on WebGPU at a small and a large batch (H 128,
// seq 10); and on WebGPU, 20 small steps awaited one by one against 20 with the next step
// submitted before the last one's scalars are read back (as trainEvents runs them). `deno task bench:webgpu` prints the whole grid (batch 32–1024, H 128 and 512) as
// chars/s with median/min/max and the crossover batch. Skipped when no WebGPU adapter exists.

import { gpuContext } from "../src/engine/gpu_device.ts";
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

if (gpu) {
  const small = await prepareTrainStep("webgpu", 8, 32, 10);
  Deno.bench({
    name: "20 steps L2 H32 B8 T10 webgpu, each read back before the next",
    group: "step read-back",
    baseline: true,
    n: 5,
    warmup: 1,
    fn: async () => {
      for (let i = 0; i < 20; i++) await small.run();
    },
  });
  Deno.bench({
    name: "20 steps L2 H32 B8 T10 webgpu, the next submitted first (trainEvents)",
    group: "step read-back",
    n: 5,
    warmup: 1,
    fn: async () => {
      let pending = small.submit();
      for (let i = 1; i < 20; i++) {
        const next = small.submit();
        await pending;
        pending = next;
      }
      await pending;
    },
  });
}
