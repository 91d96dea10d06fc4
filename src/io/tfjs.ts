// Export to a TensorFlow.js LayersModel: model.json (topology + weights manifest) and
// weights.bin, which `tf.loadLayersModel` loads. The network is a Sequential model: an
// Embedding layer when the model has one, one LSTM or SimpleRNN layer per layer
// (return_sequences; the LSTM's recurrent_activation written as sigmoid explicitly: the tfjs
// default is hard_sigmoid), then a Dense layer with linear activation, so it outputs the same
// logits as this model for one-hot input [batch, time, vocabulary] (token ids [batch, time]
// with an embedding).
//
// Conversion (exact): kernel = W_ihᵀ [in, G], recurrent_kernel = W_hhᵀ [H, G],
// bias = b_ih + b_hh; the LSTM's gate order i, f, g, o is tfjs's i, f, c, o. Embedding
// embeddings = encoder.weight [V, N]. Dense kernel = fc.weightᵀ. A GRU has no exact tfjs form:
// tfjs implements only the reset-before GRU, PyTorch's is reset-after (docs/checkpoints.md,
// "TensorFlow.js export").

import type { CharModel } from "../model/model.ts";
import { gateBlocks } from "../model/config.ts";
import { layerInputSize, type TensorSpec } from "../model/params.ts";
import { CheckpointError } from "./checkpoint.ts";

/** What {@linkcode tfjsArtifacts} returns: the model.json object and the weights' bytes. */
export interface TfjsArtifacts {
  /** The content of model.json. */
  modelJson: Record<string, unknown>;
  /** The content of weights.bin (little-endian float32). */
  weights: Uint8Array;
}

const initializer = (name: string, config: Record<string, unknown> = {}) => ({
  class_name: name,
  config,
});

function transposed(src: Float32Array, rows: number, cols: number): Float32Array {
  // src is [rows, cols]; the result is [cols, rows].
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  }
  return out;
}

/**
 * The TensorFlow.js LayersModel of `model`, in memory.
 *
 * @example TensorFlow.js artifacts in memory
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { tfjsArtifacts } from "./tfjs.ts";
 * const { modelJson, weights } = tfjsArtifacts(createModel("abc", { cell: "lstm", hidden: 8, layers: 1 }));
 * console.log(Object.keys(modelJson), weights.length);
 * ```
 */
