// A corpus from a Blob or a ReadableStream (issue #22, the page's door): openCorpus reads it once
// with the same decoder as a path, so it gives the string's vocabulary and ids at any chunk
// size and whatever the stream's pieces, decodeText's UTF-8 errors at the same offset, line and
// column, 2- and 4-byte ids as the vocabulary grows while it is read, and bit-identical
// training, validation and evaluation; in headless Chromium too, its ids in an Origin Private
// File System file in a Worker, in memory on the main thread (bench/studio_large.ts measures a
// 1 GB file in the studio).

import assert from "node:assert/strict";
import { createModel, evaluate, fromBytes, TextError, train } from "../mod.ts";
import type { TrainEvent } from "../mod.ts";
import { CHUNK_SIZE, openCorpus } from "../src/data/corpus.ts";
import { decodeText } from "../src/data/text.ts";
import { Vocab } from "../src/data/vocab.ts";
import { badUtf8Cases, mixedText as corpus } from "./_helpers.ts";
import { findChromium, type Job, openBrowser } from "./_browser.ts";
import { serveStudio } from "../studio/server.ts";

const TEXT_BYTES = new TextEncoder().encode("\uFEFF" + corpus(12000));
const TEXT = decodeText(TEXT_BYTES);
const SMALL = { hidden: 16, layers: 2, dropout: 0.1, seed: 3 };
const RUN = { batch: 6, seq: 20, lr: 0.01, threads: 2 };

// A stream of `bytes` cut into pieces of `piece` bytes.
function streamOf(bytes: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

Deno.test("openCorpus(Blob | ReadableStream): the string's vocabulary and ids at any chunk size", async () => {
  const vocab = Vocab.fromText(TEXT);
  const ids = vocab.encode(TEXT);
  for (const chunk of [1, 2, 3, 5, 64, 4 << 20]) {
    for (const piece of [1, 7, 1 << 16]) {
      const c = await openCorpus(streamOf(TEXT_BYTES, piece), { [CHUNK_SIZE]: chunk });
      assert.deepEqual(c.vocab.chars, vocab.chars, `chunk ${chunk}, piece ${piece}`);
      assert.deepEqual(c.read(0, c.length), ids, `chunk ${chunk}, piece ${piece}`);
      assert.equal(c.path, "the stream");
      assert.equal(c.source.size, TEXT_BYTES.length);
      c.close();
    }
    const file = new File([TEXT_BYTES], "t.txt", { lastModified: 1234 });
    const progress: number[] = [];
    const c = await openCorpus(file, {
      [CHUNK_SIZE]: chunk,
      onProgress: (bytes, total) => {
        assert.equal(total, TEXT_BYTES.length);
        progress.push(bytes);
      },
    });
    assert.deepEqual(c.vocab.chars, vocab.chars);
    assert.deepEqual(c.read(0, c.length), ids);
    assert.deepEqual([c.path, c.tokenPath, c.width, c.source.mtimeMs], ["t.txt", "", 1, 1234]);
    assert.deepEqual(progress, progress.toSorted((a, b) => a - b), "progress only grows");
    assert.equal(progress.at(-1), TEXT_BYTES.length);
    c.close();
    assert.throws(() => c.read(0, 1), /^RangeError: Cannot read t\.txt: the corpus is closed$/);
  }
  // New characters after the first chunk renumber the ids; 2- and then 4-byte ids as the
  // vocabulary passes 256 and 65,536 characters while the text is read.
  const rare = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join("");
  const many = Array.from({ length: 70_000 }, (_, i) => String.fromCodePoint(0x10000 + i))
    .join("");
  for (const [text, width] of [["zyx" + rare, 2], ["ab\r\nc" + rare + "!" + many, 4]] as const) {
    const bytes = new TextEncoder().encode(text + "\n" + text);
    const expected = Vocab.fromText(decodeText(bytes));
    for (const chunk of [64, 4 << 20]) {
      const c = await openCorpus(new Blob([bytes]), { [CHUNK_SIZE]: chunk });
      assert.equal(c.width, width);
      assert.deepEqual(c.vocab.chars, expected.chars);
      assert.deepEqual(c.read(0, c.length), expected.encode(decodeText(bytes)));
      assert.equal(c.path, "the blob");
    }
  }
});

Deno.test("openCorpus(Blob | ReadableStream): decodeText's UTF-8 errors, empty texts, bad sources", async () => {
  const cases = badUtf8Cases();
  for (const [i, bad] of cases.entries()) {
    const bytes = new Uint8Array(bad);
    const expected = assert.throws(() => decodeText(bytes, "bad.txt"), TextError);
    let message = "";
    try {
      decodeText(bytes, "bad.txt");
    } catch (e) {
      message = (e as Error).message;
    }
    void expected;
    for (const chunk of [1, 2, 3, 7, 4 << 20]) {
      for (const source of [new File([bytes], "bad.txt"), streamOf(bytes, 2)]) {
        await assert.rejects(
          () => openCorpus(source, { name: "bad.txt", [CHUNK_SIZE]: chunk }),
          (e: Error) => {
            assert.ok(e instanceof TextError);
            assert.equal(e.message, message, `case ${i}, chunk ${chunk}`);
            return true;
          },
        );
      }
    }
  }
  await assert.rejects(
    () => openCorpus(new File([new Uint8Array([0xef, 0xbb, 0xbf])], "empty.txt")),
    /^TextError: Cannot read empty\.txt: the file has no characters: give a non-empty text$/,
  );
  await assert.rejects(
    () => openCorpus(new Blob([]), { storage: "opfs" }),
    /^TypeError: Cannot open the corpus in OPFS: this context has no synchronous OPFS access/,
  );
  const strings = new ReadableStream({
    start(c) {
      c.enqueue("text");
      c.close();
    },
  }) as unknown as ReadableStream<Uint8Array>;
  await assert.rejects(
    () => openCorpus(strings),
    /^TypeError: Cannot read the stream: the stream must give Uint8Array chunks$/,
  );
  const failing = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array([0x61]));
      c.error(new Error("connection reset"));
    },
  });
  await assert.rejects(
    () => openCorpus(failing, { name: "net.txt" }),
    /^TextError: Cannot read net\.txt: connection reset$/,
  );
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

