// evaluate: the mean cross-entropy of a model on a text, without training it, on any engine.

import { type BackendChoice, checkBackend } from "../engine/engine.ts";
import { createEngine } from "../engine/create.ts";
import { defaultThreads } from "../engine/threads.ts";
import { batchCount, getBatch } from "../data/batches.ts";
import type { CharModel } from "../model/model.ts";

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Parallel streams (default 32, fewer when the text is short). */
  batch?: number;
  /** Characters per window (default 100, the text's length minus one when shorter). */
  seq?: number;
  /** Threads for the WASM core (default: the number of cores). */
  threads?: number;
  /** The engine: `wasm` (default), `webgpu` or `auto`; every engine gives the same figure. */
  backend?: BackendChoice;
}

/**
 * Mean cross-entropy per character, in nats, of predicting each character of `text` from the
 * ones before it, dropout off. The text is cut into `batch` rows read in windows of `seq`
 * with the state carried from window to window, exactly as validation does during training
 * (the tutorial's get_batches: whole batches only, the last target of each row wraps to the
 * row's first character).
 *
 * @example Loss of an untrained model
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { evaluate } from "./evaluate.ts";
 * const model = createModel("abcd", { hidden: 8, layers: 1 });
 * console.log(await evaluate(model, "abcdabcdabcd")); // about ln 4 before training
 * ```
 */
export async function evaluate(
  model: CharModel,
  text: string,
  options: EvaluateOptions = {},
): Promise<number> {
  const backend = checkBackend(options.backend ?? "wasm");
  const encoded = model.vocab.encode(text);
  if (encoded.length < 2) {
    throw new RangeError(
      `Cannot evaluate: the text has ${encoded.length} characters: evaluation needs at least 2`,
    );
  }
  const seq = Math.min(options.seq ?? 100, encoded.length - 1);
  const batch = Math.max(1, Math.min(options.batch ?? 32, Math.floor(encoded.length / seq)));
  const batches = batchCount(encoded.length, batch, seq);
  using engine = await createEngine({ ...model.config, batch, seq }, {
    backend,
    threads: options.threads ?? defaultThreads(),
  });
  engine.load({ params: model.params });
  return await engine.evaluateBatches(
    batches,
    (i, x, y) => getBatch(encoded, batch, seq, i, x, y),
    false,
  );
}
