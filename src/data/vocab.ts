// The character vocabulary: Unicode code points (not UTF-16 units) and their integer ids.

/**
 * A vocabulary that cannot be built, or text or ids it cannot encode or decode.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Vocab, VocabError } from "./vocab.ts";
 *
 * assert.throws(() => Vocab.fromText("abc").encode("abd"), VocabError);
 * ```
 */
export class VocabError extends Error {
  /** @param message A one-line description of the problem. */
  /** Creates the error with its one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "VocabError";
  }
}

const MAX_LISTED = 10;
// The symbol rare characters map to (--min-freq): U+FFFD REPLACEMENT CHARACTER.
const UNKNOWN_CP = 0xfffd;
const UNKNOWN = String.fromCodePoint(UNKNOWN_CP);

/** How a vocabulary encodes text beyond its characters (stored with a model). */
export interface VocabEncoding {
  /** Lowercase text before encoding it (default false). */
  lowercase?: boolean;
  /** The character (one of the vocabulary's) that unknown characters encode to (default none). */
  unknown?: string | null;
}

/** Options for {@linkcode Vocab.fromText}. */
export interface VocabOptions {
  /** Lowercase the text first (default false). */
  lowercase?: boolean;
  /**
   * Characters seen fewer times than this map to one unknown symbol, U+FFFD "\uFFFD" (default 1:
   * keep every character).
   */
  minFreq?: number;
}
const utf16Decoder = new TextDecoder(
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "utf-16le" : "utf-16be",
  { ignoreBOM: true }, // a leading U+FEFF is a character here, not a byte order mark
);

function isSurrogate(cp: number): boolean {
  return cp >= 0xd800 && cp <= 0xdfff;
}

function hexCodePoint(cp: number): string {
  return "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
}

/**
 * The options of a vocabulary rule, checked, with their defaults: `Vocab.fromText`'s and
 * `corpusVocab`'s one home (not re-exported by mod.ts).
 *
 * @example The defaults
 * ```ts
 * import { vocabRule } from "./vocab.ts";
 * console.log(vocabRule({})); // { lowercase: false, minFreq: 1 }
 * ```
 */
export function vocabRule(options: VocabOptions): { lowercase: boolean; minFreq: number } {
  const lowercase = options.lowercase ?? false;
  const minFreq = options.minFreq ?? 1;
  if (!Number.isInteger(minFreq) || minFreq < 1) {
    throw new VocabError(
      `Invalid option: minFreq must be a positive integer (1 keeps every character), got ` +
        String(minFreq),
    );
  }
  return { lowercase, minFreq };
}

/**
 * The vocabulary of counted code points, given in ascending order: those seen at least
 * `minFreq` times in that order, then the unknown symbol if any were rarer (not re-exported by
 * mod.ts; `Vocab.fromText` and `corpusVocab` count, this decides).
 *
 * @example One rare character
 * ```ts
 * import { vocabFromCounts } from "./vocab.ts";
 * const v = vocabFromCounts([[97, 5], [98, 1]], { lowercase: false, minFreq: 2 });
 * console.log(v.chars); // ["a", "\uFFFD"]
 * ```
 */
export function vocabFromCounts(
  counts: Iterable<[number, number]>,
  rule: { lowercase: boolean; minFreq: number },
): Vocab {
  const chars: string[] = [];
  let rare = false;
  for (const [cp, n] of counts) {
    if (n >= rule.minFreq && cp !== UNKNOWN_CP) chars.push(String.fromCodePoint(cp));
    else rare = true;
  }
  // The unknown symbol sorts last, so the frequent characters keep their plain order.
  const unknown = rare ? UNKNOWN : null;
  if (unknown) chars.push(unknown);
  return new Vocab(chars, { lowercase: rule.lowercase, unknown });
}

/**
 * The characters of a character-level model, each a single Unicode code point, and the ids
 * (positions) they encode to. Emoji, combining marks and astral characters round-trip exactly:
 * a combining sequence such as "e\u0301" is two characters, and "🙂" is one, not two UTF-16
 * units.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Vocab } from "./vocab.ts";
 *
 * const vocab = Vocab.fromText("hello 🙂");
 * assert.deepEqual(vocab.chars, [" ", "e", "h", "l", "o", "🙂"]);
 * const ids = vocab.encode("hole 🙂");
 * assert.deepEqual([...ids], [2, 4, 3, 1, 0, 5]);
 * assert.equal(vocab.decode(ids), "hole 🙂");
 * ```
 */
export class Vocab {
  /** The characters in id order; `chars[id]` is the character with that id. */
  readonly chars: readonly string[];
  /** Text is lowercased before it is encoded (the lessons' `text.lower()`). */
  readonly lowercase: boolean;
  /**
   * The character that every character outside the vocabulary encodes to (one of `chars`), or
   * null: then encoding such a character is an error.
   */
  readonly unknown: string | null;
  readonly #unknownId: number;
  readonly #codes: Int32Array;
  readonly #bmp: Int32Array;
  readonly #astral: Map<number, number>;

