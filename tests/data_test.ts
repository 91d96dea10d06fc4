// The data pipeline: decoding a corpus, the character vocabulary, and the tutorial's batching
// and validation split (get_batches and val_idx = int(len(data)*(1-val_frac))).

import assert from "node:assert/strict";
import { decodeText, readText, TextError } from "../src/data/text.ts";
import { Vocab, VocabError } from "../src/data/vocab.ts";
import {
  batchCount,
  getBatch,
  getBatches,
  minimumLength,
  splitValidation,
} from "../src/data/batches.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const bytesOf = (...parts: (string | number[])[]) => {
  const out: number[] = [];
  for (const part of parts) out.push(...(typeof part === "string" ? utf8(part) : part));
  return new Uint8Array(out);
};
const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------------------------
// Text

Deno.test("decodeText normalises CRLF and lone CR to LF and drops a leading BOM", () => {
  assert.equal(decodeText(utf8("a\r\nb\rc\nd\r\r\n")), "a\nb\nc\nd\n\n");
  assert.equal(decodeText(bytesOf([0xef, 0xbb, 0xbf], "héllo")), "héllo");
  // Only a leading BOM is dropped; one later in the text is a character.
  assert.equal(decodeText(bytesOf([0xef, 0xbb, 0xbf], "a\uFEFFb")), "a\uFEFFb");
  assert.equal(decodeText(new Uint8Array()), "");
  assert.equal(decodeText(utf8("🙂 e\u0301 漢字")), "🙂 e\u0301 漢字");
});

function utf8Failure(bytes: Uint8Array, source?: string): string {
  try {
    decodeText(bytes, source);
  } catch (e) {
    assert.ok(e instanceof TextError, `expected a TextError, got ${e}`);
    assert.ok(!e.message.includes("\n"), "the message is one line");
    return e.message;
  }
  assert.fail("expected decodeText to throw");
}

Deno.test("decodeText reports the exact message for invalid UTF-8", () => {
  assert.equal(
    utf8Failure(bytesOf("hello\nwor", [0xc3, 0x28]), "corpus.txt"),
    "Invalid UTF-8 in corpus.txt: byte 0xC3 at offset 9 (line 2, column 4) does not start a " +
      "valid sequence",
  );
  assert.match(utf8Failure(bytesOf([0xff])), /^Invalid UTF-8 in input: byte 0xFF at offset 0 /);
});

Deno.test("decodeText locates the first invalid byte: offset, line and column", () => {
  const cases: [string, Uint8Array, string][] = [
    [
      "truncated sequence at end",
      bytesOf("ab\nc", [0xe2, 0x82]),
      "0xE2 at offset 4 (line 2, column 2)",
    ],
    [
      "truncated 4-byte at end",
      bytesOf("🙂", [0xf0, 0x9f, 0x99]),
      "0xF0 at offset 4 (line 1, column 2)",
    ],
    ["truncated before ASCII", bytesOf([0xc3], "A"), "0xC3 at offset 0 (line 1, column 1)"],
    ["overlong 0xC0 0xAF", bytesOf("a", [0xc0, 0xaf]), "0xC0 at offset 1 (line 1, column 2)"],
    ["overlong 0xE0 0x80 0xAF", bytesOf([0xe0, 0x80, 0xaf]), "0xE0 at offset 0 (line 1, column 1)"],
    [
      "surrogate 0xED 0xA0 0x80",
      bytesOf("x\r\ny", [0xed, 0xa0, 0x80]),
      "0xED at offset 4 (line 2, column 2)",
    ],
    ["stray continuation 0x80", bytesOf("é🙂", [0x80]), "0x80 at offset 6 (line 1, column 3)"],
    [
      "stray continuation after BOM",
      bytesOf([0xef, 0xbb, 0xbf], "é🙂", [0x80]),
      "0x80 at offset 9 (line 1, column 3)",
    ],
    [
      "above U+10FFFF",
      bytesOf("\n\n", [0xf4, 0x90, 0x80, 0x80]),
      "0xF4 at offset 2 (line 3, column 1)",
    ],
    [
      "0xF5 lead byte",
      bytesOf("ok", [0xf5, 0x80, 0x80, 0x80]),
      "0xF5 at offset 2 (line 1, column 3)",
    ],
    ["after a lone CR", bytesOf("a\rb", [0xff]), "0xFF at offset 3 (line 2, column 2)"],
    ["after CRLF lines", bytesOf("1\r\n2\r\n漢字", [0xbf]), "0xBF at offset 12 (line 3, column 3)"],
    ["first of several", bytesOf("a", [0x80], "b", [0xc0]), "0x80 at offset 1 (line 1, column 2)"],
  ];
  for (const [name, bytes, where] of cases) {
    assert.equal(
      utf8Failure(bytes),
      `Invalid UTF-8 in input: byte ${where} does not start a valid sequence`,
      name,
    );
  }
});