Deno.test("training on a Blob's corpus is bit-identical to training on its string", async () => {
  const options = { ...RUN, steps: 16, valEvery: 5, valFraction: 0.1 };
  const fromString = createModel(TEXT, SMALL);
  const lossesA = await run(fromString, TEXT, options);
  const blob = await openCorpus(new Blob([TEXT_BYTES]), { [CHUNK_SIZE]: 1000 });
  const fromBlob = createModel(blob, SMALL);
  assert.deepEqual(fromBlob.params, createModel(TEXT, SMALL).params);
  const lossesB = await run(fromBlob, blob, options);
  assert.ok(lossesA.length > 16, "validations ran");
  assert.deepEqual(lossesB, lossesA);
  assert.deepEqual(fromBlob.params, fromString.params);
  assert.deepEqual(fromBlob.trainState!.adamV, fromString.trainState!.adamV);
  for (const o of [{ seq: 64 }, { mode: "batched" as const, batch: 4, seq: 30 }]) {
    const oo = { ...o, threads: 2 };
    assert.equal(await evaluate(fromBlob, blob, oo), await evaluate(fromString, TEXT, oo));
  }
  blob.close();
});

const chromium = findChromium();

// In the page: the same text as a string and as a Blob's corpus (in OPFS where asked), trained
// alike; and a bad file's message.
const pageJob: Job<{ text: string; storage?: "opfs" | "memory" }, {
  same: boolean;
  losses: number[];
  params: number[];
  width: number;
  bad: string;
  closed: string;
}> = async (lib, { text, storage }) => {
  const bytes = new TextEncoder().encode(text);
  const options = { batch: 6, seq: 20, lr: 0.01, threads: 1, steps: 6, valEvery: 3 };
  const small = { hidden: 16, layers: 2, dropout: 0.1, seed: 3 };
  const runOf = async (source: string | Awaited<ReturnType<typeof lib.openCorpus>>) => {
    const model = lib.createModel(source, small);
    const losses: number[] = [];
    await lib.train(model, source, {
      ...options,
      onEvent: (e) => {
        if (e.type === "step") losses.push(e.loss);
        if (e.type === "validation") losses.push(e.valLoss);
      },
    });
    return { losses, params: Array.from(model.params) };
  };
  const a = await runOf(lib.decodeText(bytes));
  const corpus = await lib.openCorpus(new File([bytes], "t.txt"), { storage });
  const b = await runOf(corpus);
  const width = corpus.width;
  corpus.close();
  let closed = "";
  try {
    corpus.read(0, 1);
  } catch (e) {
    closed = (e as Error).message;
  }
  let bad = "";
  try {
    await lib.openCorpus(new File([new Uint8Array([0x61, 0x0d, 0x0a, 0x62, 0xc0])], "bad.txt"), {
      storage,
    });
  } catch (e) {
    bad = (e as Error).message;
  }
  const same = JSON.stringify(a) === JSON.stringify(b);
  return { same, losses: b.losses, params: b.params, width, bad, closed };
};

