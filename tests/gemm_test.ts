// The GEMM against a float64 reference, for every transpose combination and for shapes that
// hit each edge of the blocking: M around the 6-row tile and the 132-row block, N around the
// 8-column panel, K around the 256 block, in both compiled variants.

import { type CoreVariant, instantiateCore } from "../src/engine/wasm_module.ts";
import { coreMemory, relaxedSimdSupported } from "../src/engine/wasm_module.ts";
import { assertClose, fillUniform, rng } from "./_helpers.ts";

const variants: CoreVariant[] = relaxedSimdSupported() ? ["simd", "relaxed"] : ["simd"];

function reference(
  a: Float32Array,
  transA: boolean,
  b: Float32Array,
  transB: boolean,
  c0: Float32Array,
  M: number,
  N: number,
  K: number,
  accumulate: boolean,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = accumulate ? c0[i * N + j] : 0;
      for (let k = 0; k < K; k++) {
        s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      }
      out[i * N + j] = s;
    }
  }
  return out;
}

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [5, 7, 3],
  [6, 8, 4],
  [7, 9, 17],
  [13, 28, 7],
  [1, 83, 32],
  [121, 17, 257],
  [130, 40, 600],
  [133, 9, 30],
  [270, 12, 258],
];

for (const variant of variants) {
  Deno.test(`gemm (${variant}) matches a float64 reference for all transposes`, () => {
    const memory = coreMemory(256);
    const core = instantiateCore(variant, memory);
    const next = rng(7);
    let cases = 0;
    for (const [M, N, K] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const accumulate of [false, true]) {
            const base = 65536;
            const aOff = base, bOff = aOff + M * K * 4 + 64;
            const cOff = bOff + K * N * 4 + 64, sOff = cOff + M * N * 4 + 64;
            const a = fillUniform(new Float32Array(memory.buffer, aOff, M * K), next, 1);
            const b = fillUniform(new Float32Array(memory.buffer, bOff, K * N), next, 1);
            const c = fillUniform(new Float32Array(memory.buffer, cOff, M * N), next, 1);
            const expected = reference(a, transA, b, transB, c.slice(), M, N, K, accumulate);
            core.gemm(
              aOff,
              transA ? M : K,
              transA ? 1 : 0,
              bOff,
              transB ? K : N,
              transB ? 1 : 0,
              cOff,
              N,
              M,
              N,
              K,
              accumulate ? 1 : 0,
              sOff,
            );
            const name = `${M}×${N}×${K} transA=${transA} transB=${transB} acc=${accumulate}`;
            // Sums of K products of magnitude ≤ 1: scale the absolute tolerance with K.
            assertClose(name, c, expected, 1e-5, 1e-6 * Math.sqrt(K));
            cases++;
          }
        }
      }
    }
    if (cases !== shapes.length * 8) throw new Error("not every case ran");
  });
}

Deno.test("gemm writes nothing outside C", () => {
  const memory = coreMemory(4);
  const core = instantiateCore("simd", memory);
  const M = 7, N = 9, K = 5;
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(0x7f, 65536);
  const aOff = 65536, bOff = 66048, cOff = 67072, sOff = 69632;
  new Float32Array(memory.buffer, aOff, M * K).fill(1);
  new Float32Array(memory.buffer, bOff, K * N).fill(1);
  core.gemm(aOff, K, 0, bOff, N, 0, cOff, N, M, N, K, 0, sOff);
  const c = new Float32Array(memory.buffer, cOff, M * N);
  if (c.some((v) => v !== K)) throw new Error("wrong product");
  const guard = bytes.subarray(cOff + M * N * 4, sOff);
  if (guard.some((v) => v !== 0x7f)) throw new Error("gemm wrote past the end of C");
});