Deno.test("readText reads, decodes and normalises a file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeFile(path, bytesOf([0xef, 0xbb, 0xbf], "one\r\ntwo\n"));
    assert.equal(await readText(path), "one\ntwo\n");
    assert.equal(await readText(new URL(`file://${path}`)), "one\ntwo\n");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("readText rejects a missing file, an empty file and invalid UTF-8", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/missing.txt`;
    await assert.rejects(
      () => readText(missing),
      (e) => e instanceof TextError && e.message === `Cannot read ${missing}: no such file`,
    );
    const empty = await Deno.makeTempFile({ dir });
    await assert.rejects(
      () => readText(empty),
      (e) =>
        e instanceof TextError && e.message ===
          `Cannot read ${empty}: the file has no characters: give a non-empty text`,
    );
    await Deno.writeFile(empty, bytesOf([0xef, 0xbb, 0xbf])); // a BOM alone is still empty
    await assert.rejects(
      () => readText(empty),
      (e) =>
        e instanceof TextError && e.message ===
          `Cannot read ${empty}: the file has no characters: give a non-empty text`,
    );
    const bad = await Deno.makeTempFile({ dir });
    await Deno.writeFile(bad, bytesOf("ab", [0x80]));
    await assert.rejects(
      () => readText(bad),
      (e) =>
        e instanceof TextError &&
        e.message.startsWith(`Invalid UTF-8 in ${bad}: byte 0x80 at offset 2 (line 1, column 3)`),
    );
    await assert.rejects(
      () => readText(dir),
      (e) =>
        e instanceof TextError && e.message.startsWith(`Cannot read ${dir}: `) &&
        !e.message.includes("no such file") && !e.message.includes("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Vocabulary

const tricky = "Ünïcödé: e\u0301 n\u0303 (combining) · 漢字かな한글 · 🙂👍🏽 👨‍👩‍👧 🇫🇷 · 𝄞 𠀀 · \t\n";

Deno.test("Vocab round-trips emoji, combining marks, CJK and astral characters", () => {
  const vocab = Vocab.fromText(tricky);
  const ids = vocab.encode(tricky);
  assert.equal(ids.length, [...tricky].length, "one id per code point");
  assert.equal(vocab.size, new Set(tricky).size);
  assert.equal(vocab.decode(ids), tricky);
  assert.equal(vocab.decode(Array.from(ids)), tricky);
  for (const ch of vocab.chars) {
    assert.equal([...ch].length, 1);
    assert.equal(vocab.chars[vocab.indexOf(ch)], ch);
  }
  // Combining sequences are separate characters; astral characters are single ones.
  assert.notEqual(vocab.indexOf("\u0301"), -1);
  assert.notEqual(vocab.indexOf("𝄞"), -1);
  assert.equal(vocab.indexOf("e\u0301"), -1);
  assert.equal(vocab.indexOf("\ud834"), -1); // half of 𝄞
  assert.equal(vocab.indexOf(""), -1);
  assert.equal(vocab.decode([]), "");
  const bom = Vocab.fromText("\uFEFFa\uFEFF"); // U+FEFF is an ordinary character in a vocabulary
  assert.equal(bom.decode(bom.encode("\uFEFFa")), "\uFEFFa");
  assert.deepEqual([...vocab.encode("")], []);
});

Deno.test("Vocab.fromText sorts by code point, not by UTF-16 unit", () => {
  // UTF-16 order would put 🙂 (0xD83D 0xDE42) before Ａ (U+FF21).
  const vocab = Vocab.fromText("🙂Ａb a🙂bb\n");
  assert.deepEqual(vocab.chars, ["\n", " ", "a", "b", "Ａ", "🙂"]);
  assert.deepEqual([...vocab.encode("ab🙂Ａ")], [2, 3, 5, 4]);
  assert.ok(Object.isFrozen(vocab.chars));
});

Deno.test("Vocab encodes and decodes a long text", () => {
  const line = "The quick brown fox — 🙂 — jumps over 漢字 e\u0301.\n";
  const text = line.repeat(20_000); // about 1M UTF-16 units
  const vocab = Vocab.fromText(text);
  const ids = vocab.encode(text);
  assert.equal(ids.length, [...line].length * 20_000);
  assert.equal(vocab.decode(ids), text);
});

Deno.test("Vocab constructor keeps order and rejects bad entries", () => {
  const vocab = new Vocab(["z", "🙂", "\n"]);
  assert.deepEqual(vocab.chars, ["z", "🙂", "\n"]);
  assert.deepEqual([...vocab.encode("🙂z\n")], [1, 0, 2]);
  const bad = (chars: string[], re: RegExp) =>
    assert.throws(() => new Vocab(chars), (e) => e instanceof VocabError && re.test(e.message));
  bad([], /no characters/);
  bad(["a", "bc"], /entry 1 \("bc"\) is not exactly one character/);
  bad(["", "a"], /entry 0 \(""\) is not exactly one character/);
  bad(["e\u0301"], /entry 0 .* not exactly one character/);
  bad(["🙂", "a", "🙂"], /duplicate character "🙂" at entries 0 and 2/);
  bad(["\ud800"], /entry 0 is a lone surrogate U\+D800/);
  assert.throws(
    () => Vocab.fromText("ab\udc00"),
    (e) => e instanceof VocabError && /lone surrogate U\+DC00 at UTF-16 index 2/.test(e.message),
  );
  assert.throws(() => Vocab.fromText(""), VocabError);
});

Deno.test("Vocab.encode lists unknown characters, deduplicated and capped at 10", () => {
  const vocab = new Vocab(Array.from({ length: 83 }, (_, i) => String.fromCharCode(32 + i)));
  assert.throws(
    () => vocab.encode("caf\u00e9 \u{1F642} \u00e9n\u00e9"),
    (e) =>
      e instanceof VocabError &&
      e.message ===
        `Cannot encode the text: "é", "🙂" are not in the model's vocabulary of 83 characters`,
  );
  assert.throws(
    () => vocab.encode("ok\n"),
    (e) =>
      e instanceof VocabError &&
      e.message ===
        `Cannot encode the text: "\\n" is not in the model's vocabulary of 83 characters`,
  );
  const many = "αβγδεζηθικλμν"; // 13 unknown
  assert.throws(
    () => vocab.encode(`a${many}${many}`),
    (e) =>
      e instanceof VocabError &&
      e.message ===
        `Cannot encode the text: "α", "β", "γ", "δ", "ε", "ζ", "η", "θ", "ι", "κ" and 3 more ` +
          `are not in the model's vocabulary of 83 characters`,
  );
  assert.deepEqual(vocab.unknownChars(`a${many}${many}🙂`), [...many, "🙂"]);
  assert.deepEqual(vocab.unknownChars("plain"), []);
  assert.deepEqual(vocab.unknownChars("a\ud800b"), ["\ud800"]);
});

