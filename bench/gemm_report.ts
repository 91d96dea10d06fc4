// deno task bench:gemm — GFLOP/s of the GEMM shapes and chars/s of one LSTM training step,
// both compiled cores side by side in one run: median, min and max over repeated rounds.

import { relaxedSimdSupported } from "../src/engine/wasm_module.ts";
import { GEMM_SHAPES, prepareGemm, prepareLstmStep } from "./_kernels.ts";

const ROUNDS = 9;
const ROUND_MS = 250;
const variants = relaxedSimdSupported() ? ["simd", "relaxed"] as const : ["simd"] as const;

/** Rates (work per second) over ROUNDS rounds of about ROUND_MS each, after a warm-up. */
function measure(run: () => void, work: number): number[] {
  const t0 = performance.now();
  let warm = 0;
  while (performance.now() - t0 < 100) {
    run();
    warm++;
  }
  const perRound = Math.max(1, Math.round(warm * ROUND_MS / 100));
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    for (let i = 0; i < perRound; i++) run();
    rates.push(work * perRound / ((performance.now() - start) / 1000));
  }
  return rates.sort((a, b) => a - b);
}

const fmt = (rates: number[], scale: number, digits: number) =>
  [rates[rates.length >> 1], rates[0], rates[rates.length - 1]]
    .map((v) => (v / scale).toFixed(digits)).join(" / ");

console.log(`engine: Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; one thread`);
console.log("GEMM (B pre-packed), GFLOP/s median / min / max");
console.log("| M×K×N | " + variants.join(" | ") + " |");
console.log("|---|" + variants.map(() => "---|").join(""));
for (const shape of GEMM_SHAPES) {
  const cells = variants.map((v) => {
    const { run, flops } = prepareGemm(v, shape);
    return fmt(measure(run, flops), 1e9, 1);
  });
  console.log(`| ${shape.join("×")} | ${cells.join(" | ")} |`);
}
console.log(
  "\nLSTM training step (forward + backward), L2 H128 B32 T64 V83, chars/s median / min / max",
);
for (const v of variants) {
  const { run, chars } = prepareLstmStep(v);
  console.log(`| ${v} | ${fmt(measure(run, chars), 1, 0)} |`);
}
