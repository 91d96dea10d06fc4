// deno task bench:profile — where a training step's time goes, kernel by kernel, for the
// configs of bench/compare.ts (S: 2×128, batch 32, seq 64; U: 2×512, batch 128, seq 100; LSTM,
// vocab 83, dropout 0.5, Adam, clip 5) at 1 and 2 threads, and the machine's limit beside it:
// the FMA peak of one core (bench/_fma_probe.ts) and the GEMM at the time loop's shapes.
//
// Each kernel is timed on the calling thread from dispatch to its closing barrier, so a row is
// wall time with every thread's share and wait in it. "other" is the rest of the step:
// JavaScript (zeroing the gradients, carrying state) and the kernels' calls. Rows are ms per
// step (median over steps), share of the step and, where the work is a matrix product, GFLOP/s
// per thread.
//   deno task bench:profile [--configs S,U] [--threads 1,2] [--steps 5]

import { parseArgs } from "node:util";
import { WasmEngine } from "../src/engine/wasm_engine.ts";
import { barriers, type KernelTiming, profile } from "../src/engine/_probe.ts";
import { fmaPeak } from "./_fma_probe.ts";
import { adamTrainStep, prepareGemm } from "./_kernels.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    configs: { type: "string" },
    threads: { type: "string" },
    steps: { type: "string" },
  },
});
const CONFIGS = {
  S: { hidden: 128, layers: 2, batch: 32, seq: 64 },
  U: { hidden: 512, layers: 2, batch: 128, seq: 100 },
} as const;
const V = 83;
const configNames = (values.configs ?? "S,U").split(",") as (keyof typeof CONFIGS)[];
const threadCounts = (values.threads ?? "1,2").split(",").map(Number);

