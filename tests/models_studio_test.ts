// The studio's first screen writes with a bundled model: "Start from a trained model" lists the
// models models/ holds, and choosing one loads it and writes at once; "Your own…" does the same
// with a checkpoint from disk, and training either fine-tunes it on the text. Needs Chromium,
// the browser build and models/shakespeare.safetensors (the lead trains and commits it), and
// says which is missing when it skips.

import assert from "node:assert/strict";
import { createModel, toBytes, train } from "../mod.ts";
import { serveStudio } from "../studio/server.ts";
import { findChromium } from "./_browser.ts";

const root = new URL("../", import.meta.url);
const exists = (path: string) => Deno.stat(new URL(path, root)).then(() => true, () => false);
const chromium = findChromium();
const missing = !chromium
  ? "no Chromium (install chromium, or set $CHROMIUM)"
  : !await exists("build/browser/charlstm.js")
  ? "no browser build: run `deno task build`"
  : !await exists("models/shakespeare.safetensors")
  ? "models/shakespeare.safetensors is not there yet"
  : null;
if (missing) console.log(`skipped the studio's bundled-model test: ${missing}`);

Deno.test({
  name:
    "studio: 'Start from a trained model' writes at once with shakespeare or one's own checkpoint",
  ignore: missing !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { default: puppeteer } = await import("puppeteer-core");
    const controller = new AbortController();
    const { promise: listening, resolve } = Promise.withResolvers<string>();
    const server = serveStudio({ port: 0, signal: controller.signal, onListen: resolve });
    const browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      args: ["--no-sandbox"],
    });
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(await listening);
      const wait = (condition: string, timeout = 120_000) =>
        page.waitForFunction(condition, { timeout, polling: 100 });
      await wait(
        `globalThis.studio?.state.ready && !document.querySelector("#bundled-row").hidden`,
      );
      const options = await page.$$eval("#bundled option", (os) => os.map((o) => o.textContent));
      assert.ok(options.some((o) => o?.startsWith("shakespeare (")), options.join(", "));
      await page.select("#bundled", "/models/shakespeare.safetensors");
      await wait(`document.querySelector("#output").dataset.done !== undefined`);
      const output = await page.$eval("#output", (e) => e.textContent ?? "");
      assert.ok(output.startsWith("ROMEO:"), output);
      assert.ok(output.length > 200, output);
      assert.match(
        await page.$eval("#bundled-status", (e) => e.textContent ?? ""),
        /^shakespeare: /,
      );
      assert.equal(
        await page.$eval("#write", (e) => (e as unknown as { disabled: boolean }).disabled),
        false,
      );
      // Training it fine-tunes it on the text (the bundled Anna Karenina): its new characters
      // are added, and the fine-tuning rule picks what the form leaves empty.
      await page.select('#settings [name="unit"]', "steps");
      await page.$eval('#settings [name="amount"]', (e) => {
        (e as unknown as { value: string }).value = "2";
      });
      await page.click("#train");
      await wait("!studio.state.training && studio.state.model?.step === 2", 600_000);
      const notes = await page.$eval("#notes", (e) => e.textContent ?? "");
      assert.match(notes, /fine-tuning: for 2 steps .*new characters: /);

      // "Your own…": a checkpoint from disk, saved with its optimizer state after 3 steps. It
      // writes at once, and training fine-tunes it (a fresh run: step 2 after 2 steps, not 5;
      // the text's new characters added) instead of continuing its run.
      const mine = "the cat sat on the mat. the dog ran to the log. ".repeat(40);
      const own = createModel(mine, { cell: "gru", hidden: 16, layers: 1, seed: 5 });
      await train(own, mine, { steps: 3, batch: 4, seq: 16, threads: 1, valEvery: 0 });
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeFile(`${dir}/mine.safetensors`, toBytes(own));
        await Deno.writeTextFile(`${dir}/bad.safetensors`, "not a checkpoint");
        const status = () => page.$eval("#bundled-status", (e) => [e.textContent, e.className]);
        // Bad input first: one line that names the file, and the model stays as it was.
        await (await page.$("input#own"))!.uploadFile(`${dir}/bad.safetensors`);
        await wait(`document.querySelector("#bundled-status").classList.contains("error")`);
        const [badText] = await status();
        assert.match(badText ?? "", /^Cannot load bad\.safetensors: \S/);
        assert.doesNotMatch(badText ?? "", /\n/);

        await page.$eval("#prompt", (e) => {
          (e as unknown as { value: string }).value = "the ";
        });
        await (await page.$("input#own"))!.uploadFile(`${dir}/mine.safetensors`);
        await wait(
          `document.querySelector("#bundled-status").textContent.startsWith("mine.safetensors:")` +
            ` && document.querySelector("#output").dataset.done !== undefined`,
        );
        assert.deepEqual(await status(), [
          `mine.safetensors: GRU 1×16 · ${own.vocab.size} characters · ` +
          `${own.params.length.toLocaleString("en-US")} weights · step 0 ` +
          `(its 3 steps' optimizer state left out)`,
          "status ok",
        ]);
        const written = await page.$eval("#output", (e) => e.textContent ?? "");
        assert.ok(written.startsWith("the ") && written.length > 100, written);
        assert.match(
          await page.$eval("#text-status", (e) => e.textContent ?? ""),
          /does not know \d+ of its characters .*: training fine-tunes it on this text/,
        );
        await page.click("#train");
        await wait("!studio.state.training && studio.state.model?.step === 2", 600_000);
        const ownNotes = await page.$eval("#notes", (e) => e.textContent ?? "");
        assert.match(ownNotes, /fine-tuning: for 2 steps .*GRU 1×16.*new characters: /);
        assert.ok(
          (await page.evaluate("studio.state.model.vocabSize") as number) > own.vocab.size,
          "the text's characters were added",
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      controller.abort();
      await server.finished;
    }
  },
});
