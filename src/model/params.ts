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

/** All tensors of a model and the total floats they span (with 16-byte alignment padding). */
export interface ParamLayout {
  /** Every tensor, in state_dict order. */
  tensors: TensorSpec[];
  /** The tensors by name. */
  byName: Map<string, TensorSpec>;
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
 */
export function paramLayout(config: ModelConfig): ParamLayout {
  const H = config.hidden;
  const cell = config.cell ?? "lstm";
  const G = gateBlocks(cell) * H;
  const tensors: TensorSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape, offset, size });
    offset += Math.ceil(size / 4) * 4;
  };
  if (config.embedding) add("encoder.weight", [config.vocabSize, config.embedding]);
  for (let l = 0; l < config.layers; l++) {
    add(`${cell}.weight_ih_l${l}`, [G, layerInputSize(config, l)]);
    add(`${cell}.weight_hh_l${l}`, [G, H]);
    add(`${cell}.bias_ih_l${l}`, [G]);
    add(`${cell}.bias_hh_l${l}`, [G]);
  }
  add("fc.weight", [config.vocabSize, H]);
  add("fc.bias", [config.vocabSize]);
  return { tensors, byName: new Map(tensors.map((t) => [t.name, t])), size: offset };
}