Deno.test({
  name:
    "Chromium: a File's corpus (OPFS in a Worker, memory on the main thread) trains as its string",
  ignore: !chromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const browser = await openBrowser(chromium!);
    try {
      const text = TEXT.slice(0, 4000);
      const reference = createModel(text, SMALL);
      const losses = await run(reference, text, { ...RUN, threads: 1, steps: 6, valEvery: 3 });
      for (
        const [where, storage] of [["worker", "opfs"], ["main", undefined], [
          "worker",
          "memory",
        ]] as const
      ) {
        const r = await browser.run("iso", where, pageJob, { text, storage });
        assert.ok(r.same, `${where} ${storage}: the corpus trains as the string`);
        assert.deepEqual(r.losses, losses, `${where} ${storage}: Deno's losses`);
        assert.deepEqual(r.params, Array.from(reference.params), `${where} ${storage}`);
        assert.equal(r.width, 1);
        assert.equal(
          r.bad,
          "Invalid UTF-8 in bad.txt: byte 0xC0 at offset 4 (line 2, column 2) does not start a " +
            "valid sequence",
        );
        assert.equal(r.closed, "Cannot read t.txt: the corpus is closed");
      }
      await assert.rejects(
        () => browser.run("iso", "main", pageJob, { text, storage: "opfs" }),
        /Cannot open the corpus in OPFS: this context has no synchronous OPFS access/,
      );
      // (a 404 is the favicon, as in browser_test.ts)
      assert.deepEqual(browser.pageErrors.filter((e) => !/404/.test(e)), []);
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name:
    "studio: a chosen file is a corpus in the Worker that trains as the same text pasted, and the Inside panel traces its tail",
  ignore: !chromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const bundle = new URL("../build/browser/charlstm.js", import.meta.url);
    try {
      await Deno.stat(bundle);
    } catch {
      return console.log("skipped: no browser build: run `deno task build`");
    }
    const dir = await Deno.makeTempDir({ prefix: "charlstm-studio-blob-" });
    const pasted = decodeText(TEXT_BYTES).slice(1, 6001); // LF, no BOM: what a paste gives
    const file = `${dir}/t.txt`;
    await Deno.writeFile(
      file,
      new TextEncoder().encode("\uFEFF" + pasted.replaceAll("\n", "\r\n")),
    );
    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      args: ["--no-sandbox"],
    });
    const controller = new AbortController();
    const { promise: listening, resolve } = Promise.withResolvers<string>();
    const server = serveStudio({ port: 0, signal: controller.signal, onListen: resolve });
    const errors: string[] = [];
    try {
      const url = await listening;
      // A fresh page trains the text from `source` for 6 steps; returns its checkpoint's bytes.
      const trainOn = async (source: "file" | "paste") => {
        const page = await browser.newPage();
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        await page.setViewport({ width: 1280, height: 1000 });
        await page.goto(url);
        const waitFor = (fn: string) => page.waitForFunction(fn, { timeout: 60_000, polling: 50 });
        await waitFor("studio.state.text !== null");
        await page.click(`input[name="source"][value="${source}"]`);
        if (source === "file") await (await page.$("input#file"))!.uploadFile(file);
        else {
          await page.$eval("#paste", (e, v) => {
            (e as unknown as { value: string }).value = v;
          }, pasted);
          await page.click("#use-paste");
        }
        const name = source === "file" ? "t.txt" : "the pasted text";
        await waitFor(
          `document.querySelector("#text-status").textContent.startsWith(${JSON.stringify(name)})`,
        );
        const status = await page.$eval("#text-status", (e) => e.textContent!);
        // A preset, not the recipe: the recipe measures this machine's speed, and counts a
        // string's length in UTF-16 units but a corpus's in characters (src/data/text_stats.ts).
        await page.select("#preset", "tiny");
        const fields = {
          hidden: 16,
          layers: 1,
          dropout: 0,
          seed: 3,
          batch: 4,
          seq: 16,
          lr: 0.01,
          amount: 6,
          valEvery: 3,
          sampleEvery: 3,
          threads: 1,
        };
        for (const [field, v] of Object.entries(fields)) {
          await page.$eval(`#settings [name="${field}"]`, (e, v) => {
            (e as unknown as { value: string }).value = String(v);
          }, v);
        }
        await page.select('#settings [name="backend"]', "wasm");
        await page.select('#settings [name="unit"]', "steps");
        await page.click("#train");
        await waitFor("!studio.state.training && studio.state.model?.step === 6");
        const sampleText = await page.$eval("#sample", (e) => e.textContent!);
        const base64 = await page.evaluate(`studio.checkpointBytes().then((b) => {
          let s = "";
          for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
          return btoa(s);
        })`) as string;
        // The Inside panel's validation text: the corpus's last 10%, read by position.
        await page.click('input[name="inside-source"][value="validation"]');
        await page.click("#inside-trace");
        await waitFor(
          `document.querySelector("#inside-status").textContent.startsWith("the validation")`,
        );
        const inside = await page.$eval("#inside-status", (e) => e.textContent!);
        await page.close();
        return { status, sampleText, base64, inside };
      };
      const fromFile = await trainOn("file");
      const fromPaste = await trainOn("paste");
      const n = [...pasted].length;
      const distinct = new Set(pasted).size;
      assert.equal(
        fromFile.status,
        `t.txt: ${n.toLocaleString("en-US")} characters, ${distinct} distinct`,
      );
      assert.equal(
        fromPaste.status,
        `the pasted text: ${n.toLocaleString("en-US")} characters, ${distinct} distinct`,
      );
      assert.ok(fromFile.sampleText.length > 0);
      assert.equal(fromFile.sampleText, fromPaste.sampleText);
      // The same checkpoint but for the clock (trainTime).
      const [a, b] = [fromFile, fromPaste].map((r) =>
        fromBytes(Uint8Array.from(atob(r.base64), (c) => c.charCodeAt(0)))
      );
      assert.equal(a.trainState?.step, 6);
      assert.ok(a.params.every((v, i) => Object.is(v, b.params[i])), "the same weights");
      assert.deepEqual(
        { ...a.trainState, trainTime: 0 },
        { ...b.trainState, trainTime: 0 },
        "the same optimizer state",
      );
      const tail = n - Math.trunc(n * 0.9);
      for (const r of [fromFile, fromPaste]) {
        assert.match(
          r.inside,
          new RegExp(`^the validation text \\(the last 10% of the training text\\): ${tail} `),
        );
      }
      assert.deepEqual(errors.filter((e) => !/404/.test(e)), []);
    } finally {
      await browser.close();
      controller.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
