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
  recurrentForwardInput(
    cell: number,
    x: Ptr,
    oneHot: number,
    inSize: number,
    wih: Ptr,
    whh: Ptr,
    bih: Ptr,
    bhh: Ptr,
    gates: Ptr,
    packed: Ptr,
    repack: number,
    T: number,
    B: number,
    H: number,
  ): void;
  recurrentForwardLoop(
    cell: number,
    bhh: Ptr,
    gates: Ptr,
    h: Ptr,
    c: Ptr,
    packed: Ptr,
    T: number,
    B: number,
    H: number,
  ): void;
  recurrentBackwardLoop(
    cell: number,
    whh: Ptr,
    gates: Ptr,
    h: Ptr,
    c: Ptr,
    dh: Ptr,
    dc: Ptr,
    scratch: Ptr,
    T: number,
    B: number,
    H: number,
  ): void;
  recurrentWeightGrads(
    cell: number,
    x: Ptr,
    oneHot: number,
    inSize: number,
    wih: Ptr,
    gates: Ptr,
    h: Ptr,
    c: Ptr,
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
  /** n barriers in a row (the profile's measure of one barrier). */
  barriers(n: number): void;
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

/**
 * A memory the core can import: shared (the default), so that worker threads see the same
 * bytes, or not, for one thread where shared memory is unavailable (a web page that is not
 * cross-origin isolated).
 */
export function coreMemory(pages: number, shared = true): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
}

const modules = new Map<string, WebAssembly.Module>();

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

/**
 * Instantiates a core over `memory` (synchronously: the module is small and compiled once), a
 * shared memory or, for one thread, a memory that is not shared.
 */
export function instantiateCore(variant: CoreVariant, memory: WebAssembly.Memory): CoreExports {
  const shared = typeof SharedArrayBuffer !== "undefined" &&
    memory.buffer instanceof SharedArrayBuffer;
  const key = `${variant}${shared ? "" : ":unshared"}`;
  let module = modules.get(key);
  if (!module) {
    const bytes = bytesOf(variant);
    if (!shared) unshareMemoryImport(bytes);
    module = new WebAssembly.Module(bytes);
    modules.set(key, module);
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreExports;
}

// The core is built to import a shared memory. For one thread on a memory that is not shared,
// the import's limits flag loses its shared bit (0x03 → 0x01, same length): its atomics stay
// valid on such a memory, and with one thread the barrier never waits.
function unshareMemoryImport(bytes: Uint8Array): void {
  let at = 8; // magic and version
  const leb = () => {
    let value = 0;
    for (let shift = 0;; shift += 7) {
      const b = bytes[at++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  const skipName = () => {
    const n = leb();
    at += n;
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        skipName();
        skipName();
        const kind = bytes[at++];
        if (kind === 2) {
          if (bytes[at] !== 0x03) break;
          bytes[at] = 0x01;
          return;
        }
        if (kind === 0) leb(); // function: type index
        else if (kind === 1) { // table: element type, limits
          at++;
          const flags = bytes[at++];
          leb();
          if (flags & 1) leb();
        } else if (kind === 3) at += 2; // global: value type, mutability
        else break;
      }
      break;
    }
    at = end;
  }
  throw new Error("Internal error: the core imports no shared memory with a maximum");
}
