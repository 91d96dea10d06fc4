// The FMA peak of one core, measured natively: a small C kernel (12 independent multiply-add
// chains, no memory traffic, each chain in its own register) compiled with the system's C
// compiler, in 128-bit (xmm, what WebAssembly SIMD maps to) and 256-bit (ymm, what PyTorch's
// OpenBLAS uses with AVX2) registers. A WebAssembly version of the same loop is not a peak:
// V8 keeps some of the chains on the stack, so it measures the spills instead.

const SOURCE = (() => {
  const chains = Array.from({ length: 12 }, (_, i) => `c${i}`);
  const kernel = (name: string, type: string, set1: string, fma: string) => `
__attribute__((noinline)) float ${name}(long n, float x) {
  ${type} m = ${set1}(x * 0.999999f), a = ${set1}(1e-7f);
  ${chains.map((c, i) => `${type} ${c} = ${set1}(x + ${i});`).join(" ")}
  for (long k = 0; k < n; k++) { ${chains.map((c) => `${c} = ${fma}(m, a, ${c});`).join(" ")} }
  ${type} t = c0; ${chains.slice(1).map((c) => `t = t + ${c};`).join(" ")}
  float o[8]; __builtin_memcpy(o, &t, sizeof t); return o[0];
}`;
  return `#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
${kernel("p128", "__m128", "_mm_set1_ps", "_mm_fmadd_ps")}
${kernel("p256", "__m256", "_mm256_set1_ps", "_mm256_fmadd_ps")}
int main(void) {
  long n = 20000000; double b128 = 0, b256 = 0; float sink = 0;
  for (int r = 0; r < 7; r++) {
    double t = now(); sink += p128(n, 1 + r); double g = n * 12 * 8 / (now() - t) / 1e9;
    if (g > b128) b128 = g;
    t = now(); sink += p256(n, 1 + r); g = n * 12 * 16 / (now() - t) / 1e9;
    if (g > b256) b256 = g;
  }
  printf("{\\"fma128\\": %.2f, \\"fma256\\": %.2f, \\"sink\\": %g}\\n", b128, b256, sink);
}
`;
})();

/** One core's peak GFLOP/s (best of 7 rounds), or why it could not be measured. */
export async function fmaPeak(): Promise<{ fma128: number; fma256: number } | string> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/fma.c`, SOURCE);
    const cc = await new Deno.Command("cc", {
      args: ["-O2", "-mfma", "-mavx2", `${dir}/fma.c`, "-o", `${dir}/fma`],
      stderr: "piped",
    }).output();
    if (!cc.success) return `cc failed: ${new TextDecoder().decode(cc.stderr).split("\n")[0]}`;
    const run = await new Deno.Command(`${dir}/fma`, { stdout: "piped" }).output();
    return JSON.parse(new TextDecoder().decode(run.stdout));
  } catch (e) {
    return `no C compiler (${(e as Error).message})`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
