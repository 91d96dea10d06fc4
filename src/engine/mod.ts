/**
 * The compute engines, for people who drive a training step themselves: the WASM core
 * ({@linkcode WasmCore}: forward, backward, clipping and optimizers over one memory), the WebGPU
 * core ({@linkcode WebGpuCore}), the {@linkcode Engine} interface both train through, and
 * {@linkcode createEngine} with `auto`'s rule. Both run the three cells (LSTM, GRU, tanh RNN)
 * with one-hot or embedded input; the parameter layout is {@linkcode paramLayout}'s.
 *
 * @example One Adam step on the WASM core
 * ```ts
 * import { WasmCore } from "./mod.ts";
 *
 * using core = WasmCore.create({ vocabSize: 4, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 });
 * core.params.set(core.params.map(() => Math.random() * 0.2 - 0.1));
 * core.inputs.set([0, 1, 2, 1, 2, 3]);
 * core.targets.set([1, 2, 3, 2, 3, 0]);
 * const loss = core.forward();
 * core.backward();
 * core.adamStep(1, { lr: 0.01 });
 * console.log(loss);
 * ```
 *
 * @module
 */

export {
  BACKEND_CHOICES,
  type BackendChoice,
  type Engine,
  type EngineState,
  type EvaluateTotals,
  type StepResult,
  type TrainStepOptions,
} from "./engine.ts";
export { AUTO_WEBGPU_MIN_BATCH, createEngine, type CreateEngineOptions } from "./create.ts";
export { WasmCore } from "./wasm_core.ts";
export type { AdamOptions, ForwardOptions, SgdOptions, WasmCoreOptions } from "./wasm_options.ts";
export type { CoreVariant } from "./wasm_module.ts";
export { WasmEngine } from "./wasm_engine.ts";
export { WebGpuCore, type WebGpuCoreOptions, WebGpuUnavailableError } from "./webgpu_core.ts";
export type { GpuContext } from "./gpu_device.ts";
export { defaultThreads } from "./threads.ts";
export type { Cell, CoreConfig, ModelConfig } from "../model/config.ts";
export {
  type LayerTensors,
  type ParamLayout,
  paramLayout,
  type TensorSpec,
} from "../model/params.ts";
