// The parameter layout: every weight in one Float32Array at named offsets, in the order and
// with the names of the PyTorch CharRNN state_dict. Gradients and optimizer moments use the
// same layout, so an optimizer is one flat loop over the whole array.

import type { ModelConfig } from "./config.ts";

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

/** Input width of LSTM layer `layer`: the vocabulary for the one-hot first layer. */
export function layerInputSize(config: ModelConfig, layer: number): number {
  return layer === 0 ? config.vocabSize : config.hidden;
}

/** The layout for a config: per layer W_ih [4H, in], W_hh [4H, H], b_ih, b_hh; then fc. */
export function paramLayout(config: ModelConfig): ParamLayout {
  const H = config.hidden;
  const tensors: TensorSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape, offset, size });
    offset += Math.ceil(size / 4) * 4;
  };
  for (let l = 0; l < config.layers; l++) {
    add(`lstm.weight_ih_l${l}`, [4 * H, layerInputSize(config, l)]);
    add(`lstm.weight_hh_l${l}`, [4 * H, H]);
    add(`lstm.bias_ih_l${l}`, [4 * H]);
    add(`lstm.bias_hh_l${l}`, [4 * H]);
  }
  add("fc.weight", [config.vocabSize, H]);
  add("fc.bias", [config.vocabSize]);
  return { tensors, byName: new Map(tensors.map((t) => [t.name, t])), size: offset };
}
