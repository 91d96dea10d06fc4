// The parameter layout: every weight in one Float32Array at named offsets, in the order and
// with the names of the PyTorch CharRNN state_dict. Gradients and optimizer moments use the
// same layout, so an optimizer is one flat loop over the whole array.

import { gateBlocks, type ModelConfig } from "./config.ts";

/** One named tensor inside the flat parameter array. */
export interface TensorSpec {
  /** PyTorch state_dict name, e.g. `lstm.weight_ih_l0`. */
  name: string;
  /** Row-major shape. */
  shape: number[];
  /** Offset in floats from the start of the parameter array (a multiple of 4). */
  offset: number;
  /** Number of floats. */
  size: number;
}

/** The four tensors of one recurrent layer. */
export interface LayerTensors {
  /** W_ih, `[gates × H, in]`. */
  wih: TensorSpec;
  /** W_hh, `[gates × H, H]`. */
  whh: TensorSpec;
  /** b_ih, `[gates × H]`. */
  bih: TensorSpec;
  /** b_hh, `[gates × H]`. */
  bhh: TensorSpec;
}

/** All tensors of a model and the total floats they span (with 16-byte alignment padding). */
export interface ParamLayout {
  /** Every tensor, in state_dict order. */
  tensors: TensorSpec[];
  /** The tensors by name. */
  byName: Map<string, TensorSpec>;
  /** Each recurrent layer's tensors, bottom first: the one place their names are built. */
  layers: LayerTensors[];
  /** The output layer's weight `fc.weight`, `[V, H]`. */
  fcWeight: TensorSpec;
  /** The output layer's bias `fc.bias`, `[V]`. */
  fcBias: TensorSpec;
  /** The input embedding `encoder.weight`, `[V, N]`, or null for one-hot input. */
  embedding: TensorSpec | null;
  /** Floats the parameter array holds (alignment padding included). */
  size: number;
}

/**
 * Input width of recurrent layer `layer`: for the first, the embedding width or (one-hot) the
 * vocabulary; the hidden size above it.
 */
export function layerInputSize(config: ModelConfig, layer: number): number {
  return layer > 0 ? config.hidden : config.embedding || config.vocabSize;
}

/**
 * The layout for a config: `encoder.weight` [V, N] with an embedding; per layer W_ih [G, in],
 * W_hh [G, H], b_ih, b_hh (G = gate blocks × H, named after the cell: `lstm.`, `gru.`,
 * `rnn.`); then fc.
 *
 * @example Where a tensor lies
 * ```ts
 * import { paramLayout } from "./params.ts";
 * const layout = paramLayout({ vocabSize: 5, hidden: 8, layers: 2, dropout: 0 });
 * console.log(layout.layers[1].whh.name, layout.layers[1].whh.offset, layout.size);
 * ```
 */
export function paramLayout(config: ModelConfig): ParamLayout {
  const H = config.hidden;
  const cell = config.cell ?? "lstm";
  const G = gateBlocks(cell) * H;
  const tensors: TensorSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]): TensorSpec => {
    const size = shape.reduce((a, b) => a * b, 1);
    const spec = { name, shape, offset, size };
    tensors.push(spec);
    offset += Math.ceil(size / 4) * 4;
    return spec;
  };
  const embedding = config.embedding
    ? add("encoder.weight", [config.vocabSize, config.embedding])
    : null;
  const layers: LayerTensors[] = [];
  for (let l = 0; l < config.layers; l++) {
    layers.push({
      wih: add(`${cell}.weight_ih_l${l}`, [G, layerInputSize(config, l)]),
      whh: add(`${cell}.weight_hh_l${l}`, [G, H]),
      bih: add(`${cell}.bias_ih_l${l}`, [G]),
      bhh: add(`${cell}.bias_hh_l${l}`, [G]),
    });
  }
  const fcWeight = add("fc.weight", [config.vocabSize, H]);
  const fcBias = add("fc.bias", [config.vocabSize]);
  return {
    tensors,
    byName: new Map(tensors.map((t) => [t.name, t])),
    layers,
    fcWeight,
    fcBias,
    embedding,
    size: offset,
  };
}
