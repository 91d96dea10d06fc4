// deno bench: the GEMM shapes of the LSTM, one training step and one sampling step, for both
// compiled cores.
// `deno task bench:gemm` prints the same as GFLOP/s and chars/s with median/min/max.

import { relaxedSimdSupported } from "../src/engine/wasm_module.ts";
import { GEMM_SHAPES, prepareGemm, prepareLstmStep, prepareSampleStep } from "./_kernels.ts";

const variants = relaxedSimdSupported() ? ["simd", "relaxed"] as const : ["simd"] as const;

for (const shape of GEMM_SHAPES) {
  const label = shape.join("×");
  for (const variant of variants) {
    const { run, flops } = prepareGemm(variant, shape);
    Deno.bench({
      name: `gemm ${label} ${variant} (${(flops / 1e6).toFixed(1)} MFLOP)`,
      group: `gemm ${label}`,
      baseline: variant === "simd",
      fn: run,
    });
  }
}

for (const variant of variants) {
  const { run } = prepareLstmStep(variant);
  Deno.bench({
    name: `lstm step L2 H128 B32 T64 V83 ${variant}`,
    group: "lstm step",
    baseline: variant === "simd",
    fn: run,
  });
}

for (const variant of variants) {
  const { run } = prepareSampleStep(variant);
  Deno.bench({
    name: `sample step (one character) L2 H128 V83 ${variant}`,
    group: "sample step",
    baseline: variant === "simd",
    fn: run,
  });
}
