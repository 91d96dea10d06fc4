/**
 * The tutorial's batching, for people who feed an engine themselves: a text split into a
 * training part and a held-out tail, cut into `batch` rows read in windows of `seq` with the
 * targets one character ahead (the PyTorch char-RNN lesson's `get_batches`, exactly). And a text
 * of any size as a {@linkcode Corpus}: read once as a stream into a token file (`openCorpus`),
 * then read by position; `train`, `trainEvents`, `createModel` and `recipe` take one wherever
 * they take a text.
 *
 * @example Batches of encoded text
 * ```ts
 * import { batchCount, getBatches, splitValidation } from "./mod.ts";
 *
 * const ids = new Int32Array(Array.from({ length: 100 }, (_, i) => i % 7));
 * const { train, val } = splitValidation(ids, 0.1);
 * console.log(batchCount(train.length, 2, 5), val.length);
 * for (const { x, y } of getBatches(train, 2, 5)) {
 *   console.log(x.length, y.length); // 10 10
 *   break;
 * }
 * ```
 *
 * @module
 */

export { batchCount, getBatch, getBatches, minimumLength, splitValidation } from "./batches.ts";
export { Corpus, type CorpusOptions, CorpusReader, openCorpus } from "./corpus.ts";
export type { IdSpan, IdStore } from "./id_store.ts";
export { type TextStats, textStats } from "./text_stats.ts";
