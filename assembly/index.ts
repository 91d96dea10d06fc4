// Entry point of the compute core: flat functions over byte offsets into the one imported
// memory. The TypeScript side (src/backend/wasm.ts) owns the layout; nothing here allocates.

export { gemm, gemmPacked, packB, packedBytes } from "./gemm";
export { broadcastRows, multiply, sumRowsInto, transpose } from "./ops";
export { lstmBackward, lstmForward, lstmScratchBytes } from "./lstm";
export { linearBackward, linearForward, linearScratchBytes } from "./linear";
export { crossEntropy } from "./loss";
export { dropoutMask } from "./dropout";
export { adamStep, scale, sumSquares } from "./optim";

/** First byte past the module's static data: the layout must start at or after it. */
export function heapBase(): usize {
  return __heap_base;
}
