// Entry point of the compute core: flat functions over byte offsets into the one imported
// memory (shared where threads run). The TypeScript side (src/engine/_wasm_plan.ts) owns the
// layout; nothing here allocates. Every kernel is SPMD: all threads call it with the same
// arguments (see threads.ts). scripts/build.ts types these exports for TypeScript
// (build/core_exports.ts): what is exported here is what the engine may call.

export { gemm, gemmPacked, packB, packedBytes } from "./gemm";
export { broadcastRows, multiply, sumRowsInto, transpose } from "./ops";
export {
  recurrentBackwardLoop,
  recurrentForwardInput,
  recurrentForwardLoop,
  recurrentPack,
  recurrentPackedBytes,
  recurrentScratchBytes,
  recurrentWeightGrads,
  sampleStep,
} from "./recurrent";
export { embeddingBackward, embeddingForward } from "./embedding";
export { linearBackward, linearForward, linearPackedBytes, linearScratchBytes } from "./linear";
export { crossEntropy } from "./loss";
export { dropoutMask } from "./dropout";
export { adamStep, clipValue, scale, sgdStep, sumSquares, sumSquaresScratchBytes } from "./optim";
export { barrier, barriers, setThread } from "./threads";

/** First byte past the module's static data: the layout must start at or after it. */
export function heapBase(): usize {
  return __heap_base;
}
