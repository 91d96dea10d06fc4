// The model a user holds: config, vocabulary, parameters, and the training state needed to
// resume. Compute cores are created from it for a given (batch, seq) and write back into it.

import { Random } from "../_random.ts";
import { Corpus } from "../data/corpus.ts";
import { Vocab } from "../data/vocab.ts";
import { type Cell, type ModelConfig, validateCoreConfig } from "./config.ts";
import { type ParamLayout, paramLayout } from "./params.ts";

/**
 * The defaults of {@linkcode ModelOptions}: their one home. The cell, width, depth and dropout
 * are what the recipe (`recipe` in src/train/recipe.ts) picks for ten minutes on a text of a
 * million characters on the machine it was measured on (bench/README.md); `recipe(text)` picks
 * them for a given text, budget and machine.
 */
export const MODEL_DEFAULTS = {
  cell: "gru",
  embedding: 0,
  init: "default",
  lowercase: false,
  minFreq: 1,
  hidden: 256,
  layers: 2,
  dropout: 0.1,
  forgetBias: 0,
  inputScale: 1,
  seed: 0,
} as const;

/** Options for {@linkcode createModel}. */
export interface ModelOptions {
  /** Recurrent cell: `gru` (default), `lstm` or `rnn` (tanh), with PyTorch's equations. */
  cell?: Cell;
  /** Width of a learned input embedding (`encoder.weight`); 0 (default): one-hot input. */
  embedding?: number;
  /**
   * Initialisation: `default` is PyTorch's; `identity` also sets every W_hh of an `rnn` to the
   * identity matrix (the fast.ai lesson's IRNN).
   */
  init?: "default" | "identity";
  /** Lowercase the text and the vocabulary (the text form only; default false). */
  lowercase?: boolean;
  /** Characters seen fewer times share one unknown symbol (the text form only; default 1). */
  minFreq?: number;
  /** Hidden units per layer (default 256). */
  hidden?: number;
  /** Stacked layers (default 2). */
  layers?: number;
  /** Dropout between layers and before the output layer (default 0.1). */
  dropout?: number;
  /**
   * The LSTM's forget-gate bias at the start (default 0: PyTorch's uniform initialisation):
   * otherwise each layer's `b_ih` forget slice is set to it and its `b_hh` forget slice to 0.
   * Gers et al. and Jozefowicz et al. recommend 1; measured here (bench/README.md), 1 learned
   * less in the same time than PyTorch's init. Other cells ignore it.
   */
  forgetBias?: number;
  /**
   * With one-hot input (no embedding), the first layer's input weights `weight_ih_l0` are drawn
   * uniform in ±inputScale instead of PyTorch's ±1/√hidden (default 1; 0 keeps PyTorch's). A
   * one-hot character reaches each gate through a single weight, while the recurrent input
   * sums `hidden` of them: in PyTorch's range the character is a whisper beside the state, and
   * an LSTM then sits at the unigram loss for its first hundred steps or so. Same draws,
   * rescaled; an embedding's first layer keeps PyTorch's range (its inputs are dense).
   */
  inputScale?: number;
  /** Seed for initialisation, dropout and data order (default 0). */
  seed?: number;
}

/** A model's full configuration, as stored in checkpoints. */
export interface CharModelConfig extends ModelConfig {
  /** The recurrent cell. */
  cell: Cell;
  /** Width of the learned input embedding; 0 for one-hot input. */
  embedding: number;
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
  /**
   * The weight decay training used (absent in older states: 0); a resume without
   * `weightDecay` continues with it.
   */
  weightDecay?: number;
  /** Seconds of training (wall clock) in all, resumes included (absent in older states: 0). */
  trainTime?: number;
  /** The time budget in seconds the model trains under, when it trains by the clock. */
  timeBudget?: number;
  /** Adam's first moments, or SGD's momentum buffer; same layout as the parameters. */
  adamM: Float32Array;
  /** Adam's second moments, same layout as the parameters. */
  adamV: Float32Array;
  /** Hidden state carried into the next batch, `[layers, batch, hidden]`. */
  h: Float32Array;
  /** LSTM cell state carried into the next batch, `[layers, batch, hidden]` (zeros otherwise). */
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
}