// Rows of the table: a label, the kernels it sums, and its floating-point work per step.
interface Row {
  label: string;
  kernels: string[];
  flops: (c: { H: number; L: number; B: number; T: number }) => number;
}
const G = (H: number) => 4 * H; // LSTM gate width
const ROWS: Row[] = [
  {
    label: "input projection (forward, all timesteps)",
    kernels: ["recurrentForwardInput"],
    // Layer 0 is a row gather (one-hot); layers above multiply [T·B, H] by W_ih^T.
    flops: ({ H, L, B, T }) => (L - 1) * 2 * T * B * H * G(H),
  },
  {
    label: "time loop (forward)",
    kernels: ["recurrentForwardLoop"],
    flops: ({ H, L, B, T }) => L * 2 * T * B * H * G(H),
  },
  {
    label: "dropout (mask, apply, backward)",
    kernels: ["dropoutMask", "multiply"],
    flops: () => 0,
  },
  {
    label: "output layer forward",
    kernels: ["linearForward"],
    flops: ({ H, B, T }) => 2 * T * B * H * V,
  },
  { label: "softmax + cross-entropy", kernels: ["crossEntropy"], flops: () => 0 },
  {
    label: "output layer backward",
    kernels: ["linearBackward"],
    flops: ({ H, B, T }) => 2 * 2 * T * B * H * V,
  },
  {
    label: "time loop (backward)",
    kernels: ["recurrentBackwardLoop"],
    flops: ({ H, L, B, T }) => L * 2 * T * B * H * G(H),
  },
  {
    label: "weight gradients (dW_hh, dW_ih, dx, biases)",
    kernels: ["recurrentWeightGrads"],
    // dW_hh for every layer; dW_ih and dx above layer 0 (layer 0's dW_ih is a scatter).
    flops: ({ H, L, B, T }) => (L + 2 * (L - 1)) * 2 * T * B * H * G(H),
  },
  { label: "clip (global norm)", kernels: ["sumSquares", "scale"], flops: () => 0 },
  { label: "optimizer (Adam)", kernels: ["adamStep"], flops: () => 0 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function profileConfig(name: keyof typeof CONFIGS, threads: number, steps: number) {
  const { hidden: H, layers: L, batch: B, seq: T } = CONFIGS[name];
  using net = WasmEngine.create(
    { vocabSize: V, hidden: H, layers: L, batch: B, seq: T, dropout: 0.5 },
    { threads },
  );
  await net.whenReady();
  const k = 1 / Math.sqrt(H);
  for (let i = 0; i < net.params.length; i++) net.params[i] = Math.sin(i * 12.9898) * k;
  for (let i = 0; i < net.inputs.length; i++) {
    net.inputs[i] = (i * 31) % V;
    net.targets[i] = (i * 17) % V;
  }
  const trainStep = adamTrainStep(net);
  trainStep(); // warm-up: compiles, faults the memory in
  // One step unprofiled and one profiled, alternately: the step's own time comes from the
  // unprofiled ones (the profile adds a dispatch per layer and a clock read per kernel).
  const plain: number[] = [], perKernel: Map<string, KernelTiming>[] = [], profiled: number[] = [];
  for (let s = 0; s < steps; s++) {
    let t0 = performance.now();
    trainStep();
    plain.push(performance.now() - t0);
    const timings = new Map<string, KernelTiming>();
    profile(net, timings);
    t0 = performance.now();
    trainStep();
    profiled.push(performance.now() - t0);
    profile(net, null);
    perKernel.push(timings);
  }
  // A dispatch (post, wake, one barrier) and one barrier more, each the median of 200.
  const dispatch: number[] = [], barrier: number[] = [];
  for (let i = 0; i < 200; i++) {
    dispatch.push(barriers(net, 1));
    barrier.push((barriers(net, 101) - barriers(net, 1)) / 100);
  }
  return {
    H,
    L,
    B,
    T,
    plain,
    profiled,
    perKernel,
    dispatch: median(dispatch),
    barrier: median(barrier),
  };
}

const steps = Number(values.steps ?? 5);
const peak = await fmaPeak();
console.log(
  `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; ${navigator.hardwareConcurrency} cores`,
);
console.log(
  typeof peak === "string"
    ? `FMA peak not measured: ${peak}`
    : `one core's FMA peak (native, bench/_fma_probe.ts): 128-bit ${peak.fma128.toFixed(1)} ` +
      `GFLOP/s (WebAssembly SIMD's width), 256-bit ${peak.fma256.toFixed(1)} GFLOP/s (AVX2)`,
);
for (const shape of [[32, 128, 512], [128, 512, 2048]] as [number, number, number][]) {
  const { run, flops } = prepareGemm("relaxed", shape);
  for (let i = 0; i < 20; i++) run();
  const rates: number[] = [];
  for (let r = 0; r < 7; r++) {
    const reps = shape[0] === 32 ? 400 : 10;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    rates.push(flops * reps / ((performance.now() - t0) / 1e3) / 1e9);
  }
  console.log(
    `one GEMM ${shape.join("×")} (M×K×N, B packed), one thread: ${
      median(rates).toFixed(1)
    } GFLOP/s`,
  );
}

for (const name of configNames) {
  for (const threads of threadCounts) {
    const r = await profileConfig(name, threads, steps);
    const stepMs = median(r.plain);
    const chars = r.B * r.T / (stepMs / 1e3);
    console.log(
      `\n${name} (LSTM ${r.L}×${r.H}, batch ${r.B}, seq ${r.T}), ${threads} thread(s): ` +
        `${stepMs.toFixed(1)} ms/step unprofiled (${Math.round(chars)} chars/s), ` +
        `${median(r.profiled).toFixed(1)} ms profiled; median of ${steps} steps`,
    );
    console.log("| phase | ms/step | share | GFLOP/s per thread |");
    console.log("| ----- | ------- | ----- | ------------------ |");
    let accounted = 0;
    let totalFlops = 0;
    for (const row of ROWS) {
      const ms = median(
        r.perKernel.map((t) => row.kernels.reduce((a, k) => a + (t.get(k)?.ms ?? 0), 0)),
      );
      accounted += ms;
      const flops = row.flops(r);
      totalFlops += flops;
      const rate = flops ? (flops / (ms / 1e3) / 1e9 / threads).toFixed(1) : "";
      console.log(
        `| ${row.label} | ${ms.toFixed(2)} | ${(100 * ms / stepMs).toFixed(1)}% | ${rate} |`,
      );
    }
    const other = median(r.profiled) - accounted;
    console.log(
      `| other (JS, calls) | ${other.toFixed(2)} | ${(100 * other / stepMs).toFixed(1)}% | |`,
    );
    // Barriers: one per timestep in both time loops, and at least one closing every dispatch.
    const calls = [...r.perKernel[0].values()].reduce((a, t) => a + t.calls, 0);
    const barrierCount = 2 * r.L * r.T + calls;
    console.log(
      `| (in the rows above) ${calls} dispatches × ${(r.dispatch * 1e3).toFixed(1)} µs, ` +
        `≥ ${barrierCount} barriers × ${(r.barrier * 1e3).toFixed(2)} µs | ` +
        `${(calls * r.dispatch + barrierCount * r.barrier).toFixed(2)} | ` +
        `${(100 * (calls * r.dispatch + barrierCount * r.barrier) / stepMs).toFixed(1)}% | |`,
    );
    console.log(
      `| **step** | ${stepMs.toFixed(2)} | 100% | ` +
        `${(totalFlops / (stepMs / 1e3) / 1e9 / threads).toFixed(1)} |`,
    );
  }
}