export function tfjsArtifacts(model: CharModel): TfjsArtifacts {
  const { hidden: H, layers: L, vocabSize: V, cell, embedding: N } = model.config;
  if (cell === "gru") {
    throw new CheckpointError(
      "Cannot export a gru to TensorFlow.js: tfjs has only the reset-before GRU, and PyTorch's " +
        "reset-after equations have no exact form there: save a .safetensors checkpoint instead",
    );
  }
  const G = gateBlocks(cell) * H;
  const lstm = cell === "lstm";
  const param = (t: TensorSpec) => model.params.subarray(t.offset, t.offset + t.size);
  const layers: Record<string, unknown>[] = [];
  const specs: { name: string; shape: number[]; dtype: "float32" }[] = [];
  const data: Float32Array[] = [];
  if (N) {
    layers.push({
      class_name: "Embedding",
      config: {
        name: "encoder",
        trainable: true,
        dtype: "float32",
        batch_input_shape: [null, null],
        input_dim: V,
        output_dim: N,
        embeddings_initializer: initializer("RandomUniform", {
          minval: -0.05,
          maxval: 0.05,
          seed: null,
        }),
        embeddings_regularizer: null,
        activity_regularizer: null,
        embeddings_constraint: null,
        mask_zero: false,
        input_length: null,
      },
    });
    specs.push({ name: "encoder/embeddings", shape: [V, N], dtype: "float32" });
    data.push(param(model.layout.embedding!).slice());
  }
  for (let l = 0; l < L; l++) {
    const name = `${cell}_${l + 1}`;
    const inSize = layerInputSize(model.config, l);
    layers.push({
      class_name: lstm ? "LSTM" : "SimpleRNN",
      config: {
        name,
        trainable: true,
        dtype: "float32",
        ...(l === 0 && !N ? { batch_input_shape: [null, null, V] } : {}),
        units: H,
        activation: "tanh",
        ...(lstm ? { recurrent_activation: "sigmoid", unit_forget_bias: false } : {}),
        use_bias: true,
        kernel_initializer: initializer("GlorotUniform", { seed: null }),
        recurrent_initializer: initializer("GlorotUniform", { seed: null }),
        bias_initializer: initializer("Zeros"),
        kernel_regularizer: null,
        recurrent_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        recurrent_constraint: null,
        bias_constraint: null,
        dropout: 0,
        recurrent_dropout: 0,
        ...(lstm ? { implementation: 2 } : {}),
        return_sequences: true,
        return_state: false,
        go_backwards: false,
        stateful: false,
        unroll: false,
      },
    });
    const tensors = model.layout.layers[l];
    const bih = param(tensors.bih), bhh = param(tensors.bhh);
    specs.push(
      { name: `${name}/kernel`, shape: [inSize, G], dtype: "float32" },
      { name: `${name}/recurrent_kernel`, shape: [H, G], dtype: "float32" },
      { name: `${name}/bias`, shape: [G], dtype: "float32" },
    );
    data.push(
      transposed(param(tensors.wih), G, inSize),
      transposed(param(tensors.whh), G, H),
      bih.map((b, i) => b + bhh[i]),
    );
  }
  layers.push({
    class_name: "Dense",
    config: {
      name: "fc",
      trainable: true,
      dtype: "float32",
      units: V,
      activation: "linear",
      use_bias: true,
      kernel_initializer: initializer("GlorotUniform", { seed: null }),
      bias_initializer: initializer("Zeros"),
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
  });
  specs.push(
    { name: "fc/kernel", shape: [H, V], dtype: "float32" },
    { name: "fc/bias", shape: [V], dtype: "float32" },
  );
  data.push(transposed(param(model.layout.fcWeight), V, H), param(model.layout.fcBias).slice());

  const total = data.reduce((n, d) => n + d.length, 0);
  const floats = new Float32Array(total);
  let at = 0;
  for (const d of data) {
    floats.set(d, at);
    at += d.length;
  }
  const weights = new Uint8Array(floats.buffer);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
    throw new Error(
      "Cannot export to TensorFlow.js: tfjs weights are little-endian and this platform is not",
    );
  }
  const modelJson = {
    format: "layers-model",
    generatedBy: "charlstm",
    convertedBy: null,
    modelTopology: {
      class_name: "Sequential",
      config: { name: "charlstm", layers },
      keras_version: "tfjs-layers 4.22.0",
      backend: "tensor_flow.js",
    },
    weightsManifest: [{ paths: ["weights.bin"], weights: specs }],
    userDefinedMetadata: {
      "charlstm.vocab": model.vocab.chars,
      "charlstm.vocab_encoding": { lowercase: model.vocab.lowercase, unknown: model.vocab.unknown },
    },
  };
  return { modelJson, weights };
}

/**
 * Writes `model` as a TensorFlow.js LayersModel into folder `dir`: `model.json` and
 * `weights.bin` (each written to a temporary file, then renamed). Load it with
 * `tf.loadLayersModel`; the output is logits for one-hot input `[batch, time, vocab]` (token
 * ids `[batch, time]` for a model with an embedding), and
 * `userDefinedMetadata["charlstm.vocab"]` lists the characters in index order. LSTM and RNN
 * models export exactly; a GRU cannot (tfjs has no reset-after GRU) and is refused.
 *
 * @example Writing model.json and weights.bin
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { exportTfjs } from "./tfjs.ts";
 * const dir = await Deno.makeTempDir();
 * await exportTfjs(createModel("abc", { cell: "lstm", hidden: 8, layers: 1 }), dir);
 * ```
 */
export async function exportTfjs(model: CharModel, dir: string): Promise<void> {
  const { modelJson, weights } = tfjsArtifacts(model);
  try {
    await Deno.mkdir(dir, { recursive: true });
    const write = async (name: string, bytes: Uint8Array) => {
      const tmp = `${dir}/.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, `${dir}/${name}`);
    };
    await write("weights.bin", weights);
    await write("model.json", new TextEncoder().encode(JSON.stringify(modelJson)));
  } catch (e) {
    throw new CheckpointError(`Cannot export to ${dir}: ${(e as Error).message}`, { cause: e });
  }
}
