// Corpora of any size (issue #22): a text read as a stream into a token file gives exactly what
// the string gives — the same vocabulary and ids, the same UTF-8 errors at the same positions
// (whatever the chunk size), the same batches and so bit-identical training, validation and
// resume — and the token file is reused only while the text is unchanged, never half-written.

import assert from "node:assert/strict";
import { createModel, evaluate, fromBytes, readText, TextError, toBytes, train } from "../mod.ts";
import type { TrainEvent } from "../mod.ts";
import { CHUNK_SIZE, FAIL_WRITE_AFTER, openCorpus } from "../src/data/corpus.ts";
import { encodeHeader, MAGIC, readHeader } from "../src/data/_token_file.ts";
import { corpusVocab } from "../src/data/corpus_vocab.ts";
import { lineSource, streamSource } from "../src/data/sources.ts";
import { prepareFineTune } from "../src/train/fine_tune.ts";
import { CellCorrelator } from "../src/inspect/cells.ts";
import { textFeatures, TextFeatureStream } from "../src/inspect/features.ts";
import { traceChunks } from "../src/inspect/trace.ts";
import { decodeText } from "../src/data/text.ts";
import { Vocab } from "../src/data/vocab.ts";
import { badUtf8Cases, mixedText as corpus } from "./_helpers.ts";

const TEXT_BYTES = new TextEncoder().encode("\uFEFF" + corpus(12000));
const TEXT = decodeText(TEXT_BYTES);
const VAL = decodeText(new TextEncoder().encode(corpus(3000, 7)));
const SMALL = { hidden: 16, layers: 2, dropout: 0.1, seed: 3 };
const RUN = { batch: 6, seq: 20, lr: 0.01, valEvery: 10, threads: 2 };

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "charlstm-corpus-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function corpusOf(dir: string, name: string, bytes: Uint8Array, chunk?: number) {
  await Deno.writeFile(`${dir}/${name}`, bytes);
  return await openCorpus(`${dir}/${name}`, {
    cacheDir: `${dir}/cache`,
    ...(chunk === undefined ? {} : { [CHUNK_SIZE]: chunk }),
  });
}

Deno.test("openCorpus: the string's vocabulary, ids and token file format, at any chunk size", async () => {
  await withDir(async (dir) => {
    const vocab = Vocab.fromText(TEXT);
    const ids = vocab.encode(TEXT);
    for (const chunk of [1, 2, 3, 5, 64, 4 << 20]) {
      const c = await corpusOf(dir, `t${chunk}.txt`, TEXT_BYTES, chunk);
      assert.deepEqual(c.vocab.chars, vocab.chars, `chunk ${chunk}`);
      assert.equal(c.length, ids.length);
      assert.deepEqual(c.read(0, c.length), ids, `chunk ${chunk}`);
    }
    const c = await corpusOf(dir, "t.txt", TEXT_BYTES);
    const file = await Deno.readFile(c.tokenPath);
    assert.equal(new TextDecoder().decode(file.subarray(0, 8)), MAGIC);
    const n = Number(new DataView(file.buffer).getBigUint64(8, true));
    assert.equal((16 + n) % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + n)));
    assert.equal(header.version, 1);
    assert.equal(header.width, 1);
    assert.equal(header.count, ids.length);
    assert.equal(header.vocab, vocab.chars.join(""));
    assert.equal(header.lowercase, false);
    assert.equal(header.source.size, TEXT_BYTES.length);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", TEXT_BYTES));
    assert.equal(
      header.source.hash,
      [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
    assert.deepEqual([...file.subarray(16 + n)], [...ids]);
    // 2-byte ids past 256 characters.
    const wide = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join("");
    const w = await corpusOf(dir, "wide.txt", new TextEncoder().encode(wide + wide));
    assert.equal(w.width, 2);
    assert.equal(w.text(0, w.length), wide + wide);
  });
});

