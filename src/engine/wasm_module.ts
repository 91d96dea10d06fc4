// Instantiates the compiled core: the relaxed-SIMD build where the engine validates it, the
// plain SIMD build otherwise. Both are embedded in build/wasm.ts (see scripts/build.ts).

import { relaxed, simd } from "../../build/wasm.ts";
import { decodeBase64 } from "../_base64.ts";

/** Which compiled core runs: fused multiply-add (`relaxed`) or separate multiply and add. */
export type CoreVariant = "simd" | "relaxed";

type Ptr = number;

/** The core's exports: flat functions over byte offsets into the imported memory. */
export interface CoreExports {
  heapBase(): number;
  setThread(id: number, count: number, barrier: Ptr): void;
  barrier(): void;
  packedBytes(K: number, N: number): number;
  packB(b: Ptr, ldb: number, transB: number, K: number, N: number, dst: Ptr): void;
  gemmPacked(
    a: Ptr,
    lda: number,
    transA: number,
    packed: Ptr,
    c: Ptr,
    ldc: number,
    M: number,
    N: number,
    K: number,
    accumulate: number,
  ): void;
  gemm(
    a: Ptr,
    lda: number,
    transA: number,
    b: Ptr,
    ldb: number,
    transB: number,
    c: Ptr,
    ldc: number,
    M: number,
    N: number,
    K: number,
    accumulate: number,
    scratch: Ptr,
  ): void;
  broadcastRows(y: Ptr, b: Ptr, M: number, N: number, accumulate: number): void;
  sumRowsInto(db: Ptr, dy: Ptr, M: number, N: number): void;
  transpose(src: Ptr, M: number, N: number, dst: Ptr, accumulate: number): void;
  multiply(out: Ptr, a: Ptr, b: Ptr, n: number): void;
  recurrentPackedBytes(cell: number, inSize: number, oneHot: number, H: number): number;
  recurrentScratchBytes(
    cell: number,
    inSize: number,
    oneHot: number,
    T: number,
    B: number,
    H: number,
  ): number;
  recurrentPack(
    cell: number,
    oneHot: number,
    inSize: number,
    wih: Ptr,
    whh: Ptr,
    packed: Ptr,
    H: number,
  ): void;
  sampleStep(cell: number, token: number, layers: number, H: number, V: number, desc: Ptr): void;
  recurrentForward(
    cell: number,
    x: Ptr,
    oneHot: number,
    inSize: number,
    wih: Ptr,
    whh: Ptr,
    bih: Ptr,
    bhh: Ptr,
    gates: Ptr,
    h: Ptr,
    c: Ptr,
    packed: Ptr,
    repack: number,
    T: number,
    B: number,
    H: number,
  ): void;
  recurrentBackward(
    cell: number,
    x: Ptr,
    oneHot: number,
    inSize: number,
    wih: Ptr,
    whh: Ptr,
    gates: Ptr,
    h: Ptr,
    c: Ptr,
    dh: Ptr,
    dc: Ptr,
    dwih: Ptr,
    dwhh: Ptr,
    dbih: Ptr,
    dbhh: Ptr,
    dx: Ptr,
    scratch: Ptr,
    T: number,
    B: number,
    H: number,
  ): void;
  embeddingForward(tokens: Ptr, table: Ptr, out: Ptr, T: number, B: number, N: number): void;
  embeddingBackward(tokens: Ptr, dOut: Ptr, dTable: Ptr, T: number, B: number, N: number): void;
  linearScratchBytes(M: number, N: number, K: number): number;
  linearPackedBytes(N: number, K: number): number;
  linearForward(
    x: Ptr,
    w: Ptr,
    b: Ptr,
    y: Ptr,
    packed: Ptr,
    repack: number,
    M: number,
    N: number,
    K: number,
  ): void;
  linearBackward(
    x: Ptr,
    w: Ptr,
    dy: Ptr,
    dx: Ptr,
    dw: Ptr,
    db: Ptr,
    scratch: Ptr,
    M: number,
    N: number,
    K: number,
  ): void;
  crossEntropy(
    logits: Ptr,
    targets: Ptr,
    dlogits: Ptr,
    rowLoss: Ptr,
    T: number,
    B: number,
    V: number,
  ): number;
  sumSquaresScratchBytes(): number;
  sumSquares(g: Ptr, n: number, partials: Ptr): number;
  scale(g: Ptr, n: number, s: number): void;
  adamStep(
    p: Ptr,
    g: Ptr,
    m: Ptr,
    v: Ptr,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    bc1: number,
    bc2: number,
    decay: number,
  ): void;
  sgdStep(
    p: Ptr,
    g: Ptr,
    buf: Ptr,
    n: number,
    lr: number,
    momentum: number,
    first: number,
    weightDecay: number,
  ): void;
  clipValue(g: Ptr, n: number, c: number): void;
  dropoutMask(mask: Ptr, n: number, p: number, seed: number, step: number, site: number): void;
}

/** A memory the core can import: shared, so that worker threads see the same bytes. */
export function coreMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

const modules = new Map<CoreVariant, WebAssembly.Module>();

/** True when this engine runs the relaxed-SIMD build. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(bytesOf("relaxed"));
}

function bytesOf(variant: CoreVariant): Uint8Array<ArrayBuffer> {
  return decodeBase64(variant === "relaxed" ? relaxed : simd) as Uint8Array<ArrayBuffer>;
}

/** Picks the variant: the one asked for, else relaxed where supported. */
export function resolveVariant(wanted: CoreVariant | "auto" = "auto"): CoreVariant {
  if (wanted === "auto") return relaxedSimdSupported() ? "relaxed" : "simd";
  if (wanted === "relaxed" && !relaxedSimdSupported()) {
    throw new Error(
      "Unsupported core: this engine rejects the relaxed-SIMD build; use variant 'simd' or 'auto'",
    );
  }
  return wanted;
}

/** Instantiates a core over `memory` (synchronously: the module is small and compiled once). */
export function instantiateCore(variant: CoreVariant, memory: WebAssembly.Memory): CoreExports {
  let module = modules.get(variant);
  if (!module) {
    module = new WebAssembly.Module(bytesOf(variant));
    modules.set(variant, module);
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreExports;
}
