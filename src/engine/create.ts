// Picking and creating the engine that trains: the WASM engine, the WebGPU engine, and
// `auto`'s rule (WebGPU on a hardware adapter for large batches, WASM otherwise).

import type { CoreConfig } from "../model/config.ts";
import { type BackendChoice, checkBackend, type Engine } from "./engine.ts";
import { gpuContext } from "./gpu_device.ts";
import { WasmEngine } from "./wasm_engine.ts";
import { WebGpuEngine } from "./webgpu_engine.ts";

/**
 * Smallest batch for which `auto` trains on a hardware WebGPU adapter. What was measured
 * (`deno task bench:webgpu`, bench/README.md): on Mesa's software adapter (lavapipe, 2 cores)
 * WebGPU ran at 0.03× WASM's chars/s at every batch from 32 to 1024, at H 128 and 512, so `auto`
 * never picks a software adapter. No hardware GPU was available to measure the crossover on:
 * this value is an unmeasured default, to be replaced by the bench's crossover on a GPU.
 */
export const AUTO_WEBGPU_MIN_BATCH = 128;

/** Options for {@linkcode createEngine}. */
export interface CreateEngineOptions {
  /** `auto` (default), `wasm` or `webgpu`. */
  backend?: BackendChoice;
  /** Threads for the WASM core. */
  threads?: number;
  /** Receives why `auto` chose WASM, once per reason and process. */
  onNote?: (message: string) => void;
}

const said = new Set<string>();

/**
 * Creates the engine for `config`: WASM, WebGPU (rejects when no adapter exists or the config
 * does not fit it), or, with `auto`, WebGPU on a hardware adapter when the batch is at least
 * {@linkcode AUTO_WEBGPU_MIN_BATCH}, WASM otherwise.
 *
 * @example Creating the WASM engine
 * ```ts
 * import { createEngine } from "./create.ts";
 * const core = await createEngine(
 *   { vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 },
 *   { backend: "wasm", threads: 1 },
 * );
 * console.log(core.kind); // "wasm"
 * core.dispose();
 * ```
 */
export async function createEngine(
  config: CoreConfig,
  options: CreateEngineOptions = {},
): Promise<Engine> {
  const choice = checkBackend(options.backend);
  const wasm = () => WasmEngine.create(config, { threads: options.threads ?? 1 });
  if (choice === "wasm") return wasm();
  if (choice === "webgpu") return await WebGpuEngine.create(config);
  const reason = await autoDeclines(config);
  if (reason === null) {
    try {
      return await WebGpuEngine.create(config);
    } catch (e) {
      note(options, `WebGPU not used (${(e as Error).message}): training on WASM`);
      return wasm();
    }
  }
  if (reason) note(options, reason);
  return wasm();
}

function note(options: CreateEngineOptions, message: string): void {
  if (said.has(message)) return;
  said.add(message);
  options.onNote?.(message);
}

// Why `auto` stays on WASM (a note for the user, or "" when there is nothing to say), or null
// when it takes WebGPU.
async function autoDeclines(config: CoreConfig): Promise<string | null> {
  if (config.batch < AUTO_WEBGPU_MIN_BATCH) return "";
  const ctx = await gpuContext();
  if (!ctx) return "WebGPU not used: no adapter found: training on WASM";
  if (ctx.software) {
    return `WebGPU not used: ${ctx.description} is a software adapter, slower than WASM: ` +
      "training on WASM (--backend webgpu forces it)";
  }
  return null;
}
