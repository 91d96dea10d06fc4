// A corpus's vocabulary with lowercasing and a minimum frequency, from the per-character counts
// its token file keeps: what Vocab.fromText gives for its string, without the string.

import type { Corpus } from "./corpus.ts";
import { type Vocab, vocabFromCounts, type VocabOptions, vocabRule } from "./vocab.ts";

/**
 * The vocabulary `Vocab.fromText(text, options)` builds for the corpus's text, from the
 * corpus's per-character counts (`corpus.counts`, or one read of its token file when the file
 * predates them): lowercased character by character, and with `minFreq`, the characters seen
 * fewer times sharing the unknown symbol U+FFFD, placed last. Training on the corpus with it
 * reads ids through `corpusMap`, which lowercases and maps rare characters the same way.
 *
 * @example A lowercased vocabulary whose rare characters are unknown
 * ```ts
 * import { openCorpus } from "./corpus.ts";
 * import { corpusVocab } from "./corpus_vocab.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "Banana!");
 * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
 * const vocab = corpusVocab(corpus, { lowercase: true, minFreq: 2 });
 * console.log(vocab.chars); // [ "a", "n", "\uFFFD" ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param corpus The text, as a corpus.
 * @param options `lowercase` and `minFreq`, as for `Vocab.fromText`.
 * @returns The vocabulary.
 * @throws {VocabError} If `minFreq` is not a positive integer (`Vocab.fromText`'s message).
 * @throws {RangeError} If lowercasing the text depends on context or changes a character's
 * length (a capital sigma; "İ"): read such a text as a string (readText).
 */
export function corpusVocab(corpus: Corpus, options: VocabOptions = {}): Vocab {
  const rule = vocabRule(options);
  const chars = corpus.vocab.chars;
  const counts = corpus.counts ?? countIds(corpus);
  // Occurrences of each (lowercased) code point.
  const seen = new Map<number, number>();
  for (let id = 0; id < chars.length; id++) {
    const ch = rule.lowercase ? lowerChar(corpus, chars[id]) : chars[id];
    const cp = ch.codePointAt(0)!;
    seen.set(cp, (seen.get(cp) ?? 0) + counts[id]);
  }
  return vocabFromCounts([...seen].sort((a, b) => a[0] - b[0]), rule);
}

// The lowercase of one character, when the text's lowercase is that character by character.
function lowerChar(corpus: Corpus, ch: string): string {
  const lower = ch.toLowerCase();
  if (ch === "\u03A3" || lower !== String.fromCodePoint(lower.codePointAt(0)!)) {
    throw new RangeError(
      `Cannot lowercase ${corpus.path} character by character: ${JSON.stringify(ch)} ` +
        "lowercases to another length or by context: read the text as a string (readText)",
    );
  }
  return lower;
}

// Each id's occurrences, read from the token file a stretch at a time.
function countIds(corpus: Corpus): number[] {
  const counts = new Float64Array(corpus.vocab.size);
  const ids = new Int32Array(1 << 20);
  using reader = corpus.reader();
  for (let at = 0; at < corpus.length; at += ids.length) {
    const n = Math.min(ids.length, corpus.length - at);
    reader.read(at, ids, 0, n);
    for (let i = 0; i < n; i++) counts[ids[i]]++;
  }
  return [...counts];
}
