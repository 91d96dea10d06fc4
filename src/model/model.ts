// The model a user holds: config, vocabulary, parameters, and the training state needed to
// resume. Compute cores are created from it for a given (batch, seq) and write back into it.

import { Random } from "../_random.ts";
import type { BackendChoice } from "../backend/backend.ts";
import { Vocab } from "../data/vocab.ts";
import { type ModelConfig, validateCoreConfig } from "./config.ts";
import { type ParamLayout, paramLayout } from "./params.ts";

/** Options for {@linkcode createModel}. */
export interface ModelOptions {
  /** Recurrent cell; only `lstm` exists so far. */
  cell?: "lstm";
  /** Hidden units per layer (default 256). */
  hidden?: number;
  /** Stacked layers (default 2). */
  layers?: number;
  /** Dropout between layers and before the output layer (default 0.5). */
  dropout?: number;
  /** Seed for initialisation, dropout and data order (default 0). */
  seed?: number;
  /** The engine `train` uses unless its options say otherwise (default `auto`). */
  backend?: BackendChoice;
}

/** A model's full configuration, as stored in checkpoints. */
export interface CharModelConfig extends ModelConfig {
  /** The recurrent cell. */
  cell: "lstm";
  /** Seed for initialisation, dropout and data order. */
  seed: number;
}

/** Where training stands, so that it resumes exactly. */
export interface TrainState {
  /** Optimizer steps taken. */
  step: number;
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** Index of the next batch within its epoch. */
  batchInEpoch: number;
  /** Batch geometry the state belongs to. */
  batch: number;
  /** Characters per sequence the state belongs to. */
  seq: number;
  /** Best validation loss so far (Infinity if none). */
  bestValLoss: number;
  /** Multiplies the learning rate: halved each time training diverged and was restored. */
  lrScale: number;
  /** The optimizer the moments belong to (absent in older states: adam). */
  optimizer?: "adam" | "sgd";
  /** Adam's first moments, or SGD's momentum buffer; same layout as the parameters. */
  adamM: Float32Array;
  /** Adam's second moments, same layout as the parameters. */
  adamV: Float32Array;
  /** Hidden and cell state carried into the next batch, `[layers, batch, hidden]`. */
  h: Float32Array;
  /** Cell state carried into the next batch, `[layers, batch, hidden]`. */
  c: Float32Array;
}

/** A character-level language model. */
export interface CharModel {
  /** The model's shape and seed. */
  readonly config: CharModelConfig;
  /** The characters, in index order. */
  readonly vocab: Vocab;
  /** Where each named tensor lies in `params`. */
  readonly layout: ParamLayout;
  /** Every weight, laid out as `layout` says (PyTorch CharRNN names). */
  params: Float32Array;
  /** Present once the model has been trained (or loaded from a training checkpoint). */
  trainState: TrainState | null;
  /** The engine `train` uses unless its options say otherwise (absent: `auto`). */
  backend?: BackendChoice;
}

/**
 * Creates a model with PyTorch's default initialisation (every LSTM and linear weight and
 * bias uniform in ±1/√hidden) for the characters of `source`: a text, or a vocabulary given
 * as a `Vocab` or an array of single characters.
 *
 * @example
 * ```ts
 * import { createModel } from "./model.ts";
 * const model = createModel("hello world", { hidden: 32, layers: 1 });
 * console.log(model.vocab.size, model.params.length);
 * ```
 */
export function createModel(
  source: string | Vocab | string[],
  options: ModelOptions = {},
): CharModel {
  const vocab = source instanceof Vocab
    ? source
    : Array.isArray(source)
    ? new Vocab(source)
    : Vocab.fromText(source);
  if (vocab.size === 0) {
    throw new RangeError("Empty vocabulary: the text has no characters: give a non-empty text");
  }
  const cell = options.cell ?? "lstm";
  if (cell !== "lstm") {
    throw new RangeError(`Invalid config: cell must be "lstm", got ${JSON.stringify(cell)}`);
  }
  const config: CharModelConfig = {
    cell,
    vocabSize: vocab.size,
    hidden: options.hidden ?? 256,
    layers: options.layers ?? 2,
    dropout: options.dropout ?? 0.5,
    seed: options.seed ?? 0,
  };
  validateCoreConfig({ ...config, batch: 1, seq: 1 });
  const layout = paramLayout(config);
  const params = new Float32Array(layout.size);
  const random = new Random(config.seed ^ 0x5eed1);
  const k = 1 / Math.sqrt(config.hidden);
  for (const t of layout.tensors) {
    for (let i = 0; i < t.size; i++) params[t.offset + i] = random.uniform(-k, k);
  }
  const model: CharModel = { config, vocab, layout, params, trainState: null };
  if (options.backend !== undefined) model.backend = checkBackend(options.backend);
  return model;
}

/** Returns `backend` when it names an engine; throws a RangeError otherwise. */
export function checkBackend(backend: BackendChoice): BackendChoice {
  if (backend !== "auto" && backend !== "wasm" && backend !== "webgpu") {
    throw new RangeError(
      `Invalid option: backend must be auto, wasm or webgpu, got ${JSON.stringify(backend)}`,
    );
  }
  return backend;
}
