// What a plan needs to know of a text, whether it is a string or a corpus read from a token
// file: its length and how many distinct characters it has.

import type { Corpus } from "./corpus.ts";

/** The length and the number of distinct characters of a text. */
export interface TextStats {
  /** Its length: UTF-16 units for a string (`text.length`), characters for a corpus. */
  length: number;
  /** Its distinct characters (code points). */
  distinct: number;
}

/**
 * The length and distinct characters of a string or a {@linkcode Corpus}, without reading a
 * corpus's text.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { textStats } from "./text_stats.ts";
 *
 * assert.deepEqual(textStats("banana"), { length: 6, distinct: 3 });
 * ```
 *
 * @param text A string or a corpus.
 * @returns Its length and distinct characters.
 */
export function textStats(text: string | Corpus): TextStats {
  return typeof text === "string"
    ? { length: text.length, distinct: new Set(text).size }
    : { length: text.length, distinct: text.vocab.size };
}
