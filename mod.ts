/**
 * charlstm: character-level language models (LSTM) trained on the CPU with a WebAssembly SIMD
 * core compiled from AssemblyScript, whose every gradient matches TensorFlow.js.
 *
 * Create a model from a text, train it, sample from it, evaluate it, save it as a safetensors
 * checkpoint that PyTorch reads, and load it back.
 *
 * @example
 * ```ts
 * import { createModel, evaluate, load, sample, save, train } from "./mod.ts";
 *
 * const text = "the cat sat on the mat. the dog ran far away.\n".repeat(200);
 * const model = createModel(text, { hidden: 64, layers: 2, dropout: 0.1 });
 * await train(model, text, { steps: 50, batch: 16, seq: 32, lr: 0.005 });
 * console.log(evaluate(model, text.slice(0, 2000)));
 * console.log(sample(model, { prime: "the ", length: 100, topK: 3, seed: 1 }));
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await save(model, path);
 * const again = await load(path);
 * ```
 *
 * @module
 */

export {
  type CharModel,
  type CharModelConfig,
  createModel,
  type ModelOptions,
  type TrainState,
} from "./src/model/model.ts";
export {
  train,
  type TrainEvent,
  trainEvents,
  type TrainOptions,
  type TrainResult,
} from "./src/train/train.ts";
export { evaluate, type EvaluateOptions } from "./src/train/evaluate.ts";
export { scheduledLr, type ScheduleOptions } from "./src/train/schedule.ts";
export { sample, type SampleOptions, sampleStream } from "./src/sample/sample.ts";
export {
  CheckpointError,
  FORMAT_VERSION,
  fromBytes,
  load,
  type LoadOptions,
  save,
  toBytes,
} from "./src/io/checkpoint.ts";
export { exportTfjs, type TfjsArtifacts, tfjsArtifacts } from "./src/io/tfjs.ts";
export { Vocab, VocabError } from "./src/data/vocab.ts";
export { readText, TextError } from "./src/data/text.ts";
export { batchCount, getBatch, getBatches, splitValidation } from "./src/data/batches.ts";
export {
  type AdamOptions,
  type ForwardOptions,
  WasmLstm,
  type WasmLstmOptions,
} from "./src/backend/wasm.ts";
export type { CoreVariant } from "./src/backend/_wasm_module.ts";
export {
  WebGpuLstm,
  type WebGpuLstmOptions,
  WebGpuUnavailableError,
} from "./src/backend/webgpu.ts";
export type {
  BackendChoice,
  BackendState,
  LstmBackend,
  StepResult,
  TrainStepOptions,
} from "./src/backend/backend.ts";
export {
  AUTO_WEBGPU_MIN_BATCH,
  createBackend,
  type CreateBackendOptions,
  WasmBackend,
} from "./src/backend/select.ts";
export type { GpuContext } from "./src/backend/_gpu_device.ts";
export type { Cell, CoreConfig, ModelConfig } from "./src/model/config.ts";
export type { ParamLayout, TensorSpec } from "./src/model/params.ts";
