// Mean cross-entropy of a model on a text, without training it.

import { WasmLstm } from "../backend/wasm.ts";
import { batchCount, getBatch } from "../data/batches.ts";
import type { CharModel } from "../model/model.ts";
import { defaultThreads } from "../backend/threads.ts";
import type { BackendChoice } from "../backend/backend.ts";
import { createBackend } from "../backend/select.ts";

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Parallel streams (default 32, fewer when the text is short). */
  batch?: number;
  /** Characters per window (default 100, the text's length minus one when shorter). */
  seq?: number;
  /** Threads for the WASM core (default: the number of cores). */
  threads?: number;
  /**
   * The engine (default `wasm`, and then `evaluate` returns the number itself); `webgpu` or
   * `auto` make it return a Promise, since GPU results come back asynchronously.
   */
  backend?: BackendChoice;
}

/**
 * Mean cross-entropy per character, in nats, of predicting each character of `text` from the
 * ones before it, dropout off. The text is cut into `batch` rows read in windows of `seq`
 * with the state carried from window to window, exactly as validation does during training
 * (the tutorial's get_batches: whole batches only, the last target of each row wraps to the
 * row's first character).
 *
 * @example
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { evaluate } from "./evaluate.ts";
 * const model = createModel("abcd", { hidden: 8, layers: 1 });
 * console.log(evaluate(model, "abcdabcdabcd")); // about ln 4 before training
 * console.log(await evaluate(model, "abcdabcdabcd", { backend: "auto" })); // same, any engine
 * ```
 */
export function evaluate(
  model: CharModel,
  text: string,
  options?: EvaluateOptions & { backend?: "wasm" },
): number;
/** Mean cross-entropy per character on the engine `options.backend` names (see above). */
export function evaluate(
  model: CharModel,
  text: string,
  options: EvaluateOptions & { backend: BackendChoice },
): number | Promise<number>;
export function evaluate(
  model: CharModel,
  text: string,
  options: EvaluateOptions = {},
): number | Promise<number> {
  const encoded = model.vocab.encode(text);
  if (encoded.length < 2) {
    throw new RangeError(
      `Text too short: ${encoded.length} characters: evaluation needs at least 2`,
    );
  }
  const seq = Math.min(options.seq ?? 100, encoded.length - 1);
  const batch = Math.max(1, Math.min(options.batch ?? 32, Math.floor(encoded.length / seq)));
  const batches = batchCount(encoded.length, batch, seq);
  if ((options.backend ?? "wasm") !== "wasm") {
    return evaluateOn(model, options, batch, seq, batches, encoded);
  }
  using core = WasmLstm.create({ ...model.config, batch, seq }, {
    threads: options.threads ?? defaultThreads(),
  });
  core.params.set(model.params);
  let total = 0;
  for (let i = 0; i < batches; i++) {
    getBatch(encoded, batch, seq, i, core.inputs, core.targets);
    total += core.forward({ training: false, reuseWeights: true });
    core.carryState();
  }
  return total / batches;
}

async function evaluateOn(
  model: CharModel,
  options: EvaluateOptions,
  batch: number,
  seq: number,
  batches: number,
  encoded: Int32Array,
): Promise<number> {
  using core = await createBackend({ ...model.config, batch, seq }, {
    backend: options.backend,
    threads: options.threads ?? defaultThreads(),
  });
  core.load({ params: model.params });
  return await core.evaluateBatches(
    batches,
    (i, x, y) => getBatch(encoded, batch, seq, i, x, y),
    false,
  );
}
