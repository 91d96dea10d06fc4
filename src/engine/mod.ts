/**
 * The compute engines, for people who drive a training step themselves: one contract,
 * {@linkcode Engine}, implemented side by side by the WASM engine ({@linkcode WasmEngine}, on
 * the CPU, with forward, backward, clipping and optimizers by hand over one memory) and the
 * WebGPU engine ({@linkcode WebGpuEngine}), and {@linkcode createEngine} with `auto`'s rule.
 * Both run the three cells (LSTM, GRU, tanh RNN) with one-hot or embedded input; the parameter
 * layout is {@linkcode paramLayout}'s. The former names `WasmCore` and `WebGpuCore` remain, as
 * deprecated aliases.
 *
 * @example One Adam step on the WASM engine
 * ```ts
 * import { WasmEngine } from "./mod.ts";
 *
 * using core = WasmEngine.create({ vocabSize: 4, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 });
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
export { WasmEngine } from "./wasm_engine.ts";
export type { AdamOptions, ForwardOptions, SgdOptions, WasmEngineOptions } from "./wasm_options.ts";
export type { CoreVariant } from "./wasm_module.ts";
export { WebGpuEngine, type WebGpuEngineOptions, WebGpuUnavailableError } from "./webgpu_engine.ts";
export {
  WasmCore,
  type WasmCoreOptions,
  WebGpuCore,
  type WebGpuCoreOptions,
} from "./deprecated.ts";
export type { GpuContext } from "./gpu_device.ts";
export { defaultThreads } from "./threads.ts";
export type { Cell, CoreConfig, ModelConfig } from "../model/config.ts";
export {
  type LayerTensors,
  type ParamLayout,
  paramLayout,
  type TensorSpec,
} from "../model/params.ts";
