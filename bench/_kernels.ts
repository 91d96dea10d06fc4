// Shared set-up for the kernel benchmarks: the shapes the issue names, laid out once.

import { coreMemory, type CoreVariant, instantiateCore } from "../src/engine/wasm_module.ts";
import { WasmEngine } from "../src/engine/wasm_engine.ts";

/** M×K×N: C[M,N] += A[M,K]·B[K,N]. The first two are the recurrent GEMMs of H=128/B=32 and
 * H=512/B=128 (the tutorial's), the third a square reference. */
export const GEMM_SHAPES: [number, number, number][] = [
  [32, 128, 512],
  [128, 512, 2048],
  [512, 512, 512],
];

/** A prepared GEMM: calling `run` multiplies once with B already packed (as in the time loop). */
export function prepareGemm(variant: CoreVariant, [M, K, N]: [number, number, number]) {
  const bytes = 65536 + 4 * (M * K + K * N + M * N + K * (N + 8)) + 4096;
  const memory = coreMemory(Math.ceil(bytes / 65536));
  const core = instantiateCore(variant, memory);
  const a = 65536, b = a + M * K * 4, c = b + K * N * 4, packed = c + M * N * 4;
  const f = new Float32Array(memory.buffer);
  for (let i = a / 4; i < packed / 4; i++) f[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  core.packB(b, N, 0, K, N, packed);
  return {
    flops: 2 * M * N * K,
    run: () => core.gemmPacked(a, K, 0, packed, c, N, M, N, K, 1),
  };
}

/** One training step's forward + backward for the LSTM config. */
export function prepareLstmStep(variant: CoreVariant) {
  const net = WasmEngine.create(
    { vocabSize: 83, hidden: 128, layers: 2, batch: 32, seq: 64, dropout: 0.5 },
    { variant },
  );
  for (let i = 0; i < net.params.length; i++) net.params[i] = Math.sin(i) * 0.08;
  for (let i = 0; i < net.inputs.length; i++) {
    net.inputs[i] = (i * 31) % 83;
    net.targets[i] = (i * 17) % 83;
  }
  let step = 0;
  return {
    chars: 32 * 64,
    run: () => {
      net.forward({ step: step++ });
      net.backward();
    },
  };
}

/** One character of sampling (batch 1) for the S config: the dedicated sampleStep kernel. */
export function prepareSampleStep(variant: CoreVariant) {
  const net = WasmEngine.create(
    { vocabSize: 83, hidden: 128, layers: 2, batch: 1, seq: 1, dropout: 0 },
    { variant },
  );
  for (let i = 0; i < net.params.length; i++) net.params[i] = Math.sin(i) * 0.08;
  let token = 0;
  return { run: () => net.sampleStep(token = (token + 1) % 83) };
}

/**
 * One training step of `net` as the benchmarks time it: forward, backward, clip by norm 5,
 * Adam at 1e-3, state carried; the step counter lives in the closure.
 */
export function adamTrainStep(net: WasmEngine): () => void {
  let step = 0;
  return () => {
    net.forward({ step });
    net.backward();
    net.clipGradNorm(5);
    net.adamStep(++step, { lr: 1e-3 });
    net.carryState();
  };
}