Deno.test("openCorpus: UTF-8 errors name decodeText's byte, offset, line and column", async () => {
  const cases = badUtf8Cases();
  await withDir(async (dir) => {
    for (const [i, bad] of cases.entries()) {
      const bytes = new Uint8Array(bad);
      const path = `${dir}/b${i}.txt`;
      const expected = assert.throws(() => decodeText(bytes, path), TextError);
      for (const chunk of [1, 2, 3, 7, 4 << 20]) {
        await Deno.writeFile(path, bytes);
        await assert.rejects(
          () => openCorpus(path, { cacheDir: `${dir}/cache`, [CHUNK_SIZE]: chunk }),
          (e: Error) => {
            assert.ok(e instanceof TextError);
            let message = "";
            try {
              decodeText(bytes, path);
            } catch (d) {
              message = (d as Error).message;
            }
            assert.equal(e.message, message, `case ${i}, chunk ${chunk}`);
            return true;
          },
        );
      }
      void expected;
    }
    await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array([0xef, 0xbb, 0xbf]));
    await assert.rejects(
      () => openCorpus(`${dir}/empty.txt`, { cacheDir: dir }),
      /^TextError: Cannot read .*empty\.txt: the file has no characters: give a non-empty text$/,
    );
    await assert.rejects(
      () => openCorpus(`${dir}/missing.txt`, { cacheDir: dir }),
      /Cannot read .*missing\.txt: no such file/,
    );
  });
});

Deno.test("openCorpus: reuses the token file while the text is unchanged, re-reads it after", async () => {
  await withDir(async (dir) => {
    const first = await corpusOf(dir, "t.txt", TEXT_BYTES);
    const notes: string[] = [];
    const again = await openCorpus(`${dir}/t.txt`, {
      cacheDir: `${dir}/cache`,
      onNote: (m) => notes.push(m),
    });
    assert.equal(again.tokenPath, first.tokenPath);
    assert.deepEqual(notes, []); // nothing read
    // The same bytes at another path share the token file (the key is not the path).
    await Deno.copyFile(`${dir}/t.txt`, `${dir}/copy.txt`);
    const stat = await Deno.stat(`${dir}/t.txt`);
    await Deno.utime(`${dir}/copy.txt`, stat.atime!, stat.mtime!);
    const copy = await openCorpus(`${dir}/copy.txt`, { cacheDir: `${dir}/cache` });
    assert.equal(copy.tokenPath, first.tokenPath);
    // A changed text (same size, another time) is read afresh, never mixed with the old ids.
    const changed = TEXT_BYTES.slice();
    changed[100] = 0x7a; // "z"
    await Deno.writeFile(`${dir}/t.txt`, changed);
    await Deno.utime(`${dir}/t.txt`, stat.atime!, new Date(stat.mtime!.getTime() + 2000));
    const fresh = await openCorpus(`${dir}/t.txt`, { cacheDir: `${dir}/cache` });
    assert.notEqual(fresh.tokenPath, first.tokenPath);
    const text = decodeText(changed);
    assert.deepEqual(fresh.read(0, fresh.length), Vocab.fromText(text).encode(text));
    // A token file cut short (a crash, a full disk) is not taken: the text is read again.
    const size = (await Deno.stat(fresh.tokenPath)).size;
    await Deno.truncate(fresh.tokenPath, size - 1);
    const redone = await openCorpus(`${dir}/t.txt`, { cacheDir: `${dir}/cache` });
    assert.equal((await Deno.stat(redone.tokenPath)).size, size);
  });
});

