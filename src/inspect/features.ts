// Features of a text that a cell may follow, one value per position of a trace (the model
// having read character p): inside double quotes, inside brackets, position in the line, the
// start of a word, just after a newline, and any mask the caller gives.

/** A named value per position, for {@linkcode rankCells} to correlate cells with. */
export interface Feature {
  /** A short key: `quotes`, `brackets`, `line`, `word`, `newline`, or the caller's. */
  name: string;
  /** What it means, for people: "inside double quotes". */
  label: string;
  /** One value per position (0 or 1 for a mask). */
  values: Float32Array;
}

/** The built-in features' names and labels, in the order {@linkcode textFeatures} gives them. */
export const TEXT_FEATURES = {
  quotes: "inside double quotes",
  brackets: "inside parentheses or brackets",
  line: "position in the line",
  word: "start of a word",
  newline: "after a newline",
} as const;

const OPEN = new Set(["(", "[", "{"]);
const CLOSE = new Set([")", "]", "}"]);
const WORD = /^[\p{L}\p{N}_']$/u;

/**
 * The built-in features of a text given as characters (code points), at positions 0 to
 * `positions - 1` (default: every character but the last, as a trace has): after reading
 * `chars[p]`, is the reader inside double quotes (`"` toggles; `“` opens and `”` closes: the
 * opening quote counts as inside, the closing one as outside), inside parentheses, brackets or
 * braces (the opening one counts as inside), how many characters since the last newline
 * (0 on the newline), is `chars[p]` the first character of a word (a letter, digit, `_` or `'`
 * after anything else), and is it a newline.
 *
 * @example Quotes and line positions
 * ```ts
 * import { textFeatures } from "./features.ts";
 * const [quotes, , line] = textFeatures([...'a "b" c\nd'], 9);
 * console.log(quotes.values.join("")); // 001100000
 * console.log(line.values.join(" ")); // 1 2 3 4 5 6 7 0 1
 * ```
 */
export function textFeatures(chars: readonly string[], positions = chars.length - 1): Feature[] {
  const n = Math.max(0, Math.min(positions, chars.length));
  return new TextFeatureStream().next(n === chars.length ? chars : chars.slice(0, n));
}

/**
 * {@linkcode textFeatures} a stretch at a time, for a text too long to hold whole: each call
 * gives the features of the next characters, carrying what the reader is inside (quotes,
 * brackets, the line, a word) from the stretch before. The stretches joined are
 * `textFeatures` of the whole.
 *
 * @example Two stretches, one text
 * ```ts
 * import { TextFeatureStream } from "./features.ts";
 * const stream = new TextFeatureStream();
 * const [a] = stream.next([...'a "b']), [b] = stream.next([...'" c']);
 * console.log(a.values.join(""), b.values.join("")); // 0011 000
 * ```
 */
export class TextFeatureStream {
  #inQuotes = false;
  #depth = 0;
  #column = 0;
  #prevWord = false;

  /**
   * The built-in features of the next characters, one value per character.
   *
   * @example Usage
   * ```ts
   * import { TextFeatureStream } from "./features.ts";
   * console.log(new TextFeatureStream().next([..."ab"]).length); // 5
   * ```
   *
   * @param chars The next characters (code points).
   * @returns The features, in {@linkcode TEXT_FEATURES}'s order.
   */
  next(chars: readonly string[]): Feature[] {
    const n = chars.length;
    const quotes = new Float32Array(n), brackets = new Float32Array(n);
    const line = new Float32Array(n), word = new Float32Array(n), newline = new Float32Array(n);
    let inQuotes = this.#inQuotes, depth = this.#depth, column = this.#column;
    let prevWord = this.#prevWord;
    for (let p = 0; p < n; p++) {
      const ch = chars[p];
      if (ch === '"') inQuotes = !inQuotes;
      else if (ch === "“") inQuotes = true;
      else if (ch === "”") inQuotes = false;
      if (OPEN.has(ch)) depth++;
      else if (CLOSE.has(ch)) depth = Math.max(0, depth - 1);
      column = ch === "\n" ? 0 : column + 1;
      const isWord = WORD.test(ch);
      quotes[p] = inQuotes ? 1 : 0;
      brackets[p] = depth > 0 || OPEN.has(ch) ? 1 : 0;
      line[p] = column;
      word[p] = isWord && !prevWord ? 1 : 0;
      newline[p] = ch === "\n" ? 1 : 0;
      prevWord = isWord;
    }
    this.#inQuotes = inQuotes;
    this.#depth = depth;
    this.#column = column;
    this.#prevWord = prevWord;
    const values = { quotes, brackets, line, word, newline };
    return (Object.keys(TEXT_FEATURES) as (keyof typeof TEXT_FEATURES)[]).map((name) => ({
      name,
      label: TEXT_FEATURES[name],
      values: values[name],
    }));
  }
}

/**
 * A feature from the caller's mask (true or non-zero: on), one entry per position.
 *
 * @example Marking the positions after a vowel
 * ```ts
 * import { maskFeature } from "./features.ts";
 * const chars = [..."banana"];
 * const vowel = maskFeature("vowel", "after a vowel", chars.slice(0, 5).map((c) => "aeiou".includes(c)));
 * console.log(vowel.values.join("")); // 01010
 * ```
 *
 * @throws {RangeError} If the name is empty or an entry is not a finite number or a boolean.
 */
export function maskFeature(
  name: string,
  label: string,
  mask: ArrayLike<number | boolean>,
): Feature {
  if (typeof name !== "string" || name === "") {
    throw new RangeError("Cannot use the mask: it has no name: give a short name such as 'vowel'");
  }
  const values = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i];
    if (typeof v === "boolean") values[i] = v ? 1 : 0;
    else if (typeof v === "number" && Number.isFinite(v)) values[i] = v;
    else {
      throw new RangeError(
        `Cannot use the mask ${name}: entry ${i} is ${String(v)}: give booleans or finite numbers`,
      );
    }
  }
  return { name, label: label || name, values };
}
