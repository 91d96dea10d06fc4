// Instantiates the compiled core: the relaxed-SIMD build where the engine validates it, the
// plain SIMD build otherwise, each over a shared memory (threads) or one that is not (one
// thread). All four are embedded in build/wasm.ts (see scripts/build.ts).

import type { CoreExports } from "../../build/core_exports.ts";
import { relaxed, relaxedUnshared, simd, simdUnshared } from "../../build/wasm.ts";
import { decodeBase64 } from "../_base64.ts";

/** Which compiled core runs: fused multiply-add (`relaxed`) or separate multiply and add. */
export type CoreVariant = "simd" | "relaxed";

/** The core's exports, typed from assembly/ by `deno task build`. */
export type { CoreExports } from "../../build/core_exports.ts";

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
  return WebAssembly.validate(decodeBase64(relaxed) as Uint8Array<ArrayBuffer>);
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
  if (shared) return instantiateShared(variant, memory);
  // The build without shared memory keeps the atomics: valid on such a memory, and with one
  // thread the barrier never waits.
  const base64 = variant === "relaxed" ? relaxedUnshared : simdUnshared;
  return instantiate(`${variant}:unshared`, base64, memory);
}

/**
 * Instantiates the build for a shared memory: what a worker thread runs. Apart from
 * `instantiateCore` so that the browser's worker bundle carries only these two builds.
 */
export function instantiateShared(variant: CoreVariant, memory: WebAssembly.Memory): CoreExports {
  return instantiate(variant, variant === "relaxed" ? relaxed : simd, memory);
}

function instantiate(key: string, base64: string, memory: WebAssembly.Memory): CoreExports {
  let module = modules.get(key);
  if (!module) {
    module = new WebAssembly.Module(decodeBase64(base64) as Uint8Array<ArrayBuffer>);
    modules.set(key, module);
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreExports;
}