  /**
   * Builds the vocabulary of a text: its distinct code points sorted by code point value. With
   * `lowercase`, of the lowercased text; with `minFreq`, characters seen fewer times share one
   * unknown symbol, U+FFFD, placed last.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * assert.deepEqual(Vocab.fromText("banana").chars, ["a", "b", "n"]);
   * const v = Vocab.fromText("Banana!", { lowercase: true, minFreq: 2 });
   * assert.deepEqual(v.chars, ["a", "n", "\uFFFD"]);
   * assert.equal(v.decode(v.encode("NAB")), "na\uFFFD");
   * ```
   *
   * @param text The corpus.
   * @param options Lowercasing and the minimum count of a character.
   * @returns A vocabulary with one id per distinct (frequent enough) character of `text`.
   * @throws {VocabError} If `text` contains a lone surrogate or `minFreq` is not a positive
   * integer.
   */
  static fromText(text: string, options: VocabOptions = {}): Vocab {
    const { lowercase, minFreq } = vocabRule(options);
    if (lowercase) text = text.toLowerCase();
    const seen = new Uint32Array(0x110000);
    const n = text.length;
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      let cp = text.charCodeAt(i);
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i++;
        }
      }
      if (seen[cp] === 0) {
        if (isSurrogate(cp)) {
          throw new VocabError(
            `Invalid text: lone surrogate ${hexCodePoint(cp)} at UTF-16 index ${i} is not a ` +
              `character`,
          );
        }
        distinct++;
      }
      seen[cp]++;
    }
    const counted = function* (): Generator<[number, number]> {
      for (let cp = 0, k = 0; k < distinct; cp++) {
        if (seen[cp] === 0) continue;
        k++;
        yield [cp, seen[cp]];
      }
    };
    return vocabFromCounts(counted(), { lowercase, minFreq });
  }

  /**
   * Builds a vocabulary with the given characters, in the given order (for example, as stored
   * with a trained model).
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * const vocab = new Vocab(["z", "a", "\n"]);
   * assert.equal(vocab.indexOf("a"), 1);
   * assert.throws(() => new Vocab(["a", "a"]), /duplicate character "a" at entries 0 and 1/);
   * assert.throws(() => new Vocab(["ab"]), /exactly one character/);
   * ```
   *
   * @param chars The characters in id order.
   * @throws {VocabError} If `chars` is empty, has an entry that is not exactly one code point
   * (or is a lone surrogate), or has a duplicate.
   */
  constructor(chars: readonly string[], options: VocabEncoding = {}) {
    if (!Array.isArray(chars)) {
      throw new VocabError("Invalid vocabulary: expected an array of characters");
    }
    if (chars.length === 0) throw new VocabError("Invalid vocabulary: no characters");
    const size = chars.length;
    const codes = new Int32Array(size);
    const bmp = new Int32Array(0x10000).fill(-1);
    const astral = new Map<number, number>();
    for (let id = 0; id < size; id++) {
      const ch: unknown = chars[id];
      const cp = typeof ch === "string" && ch.length > 0 ? ch.codePointAt(0)! : -1;
      if (cp < 0 || ch !== String.fromCodePoint(cp)) {
        const shown = typeof ch === "string" ? JSON.stringify(ch) : String(ch);
        throw new VocabError(
          `Invalid vocabulary: entry ${id} (${shown}) is not exactly one character`,
        );
      }
      if (isSurrogate(cp)) {
        throw new VocabError(
          `Invalid vocabulary: entry ${id} is a lone surrogate ${hexCodePoint(cp)}, not a ` +
            `character`,
        );
      }
      const previous = cp < 0x10000 ? bmp[cp] : astral.get(cp) ?? -1;
      if (previous >= 0) {
        throw new VocabError(
          `Invalid vocabulary: duplicate character ${
            JSON.stringify(ch)
          } at entries ${previous} and ${id}`,
        );
      }
      if (cp < 0x10000) bmp[cp] = id;
      else astral.set(cp, id);
      codes[id] = cp;
    }
    this.chars = Object.freeze([...chars]);
    this.#codes = codes;
    this.#bmp = bmp;
    this.#astral = astral;
    this.lowercase = options.lowercase ?? false;
    this.unknown = options.unknown ?? null;
    this.#unknownId = this.unknown === null ? -1 : this.indexOf(this.unknown);
    if (this.unknown !== null && this.#unknownId < 0) {
      throw new VocabError(
        `Invalid vocabulary: the unknown symbol ${JSON.stringify(this.unknown)} is not one of ` +
          `its characters`,
      );
    }
  }

  /**
   * The number of characters (and ids).
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * assert.equal(Vocab.fromText("🙂🙂 ").size, 2);
   * ```
   */
  get size(): number {
    return this.#codes.length;
  }

  /**
   * The id of a character, or -1 if it is not in the vocabulary (or is not one character).
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * const vocab = Vocab.fromText("abc");
   * assert.equal(vocab.indexOf("c"), 2);
   * assert.equal(vocab.indexOf("d"), -1);
   * ```
   *
   * @param ch A single character.
   * @returns Its id, or -1.
   */
  indexOf(ch: string): number {
    if (typeof ch !== "string" || ch.length === 0 || ch.length > 2) return -1;
    const cp = ch.codePointAt(0)!;
    if (cp < 0x10000) return ch.length === 1 ? this.#bmp[cp] : -1;
    return ch.length === 2 ? this.#astral.get(cp) ?? -1 : -1;
  }

  /**
   * Encodes text as one id per code point.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * const vocab = Vocab.fromText("ab");
   * assert.deepEqual([...vocab.encode("abba")], [0, 1, 1, 0]);
   * assert.throws(
   *   () => vocab.encode("abc"),
   *   /Cannot encode the text: "c" is not in the model's vocabulary of 2 characters$/,
   * );
   * ```
   *
   * @param text The text to encode.
   * @returns The ids, one per code point of `text`.
   * @throws {VocabError} Listing the characters not in the vocabulary (deduplicated, in order
   * of first occurrence, at most 10 then "and N more").
   */
  encode(text: string): Int32Array {
    if (this.lowercase) text = text.toLowerCase();
    const unknownId = this.#unknownId;
    const n = text.length;
    const out = new Int32Array(n);
    const bmp = this.#bmp;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      let id: number;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          id = this.#astral.get(0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00)) ?? -1;
          i++;
        } else id = bmp[c];
      } else id = bmp[c];
      if (id < 0) {
        if (unknownId < 0) throw this.#unknownError(text);
        id = unknownId;
      }
      out[k++] = id;
    }
    return k === n ? out : out.slice(0, k);
  }

  /**
   * Decodes ids back to text.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * const vocab = Vocab.fromText("e\u0301🙂");
   * assert.equal(vocab.decode([2, 0, 1]), "🙂e\u0301");
   * assert.throws(() => vocab.decode([3]), /Invalid id 3 at position 0/);
   * ```
   *
   * @param ids Ids in [0, size).
   * @returns The text.
   * @throws {VocabError} If an id is not an integer in [0, size).
   */
  decode(ids: ArrayLike<number>): string {
    const codes = this.#codes;
    const size = codes.length;
    const n = ids.length;
    const units = new Uint16Array(2 * n);
    let u = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < size && Number.isInteger(id))) {
        throw new VocabError(
          `Invalid id ${String(id)} at position ${i}: the vocabulary has ${size} characters`,
        );
      }
      const cp = codes[id];
      if (cp < 0x10000) units[u++] = cp;
      else {
        units[u++] = 0xd800 + ((cp - 0x10000) >> 10);
        units[u++] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
      }
    }
    // The units are well formed (no vocabulary entry is a lone surrogate), so decoding them in
    // the platform's byte order is exact.
    return utf16Decoder.decode(units.subarray(0, u));
  }

  /**
   * The characters of a text that are not in the vocabulary, deduplicated, in order of first
   * occurrence. A lone surrogate counts as an unknown character.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Vocab } from "./vocab.ts";
   *
   * assert.deepEqual(Vocab.fromText("abc").unknownChars("cafés café"), ["f", "é", "s", " "]);
   * ```
   *
   * @param text The text to check.
   * @returns The unknown characters; empty if `text` can be encoded.
   */
  unknownChars(text: string): string[] {
    if (this.unknown !== null) return [];
    if (this.lowercase) text = text.toLowerCase();
    const unknown: string[] = [];
    const listed = new Set<number>();
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const cp = text.codePointAt(i)!;
      if (cp >= 0x10000) i++;
      const id = cp < 0x10000 ? this.#bmp[cp] : this.#astral.get(cp) ?? -1;
      if (id < 0 && !listed.has(cp)) {
        listed.add(cp);
        unknown.push(String.fromCodePoint(cp));
      }
    }
    return unknown;
  }

  #unknownError(text: string): VocabError {
    const unknown = this.unknownChars(text);
    const shown = unknown.slice(0, MAX_LISTED).map((ch) => JSON.stringify(ch)).join(", ");
    const more = unknown.length > MAX_LISTED ? ` and ${unknown.length - MAX_LISTED} more` : "";
    const verb = unknown.length === 1 ? "is" : "are";
    const size = this.size;
    return new VocabError(
      `Cannot encode the text: ${shown}${more} ${verb} not in the model's vocabulary of ${size} ` +
        `character${size === 1 ? "" : "s"}`,
    );
  }
}