Deno.test("openCorpus: a failed write is one line and leaves nothing a later run takes", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/t.txt`, TEXT_BYTES);
    const cacheDir = `${dir}/cache`;
    await assert.rejects(
      () => openCorpus(`${dir}/t.txt`, { cacheDir, [FAIL_WRITE_AFTER]: 5000, [CHUNK_SIZE]: 1024 }),
      (e: Error) => {
        assert.ok(e instanceof TextError);
        assert.match(e.message, /^Cannot prepare .*t\.txt: No space left on device/);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      },
    );
    assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
    const c = await openCorpus(`${dir}/t.txt`, { cacheDir });
    assert.deepEqual(c.read(0, c.length), Vocab.fromText(TEXT).encode(TEXT));
    // A read-only cache folder: one line naming the text.
    if (Deno.uid?.() !== 0) {
      await Deno.mkdir(`${dir}/ro`, { mode: 0o555 });
      await assert.rejects(
        () => openCorpus(`${dir}/t.txt`, { cacheDir: `${dir}/ro` }),
        /^TextError: Cannot prepare .*t\.txt: no writable folder/,
      );
    }
  });
});

Deno.test("streamSource: a corpus gives getBatch's batches, held-out tail and --val-data alike", async () => {
  await withDir(async (dir) => {
    const c = await corpusOf(dir, "t.txt", TEXT_BYTES);
    const v = await corpusOf(dir, "v.txt", new TextEncoder().encode(VAL));
    const vocab = Vocab.fromText(TEXT);
    for (const [batch, seq, frac] of [[6, 20, 0.1], [3, 7, 0], [1, 50, 0.3], [7, 1, 0.05]]) {
      for (const val of [undefined, "val"] as const) {
        const a = streamSource(vocab, TEXT, batch, seq, frac, val ? VAL : undefined);
        const b = streamSource(vocab, c, batch, seq, frac, val ? v : undefined);
        assert.deepEqual(
          [b.batchesPerEpoch, b.valBatches, b.trainChars, b.valChars],
          [a.batchesPerEpoch, a.valBatches, a.trainChars, a.valChars],
        );
        const xa = new Int32Array(batch * seq), ya = new Int32Array(batch * seq);
        const xb = new Int32Array(batch * seq), yb = new Int32Array(batch * seq);
        for (let i = 0; i < a.batchesPerEpoch; i++) {
          a.fill(0, i, xa, ya);
          b.fill(0, i, xb, yb);
          assert.deepEqual([xb, yb], [xa, ya], `batch ${i} of ${batch}×${seq}`);
        }
        for (let i = 0; i < a.valBatches; i++) {
          a.fillVal(i, xa, ya);
          b.fillVal(i, xb, yb);
          assert.deepEqual([xb, yb], [xa, ya], `val batch ${i} of ${batch}×${seq}`);
        }
        b.close?.();
      }
    }
  });
});

async function run(
  model: ReturnType<typeof createModel>,
  text: Parameters<typeof train>[1],
  options: Parameters<typeof train>[2],
) {
  const losses: number[] = [];
  const onEvent = (e: TrainEvent) => {
    if (e.type === "step") losses.push(e.loss);
    if (e.type === "validation") losses.push(e.valLoss);
  };
  await train(model, text, { ...options, onEvent });
  return losses;
}

Deno.test("training on a corpus is bit-identical to training on its string: held-out tail, --val-data, resume", async () => {
  await withDir(async (dir) => {
    const c = await corpusOf(dir, "t.txt", TEXT_BYTES);
    const v = await corpusOf(dir, "v.txt", new TextEncoder().encode(VAL));
    for (const valText of [undefined, "val"] as const) {
      const options = { ...RUN, steps: 16, valEvery: 5, ...(valText ? {} : { valFraction: 0.1 }) };
      const fromString = createModel(TEXT, SMALL);
      const lossesA = await run(fromString, TEXT, {
        ...options,
        valText: valText ? VAL : undefined,
      });
      const fromCorpus = createModel(c, SMALL);
      assert.deepEqual(fromCorpus.params, createModel(TEXT, SMALL).params);
      const lossesB = await run(fromCorpus, c, { ...options, valText: valText ? v : undefined });
      assert.equal(lossesB.length, lossesA.length);
      assert.ok(lossesA.length > 16, "validations ran");
      assert.deepEqual(lossesB, lossesA);
      assert.deepEqual(fromCorpus.params, fromString.params);
      assert.deepEqual(fromCorpus.trainState!.adamV, fromString.trainState!.adamV);

      // --resume: 8 steps, a checkpoint, 8 more on the corpus: the same as 16 in one run.
      const half = createModel(c, SMALL);
      await train(half, c, { ...options, steps: 8, valText: valText ? v : undefined });
      const resumed = fromBytes(toBytes(half));
      await train(resumed, c, { ...options, valText: valText ? v : undefined });
      assert.deepEqual(resumed.params, fromString.params);
      assert.deepEqual(resumed.trainState!.h, fromString.trainState!.h);
    }
    // No file is left open: the sanitizer would fail this test otherwise.
  });
});

Deno.test("--lowercase, --min-freq and --from on a corpus are bit-identical to the string path", async () => {
  await withDir(async (dir) => {
    // Capitals to lowercase, and characters rare enough for minFreq 3 ("É", "q", "Z").
    const text = TEXT.replaceAll("cat", "Cat").replaceAll("ran", "RAN").replace("mat", "Émat") +
      "q q Z\n";
    const c = await corpusOf(dir, "m.txt", new TextEncoder().encode(text));
    const options = { ...RUN, steps: 8, valEvery: 4, valFraction: 0.1 };
    for (const flags of [{ lowercase: true }, { minFreq: 3 }, { lowercase: true, minFreq: 3 }]) {
      const a = createModel(text, { ...SMALL, ...flags });
      const vocab = corpusVocab(c, flags);
      assert.deepEqual(
        [vocab.chars, vocab.lowercase, vocab.unknown],
        [a.vocab.chars, a.vocab.lowercase, a.vocab.unknown],
        JSON.stringify(flags),
      );
      const b = createModel(vocab, SMALL);
      const lossesA = await run(a, text, options);
      const lossesB = await run(b, c, options);
      assert.ok(lossesA.length > 8, "validations ran");
      assert.deepEqual(lossesB, lossesA, JSON.stringify(flags));
      assert.deepEqual(b.params, a.params);
    }
    assert.ok(corpusVocab(c, { minFreq: 3 }).chars.includes("\uFFFD"), "rare characters exist");
    assert.throws(() => corpusVocab(c, { minFreq: 0 }), /minFreq must be a positive integer/);
    const sigma = await corpusOf(dir, "s.txt", new TextEncoder().encode("ΣΟΦΟΣ σοφός\n"));
    assert.throws(() => corpusVocab(sigma, { lowercase: true }), /read the text as a string/);

    // --from: the base model widened by the text's new characters ("C", "É", …), fine-tuned.
    for (const lowercase of [false, true]) {
      const base = createModel("the cat sat on a mat and ran far.\n", { ...SMALL, lowercase });
      const plan = { steps: 6, charsPerSec: () => 1e5, dropout: 0.1 };
      const fa = await prepareFineTune(base, text, { ...plan, train: { ...RUN, valEvery: 3 } });
      const fb = await prepareFineTune(base, c, { ...plan, train: { ...RUN, valEvery: 3 } });
      assert.deepEqual(fb.added, fa.added);
      assert.ok(fa.added.length > 3);
      assert.deepEqual(fb.model.params, fa.model.params);
      const lossesA = await run(fa.model, text, { ...fa.train, threads: 2 });
      const lossesB = await run(fb.model, c, { ...fa.train, threads: 2 });
      assert.deepEqual(lossesB, lossesA, `lowercase ${lowercase}`);
      assert.deepEqual(fb.model.params, fa.model.params);
    }
    // A token file written before counts were kept: they are counted from it.
    const found = readHeader(c.tokenPath)!;
    const tokens = (await Deno.readFile(c.tokenPath)).subarray(found.dataOffset);
    const head = encodeHeader({ ...found.header, counts: undefined });
    await Deno.writeFile(c.tokenPath, new Uint8Array([...head, ...tokens]));
    const old = await openCorpus(`${dir}/m.txt`, { cacheDir: `${dir}/cache` });
    assert.equal(old.counts, undefined);
    assert.deepEqual(corpusVocab(old, { minFreq: 3 }).chars, corpusVocab(c, { minFreq: 3 }).chars);
  });
});

Deno.test("lineSource: a corpus's lines give the string's rows, shuffles and training, bit for bit", async () => {
  await withDir(async (dir) => {
    // Empty lines, a CRLF, a last line with no newline, and capitals for a lowercasing vocabulary.
    const text = "\n\n" + decodeText(TEXT_BYTES.subarray(0, 2500)).replaceAll("cat", "Cat") +
      "\n\nlast line";
    const c = await corpusOf(dir, "l.txt", new TextEncoder().encode(text), 64);
    const valString = VAL.slice(0, 600).replaceAll("cat", "Cat");
    const v = await corpusOf(dir, "lv.txt", new TextEncoder().encode(valString));
    for (const lowercase of [false, true]) {
      const vocab = Vocab.fromText(text, { lowercase });
      for (const [seq, val] of [[undefined, 0.2], [12, 0.2], [undefined, "val"]] as const) {
        const valText = val === "val" ? valString : undefined;
        const fraction = val === "val" ? 0 : val;
        const a = lineSource(vocab, text, 5, seq, fraction, 9, valText);
        const b = lineSource(vocab, c, 5, seq, fraction, 9, valText && v);
        const shape = (s: typeof a) => [
          s.seq,
          s.batchesPerEpoch,
          s.valBatches,
          s.trainCount,
          s.trainChars,
          s.valChars,
        ];
        assert.deepEqual(shape(b), shape(a));
        assert.ok(a.batchesPerEpoch > 3 && a.valBatches > 0);
        const xa = new Int32Array(5 * a.seq), ya = new Int32Array(5 * a.seq);
        const xb = new Int32Array(5 * a.seq), yb = new Int32Array(5 * a.seq);
        for (let epoch = 0; epoch < 3; epoch++) {
          for (let i = 0; i < a.batchesPerEpoch; i++) {
            a.fill(epoch, i, xa, ya);
            b.fill(epoch, i, xb, yb);
            assert.deepEqual([xb, yb], [xa, ya], `epoch ${epoch} batch ${i}`);
          }
        }
        for (let i = 0; i < a.valBatches; i++) {
          a.fillVal(i, xa, ya);
          b.fillVal(i, xb, yb);
          assert.deepEqual([xb, yb], [xa, ya], `validation batch ${i}`);
        }
        b.close?.();
      }
    }
    // Training in line mode across epochs, with validation: the same numbers.
    const options = { ...RUN, lines: true, steps: 20, valEvery: 6, valFraction: 0.2 };
    const a = createModel(text, SMALL);
    const b = createModel(c, SMALL);
    const lossesA = await run(a, text, options);
    const lossesB = await run(b, c, options);
    assert.ok(lossesA.length > 20);
    assert.deepEqual(lossesB, lossesA);
    assert.deepEqual(b.params, a.params);
  });
});

Deno.test("inspect's ranking streamed from a corpus is the string's, bit for bit", async () => {
  await withDir(async (dir) => {
    const text = decodeText(TEXT_BYTES.subarray(0, 4000)).replaceAll("cat", '"cat" (a)');
    const c = await corpusOf(dir, "i.txt", new TextEncoder().encode(text));
    const model = createModel(text, { ...SMALL, cell: "lstm" });
    const whole = new CellCorrelator(textFeatures([...text]));
    let lossA = NaN;
    for await (const chunk of traceChunks(model, text, { threads: 2, topK: 0 })) {
      whole.add(chunk);
      lossA = chunk.meanLoss;
    }
    const stream = new TextFeatureStream();
    const streamed = new CellCorrelator(stream.next([]));
    let lossB = NaN, windows = 0;
    for await (const chunk of traceChunks(model, c, { threads: 2, topK: 0 })) {
      const chars = Array.from(c.read(chunk.start, chunk.length), (id) => c.vocab.chars[id]);
      streamed.add(chunk, stream.next(chars));
      lossB = chunk.meanLoss;
      windows++;
    }
    assert.ok(windows > 5);
    assert.equal(lossB, lossA);
    assert.equal(lossA, await evaluate(model, text, { threads: 2 }));
    const ranked = whole.rank({ top: 1000, onePerCell: false });
    assert.ok(ranked.length > 100);
    assert.deepEqual(streamed.rank({ top: 1000, onePerCell: false }), ranked);
  });
});

Deno.test("evaluate on a corpus gives the string's figure in every mode", async () => {
  await withDir(async (dir) => {
    const c = await corpusOf(dir, "t.txt", TEXT_BYTES.subarray(0, 3000));
    const text = decodeText(TEXT_BYTES.subarray(0, 3000));
    const model = createModel(TEXT, SMALL);
    for (
      const options of [
        { seq: 64 },
        { seq: 100_000 },
        { mode: "batched" as const, batch: 4, seq: 30 },
        { lines: true },
      ]
    ) {
      const o = { ...options, threads: 2 };
      assert.equal(await evaluate(model, c, o), await evaluate(model, text, o), JSON.stringify(o));
    }
  });
});

Deno.test("a corpus checks the model's characters as a string does", async () => {
  await withDir(async (dir) => {
    const c = await corpusOf(dir, "t.txt", TEXT_BYTES);
    const other = await corpusOf(dir, "o.txt", new TextEncoder().encode("xyz ".repeat(500)));
    const model = createModel(TEXT, SMALL);
    await assert.rejects(
      () => train(model, c, { ...RUN, steps: 1, valText: other }),
      /Cannot validate: the validation text has characters the training text does not: "x", "y", "z"/,
    );
    await assert.rejects(
      () => train(model, other, { ...RUN, steps: 1 }),
      /Cannot encode the text: "x", "y", "z" are not in the model's vocabulary/,
    );
    assert.throws(() => createModel(c, { lowercase: true }), /lowercase and minFreq need the text/);
    // Line mode reads a corpus's lines by position: the same training as its string's.
    const a = createModel(TEXT, { ...SMALL, dropout: 0 });
    const b = createModel(c, { ...SMALL, dropout: 0 });
    await train(a, TEXT, { ...RUN, lines: true, steps: 3, seq: 30 });
    await train(b, c, { ...RUN, lines: true, steps: 3, seq: 30 });
    assert.deepEqual(b.params, a.params);
  });
});

Deno.test("readText: a file too large for one string says so, not 'Invalid UTF-8'", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/huge.txt`;
    // A sparse file: 2 GiB long, no disk used, never read.
    using file = await Deno.open(path, { write: true, create: true });
    await file.truncate(2 ** 31);
    await assert.rejects(
      () => readText(path),
      (e: Error) => {
        assert.ok(e instanceof TextError);
        assert.equal(
          e.message,
          `Cannot read ${path}: 2147483648 bytes is more than one string can hold (about ` +
            "512 MiB of text): train.ts streams it; in code use openCorpus(path)",
        );
        return true;
      },
    );
  });
});
