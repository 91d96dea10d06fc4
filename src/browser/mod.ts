/**
 * charlstm in a web page: the `.` entry point's API, with checkpoints and texts read from
 * bytes, a Blob or File, or a URL instead of file paths. `deno task build` bundles it into
 * `build/browser/charlstm.js`, an ES module (with `charlstm_worker.js`, the WASM core's worker
 * thread, beside it).
 *
 * Threads: the WASM core runs its threads in Web Workers sharing one memory where the page is
 * cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`) and the code runs in a Worker; the default is
 * then the number of cores, as in Deno. A page's main thread may not block in `Atomics.wait`,
 * which the core's barriers need, and a page that is not isolated has no shared memory: there
 * the default is 1 thread (on a memory that is not shared), with the same results.
 *
 * The inside view (`./inspect`'s API: trace, the text's features, the cell ranking and the span
 * query) is here too, for the studio's Inside panel, and so are fine-tuning's parts that
 * `./fine_tune` holds apart in Deno (`FINE_TUNE_RULE`, `widenVocab`, `bundledModelUrl`): a page
 * has this one module.
 *
 * A text too large for one string (a dropped 1 GB file) is a corpus: `openCorpus(file)` reads
 * the File (a Blob, or a `ReadableStream` of bytes) once, with the same UTF-8 errors, into ids
 * kept in an Origin Private File System file where the code runs in a dedicated Worker (else in
 * memory, 1, 2 or 4 bytes a character), and `train`, `evaluate`, `createModel`, `recipe` and
 * `prepareFineTune` take it wherever they take a text.
 *
 * WebGPU: where the browser offers an adapter, `backend: "webgpu"` trains on it, and `auto`
 * follows the same rule as in Deno.
 *
 * @example Train and sample in a page
 * ```ts
 * import { createModel, sample, train } from "./mod.ts";
 *
 * const text = "the cat sat on the mat. ".repeat(100);
 * const model = createModel(text, { hidden: 32, layers: 1, seed: 1 });
 * await train(model, text, { steps: 5, batch: 8, seq: 16 });
 * console.log(sample(model, { prime: "the ", length: 20, seed: 1 }));
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
} from "../model/model.ts";
export type { Cell, ModelConfig } from "../model/config.ts";
export {
  train,
  type TrainEvent,
  trainEvents,
  type TrainOptions,
  type TrainResult,
} from "../train/train.ts";
export type { ScheduleOptions } from "../train/schedule.ts";
export { PRESETS, type Recipe, recipe, type RecipeOptions } from "../train/recipe.ts";
export { evaluate, type EvaluateOptions } from "../train/evaluate.ts";
export { sample, type SampleOptions, sampleStream } from "../sample/sample.ts";
export { type Beam, type BeamOptions, beamSearch } from "../sample/beam.ts";
export { CheckpointError, fromBytes, type SaveOptions, toBytes } from "../io/checkpoint.ts";
export { BUNDLED_MODELS, bundledModelUrl } from "../io/models.ts";
export { type WidenOptions, widenVocab } from "../model/widen.ts";
export {
  FINE_TUNE_RULE,
  type FineTune,
  type FineTuneOptions,
  prepareFineTune,
} from "../train/fine_tune.ts";
export { type CheckpointSource, load, readText, save } from "./io.ts";
export { Vocab, type VocabEncoding, VocabError, type VocabOptions } from "../data/vocab.ts";
export { decodeText, TextError } from "../data/text.ts";
export { type Corpus, type CorpusOptions, openCorpus } from "../data/corpus.ts";
export type { BackendChoice } from "../engine/engine.ts";
export { WebGpuUnavailableError } from "../engine/webgpu_engine.ts";
export { defaultThreads, threadsUnavailable } from "../engine/threads.ts";
export {
  CellCorrelator,
  cellValues,
  describeScore,
  maskFeature,
  parseCell,
  querySpan,
  rankCells,
  textFeatures,
  trace,
  traceChunks,
} from "../inspect/mod.ts";