Deno.test("Vocab.decode rejects ids outside the vocabulary", () => {
  const vocab = Vocab.fromText("abc");
  for (const [id, at] of [[3, 1], [-1, 1], [1.5, 1], [NaN, 1]] as const) {
    assert.throws(
      () => vocab.decode([0, id]),
      (e) =>
        e instanceof VocabError &&
        e.message === `Invalid id ${id} at position ${at}: the vocabulary has 3 characters`,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// Batches and the validation split

Deno.test("getBatches reproduces the tutorial's 8×50 batches with a one-step shift", () => {
  const arr = range(1985); // arr[i] = i, so every value says where it came from
  const batches = [...getBatches(arr, 8, 50)];
  assert.equal(batches.length, 4);
  assert.equal(batchCount(arr.length, 8, 50), 4);
  const row = 4 * 50; // arr.reshape((8, -1)).shape[1]
  batches.forEach(({ x, y }, n) => {
    assert.equal(x.length, 8 * 50);
    assert.equal(y.length, 8 * 50);
    for (let r = 0; r < 8; r++) {
      for (let j = 0; j < 50; j++) {
        assert.equal(x[r * 50 + j], r * row + n * 50 + j);
        // y[:, :-1] = x[:, 1:]
        if (j < 49) assert.equal(y[r * 50 + j], x[r * 50 + j + 1]);
      }
      // y[:, -1] = arr[:, n + seq], or arr[:, 0] on the last window
      assert.equal(y[r * 50 + 49], n < 3 ? r * row + (n + 1) * 50 : r * row);
    }
  });
  // The last column of the last window, as numpy prints it for np.arange(1985).
  const { x, y } = batches[3];
  const lastColumn = (a: Int32Array) => Array.from({ length: 8 }, (_, r) => a[r * 50 + 49]);
  assert.deepEqual(lastColumn(x), [199, 399, 599, 799, 999, 1199, 1399, 1599]);
  assert.deepEqual(lastColumn(y), [0, 200, 400, 600, 800, 1000, 1200, 1400]);
});

Deno.test("getBatches matches numpy get_batches on a permuted array", () => {
  // (np.arange(23) * 7) % 23 through the tutorial's get_batches(arr, 2, 3).
  const arr = Int32Array.from({ length: 23 }, (_, i) => (i * 7) % 23);
  const got = [...getBatches(arr, 2, 3)].map(({ x, y }) => [[...x], [...y]]);
  assert.deepEqual(got, [
    [[0, 7, 14, 17, 1, 8], [7, 14, 21, 1, 8, 15]],
    [[21, 5, 12, 15, 22, 6], [5, 12, 19, 22, 6, 13]],
    [[19, 3, 10, 13, 20, 4], [3, 10, 0, 20, 4, 17]],
  ]);
});

Deno.test("getBatches truncates to full batches", () => {
  for (const length of [1600, 1601, 1999]) {
    const batches = [...getBatches(range(length), 8, 50)];
    assert.equal(batches.length, 4);
    const max = Math.max(...batches.map(({ x, y }) => Math.max(...x, ...y)));
    assert.equal(max, 1599, `characters past ${1600} are never used (length ${length})`);
  }
  assert.equal(minimumLength(8, 50), 400);
  assert.equal([...getBatches(range(399), 8, 50)].length, 0);
  assert.equal([...getBatches(range(0), 8, 50)].length, 0);
  const one = [...getBatches(range(400), 8, 50)];
  assert.equal(one.length, 1);
  // A single window wraps immediately: each row's last target is its own first character.
  assert.deepEqual(Array.from({ length: 8 }, (_, r) => one[0].y[r * 50 + 49]), [
    0,
    50,
    100,
    150,
    200,
    250,
    300,
    350,
  ]);
  // seq = 1: y is the next row character, wrapping at the end of the row.
  const seq1 = [...getBatches(range(6), 2, 1)].map(({ x, y }) => [[...x], [...y]]);
  assert.deepEqual(seq1, [[[0, 3], [1, 4]], [[1, 4], [2, 5]], [[2, 5], [0, 3]]]);
});

Deno.test("getBatch fills reused buffers with the same batches getBatches yields", () => {
  const arr = Int32Array.from({ length: 1234 }, (_, i) => (i * 31) % 97);
  const x = new Int32Array(5 * 16);
  const y = new Int32Array(5 * 16);
  const batches = [...getBatches(arr, 5, 16)];
  assert.equal(batches.length, batchCount(1234, 5, 16));
  assert.notEqual(batches[0].x, batches[1].x, "the generator yields fresh arrays");
  batches.forEach((batch, index) => {
    getBatch(arr, 5, 16, index, x, y);
    assert.deepEqual(x, batch.x);
    assert.deepEqual(y, batch.y);
  });
  const rangeError = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e) => e instanceof RangeError && re.test(e.message));
  rangeError(
    () => getBatch(arr, 5, 16, 15, x, y),
    /Invalid batch index 15: 1234 characters make 15 batches of 5×16/,
  );
  rangeError(() => getBatch(arr, 5, 16, -1, x, y), /Invalid batch index -1/);
  rangeError(() => getBatch(arr, 5, 16, 0, new Int32Array(79), y), /must hold 5×16 = 80 ids/);
  rangeError(
    () => getBatches(arr, 0, 16).next(),
    /Invalid batch: must be a positive integer, got 0/,
  );
  rangeError(() => batchCount(10, 2, 1.5), /Invalid seq/);
  rangeError(() => batchCount(-1, 2, 2), /Invalid length/);
  rangeError(() => minimumLength(2, NaN), /Invalid seq/);
});

Deno.test("splitValidation follows val_idx = int(len(data)*(1-val_frac))", () => {
  // [length, fraction, val_idx as Python computes it]
  const cases: [number, number, number][] = [
    [10, 0.3, 7],
    [1985, 0.1, 1786],
    [100, 0.1, 90],
    [7, 0.5, 3],
    [1000, 0.15, 850],
    [3, 0.9, 0],
    [29, 0.35, 18],
    [1, 0.99, 0],
    [10, 0, 10],
  ];
  for (const [length, fraction, valIdx] of cases) {
    const data = range(length);
    const { train, val } = splitValidation(data, fraction);
    assert.equal(train.length, valIdx, `train length for ${length}, ${fraction}`);
    assert.equal(val.length, length - valIdx);
    assert.deepEqual([...train, ...val], [...data]);
  }
  for (const fraction of [-0.1, 1, 1.5, NaN]) {
    assert.throws(
      () => splitValidation(range(10), fraction),
      (e) => e instanceof RangeError && /fraction: must be in \[0, 1\)/.test(e.message),
    );
  }
});
