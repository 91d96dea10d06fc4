/**
 * charlstm: character-level language models (LSTM) trained on the CPU with a WebAssembly SIMD
 * core compiled from AssemblyScript.
 *
 * This module exposes the compute core: a stacked LSTM with one-hot input and a softmax
 * output, laid out once in one `WebAssembly.Memory`, whose forward pass, loss and every
 * gradient match TensorFlow.js.
 *
 * @example
 * ```ts
 * import { WasmLstm } from "./mod.ts";
 *
 * const net = WasmLstm.create({ vocabSize: 4, hidden: 16, layers: 2, dropout: 0, batch: 1, seq: 3 });
 * net.params.forEach((_, i) => (net.params[i] = Math.sin(i) * 0.1));
 * net.inputs.set([0, 1, 2]);
 * net.targets.set([1, 2, 3]);
 * const loss = net.forward();
 * net.backward();
 * console.log(loss, net.grad("fc.bias"));
 * ```
 *
 * @module
 */

export { type ForwardOptions, WasmLstm, type WasmLstmOptions } from "./src/backend/wasm.ts";
export type { CoreVariant } from "./src/backend/_wasm_module.ts";
export type { CoreConfig, ModelConfig } from "./src/model/config.ts";
export type { ParamLayout, TensorSpec } from "./src/model/params.ts";
