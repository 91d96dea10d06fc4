// The engine classes' former names, kept so that code written against them still runs: the
// WASM engine was `WasmCore` (wrapped by a `WasmEngine` that is now the class itself), the
// WebGPU engine `WebGpuCore`.

import { WasmEngine } from "./wasm_engine.ts";
import type { WasmEngineOptions } from "./wasm_options.ts";
import { WebGpuEngine, type WebGpuEngineOptions } from "./webgpu_engine.ts";

/**
 * The WASM engine under its former name.
 *
 * @deprecated Use {@linkcode WasmEngine}: the same class.
 *
 * @example The former name still creates a WASM engine
 * ```ts
 * import { WasmCore } from "./deprecated.ts";
 * using net = WasmCore.create({ vocabSize: 4, hidden: 8, layers: 1, dropout: 0, batch: 1, seq: 1 });
 * console.log(net.kind); // "wasm"
 * ```
 */
export const WasmCore: typeof WasmEngine = WasmEngine;
/** @deprecated Use {@linkcode WasmEngine}. */
export type WasmCore = WasmEngine;

/**
 * The WebGPU engine under its former name.
 *
 * @deprecated Use {@linkcode WebGpuEngine}: the same class.
 *
 * @example The former name is the same class
 * ```ts
 * import { WebGpuCore } from "./deprecated.ts";
 * import { WebGpuEngine } from "./webgpu_engine.ts";
 * console.log(WebGpuCore === WebGpuEngine); // true
 * ```
 */
export const WebGpuCore: typeof WebGpuEngine = WebGpuEngine;
/** @deprecated Use {@linkcode WebGpuEngine}. */
export type WebGpuCore = WebGpuEngine;

/** @deprecated Use {@linkcode WasmEngineOptions}. */
export type WasmCoreOptions = WasmEngineOptions;

/** @deprecated Use {@linkcode WebGpuEngineOptions}. */
export type WebGpuCoreOptions = WebGpuEngineOptions;
