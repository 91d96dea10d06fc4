/**
 * charlstm: character-level language models — PyTorch's LSTM, GRU and tanh RNN — trained on
 * the CPU by a multi-threaded WebAssembly SIMD core, or on WebGPU, with every gradient checked
 * against TensorFlow.js and PyTorch.
 *
 * Create a model from a text, train it, evaluate it, sample from it, and save it as a
 * safetensors checkpoint that PyTorch reads. This entry point is the user's API; the compute
 * cores (`./engine`), the tutorial's batching helpers (`./data`), the TensorFlow.js export
 * (`./tfjs`), the inside view (`./inspect`) and fine-tuning's parts (`./fine_tune`: its rule,
 * the vocabulary widening, where the bundled models lie) have entry points of their own.
 *
 * @example Train, evaluate, sample, save and load
 * ```ts
 * import { createModel, evaluate, load, sample, save, train } from "./mod.ts";
 *
 * const text = "the cat sat on the mat. the dog ran far away.\n".repeat(200);
 * const model = createModel(text, { hidden: 64, layers: 2, dropout: 0.1 });
 * await train(model, text, { steps: 50, batch: 16, seq: 32, lr: 0.005 });
 * console.log(await evaluate(model, text.slice(0, 2000)));
 * console.log(sample(model, { prime: "the ", length: 100, topK: 3, seed: 1 }));
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await save(model, path);
 * const again = await load(path);
 * console.log(again.config.hidden); // 64
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
export type { Cell, ModelConfig } from "./src/model/config.ts";
export {
  train,
  type TrainEvent,
  trainEvents,
  type TrainOptions,
  type TrainResult,
} from "./src/train/train.ts";
export type { ScheduleOptions } from "./src/train/schedule.ts";
export { PRESETS, type Recipe, recipe, type RecipeOptions } from "./src/train/recipe.ts";
export { evaluate, type EvaluateOptions } from "./src/train/evaluate.ts";
export { sample, type SampleOptions, sampleStream } from "./src/sample/sample.ts";
export { type Beam, type BeamOptions, beamSearch } from "./src/sample/beam.ts";
export {
  CheckpointError,
  fromBytes,
  load,
  save,
  type SaveOptions,
  toBytes,
} from "./src/io/checkpoint.ts";
export { BUNDLED_MODELS } from "./src/io/models.ts";
export type { WidenOptions } from "./src/model/widen.ts";
export { type FineTune, type FineTuneOptions, prepareFineTune } from "./src/train/fine_tune.ts";
export { Vocab, type VocabEncoding, VocabError, type VocabOptions } from "./src/data/vocab.ts";
export { readText, TextError } from "./src/data/text.ts";
export { type Corpus, type CorpusOptions, openCorpus } from "./src/data/corpus.ts";
export type { BackendChoice } from "./src/engine/engine.ts";
export { WebGpuUnavailableError } from "./src/engine/webgpu_engine.ts";