/**
 * Creates a model with PyTorch's default initialisation (every recurrent and linear weight and
 * bias uniform in ±1/√hidden, an embedding standard normal), except that one-hot input weights
 * of the first layer are uniform in ±`inputScale` (1 by default; see {@linkcode ModelOptions})
 * and an LSTM's forget-gate bias may be set (`forgetBias`), for the characters of `source`: a
 * text, or a vocabulary given as a `Vocab` or an array of single characters.
 *
 * @example Creating a model from a text
 * ```ts
 * import { createModel } from "./model.ts";
 * const model = createModel("hello world", { hidden: 32, layers: 1 });
 * console.log(model.vocab.size, model.params.length);
 * ```
 */
export function createModel(
  source: string | Vocab | string[] | Corpus,
  options: ModelOptions = {},
): CharModel {
  const d = MODEL_DEFAULTS;
  if (source instanceof Corpus) {
    if (options.lowercase || (options.minFreq ?? d.minFreq) !== d.minFreq) {
      throw new RangeError(
        "Invalid option: lowercase and minFreq need the text as a string, got a corpus: read " +
          "it with readText, or pass a Vocab built with Vocab.fromText(text, { lowercase, minFreq })",
      );
    }
    source = source.vocab;
  }
  const fromText = typeof source === "string";
  if (!fromText && (options.lowercase || (options.minFreq ?? d.minFreq) !== d.minFreq)) {
    throw new RangeError(
      "Invalid option: lowercase and minFreq need a text, got a vocabulary: pass the text, " +
        "or a Vocab built with Vocab.fromText(text, { lowercase, minFreq })",
    );
  }
  if (source === "") {
    throw new RangeError(
      "Cannot create a model: the text has no characters: give a non-empty text",
    );
  }
  const vocab = source instanceof Vocab
    ? source
    : Array.isArray(source)
    ? new Vocab(source)
    : Vocab.fromText(source, { lowercase: options.lowercase, minFreq: options.minFreq });
  const config: CharModelConfig = {
    cell: options.cell ?? d.cell,
    embedding: options.embedding ?? d.embedding,
    vocabSize: vocab.size,
    hidden: options.hidden ?? d.hidden,
    layers: options.layers ?? d.layers,
    dropout: options.dropout ?? d.dropout,
    seed: options.seed ?? d.seed,
  };
  validateCoreConfig({ ...config, batch: 1, seq: 1 });
  const init = options.init ?? d.init;
  if (init !== "default" && init !== "identity") {
    throw new RangeError(
      `Invalid option: init must be default or identity, got ${JSON.stringify(init)}`,
    );
  }
  if (init === "identity" && config.cell !== "rnn") {
    throw new RangeError(
      `Invalid option: init identity needs cell rnn, got ${config.cell}: the ${config.cell}'s ` +
        "W_hh is not square",
    );
  }
  const layout = paramLayout(config);
  const params = new Float32Array(layout.size);
  const random = new Random(config.seed ^ 0x5eed1);
  const k = 1 / Math.sqrt(config.hidden);
  for (const t of layout.tensors) {
    const embedding = t.name === "encoder.weight";
    for (let i = 0; i < t.size; i++) {
      params[t.offset + i] = embedding ? random.normal() : random.uniform(-k, k);
    }
  }
  const inputScale = options.inputScale ?? d.inputScale;
  if (typeof inputScale !== "number" || !(inputScale >= 0) || !Number.isFinite(inputScale)) {
    throw new RangeError(
      `Invalid option: inputScale must be a finite number ≥ 0, got ${inputScale}`,
    );
  }
  if (config.embedding === 0 && inputScale !== 0) {
    const w = layout.layers[0].wih;
    for (let i = w.offset; i < w.offset + w.size; i++) params[i] *= inputScale / k;
  }
  const forgetBias = options.forgetBias ?? d.forgetBias;
  if (typeof forgetBias !== "number" || !Number.isFinite(forgetBias)) {
    throw new RangeError(`Invalid option: forgetBias must be a finite number, got ${forgetBias}`);
  }
  if (config.cell === "lstm" && forgetBias !== 0) {
    // PyTorch's gate order is i, f, g, o: the forget gate is rows [H, 2H) of each bias.
    const H = config.hidden;
    for (const { bih, bhh } of layout.layers) {
      params.fill(forgetBias, bih.offset + H, bih.offset + 2 * H);
      params.fill(0, bhh.offset + H, bhh.offset + 2 * H);
    }
  }
  if (init === "identity") {
    const H = config.hidden;
    for (let l = 0; l < config.layers; l++) {
      const w = layout.layers[l].whh;
      params.fill(0, w.offset, w.offset + w.size);
      for (let j = 0; j < H; j++) params[w.offset + j * H + j] = 1;
    }
  }
  return { config, vocab, layout, params, trainState: null };
}
