// The studio's Inside panel in headless Chromium: a checkpoint trained here opened in the
// page, a pasted 100,000-character text traced in the Worker and drawn (the longest gap
// between frames measured while it traces, draws and colours), colours drawn, the hover's top
// 5 guesses, a span brushed with the mouse returning its cells and the spans that match, the
// ranked cells clicked through, the surprise view, bad input as a message in the page, no
// page errors; then the validation text (the last 10% of the page's text). Screenshots go to
// out/inspect/.
//
// Needs the browser build (build/browser/, `deno task build`) and Chromium ($CHROMIUM, else
// chromium on the PATH); without either it is skipped with the reason printed.

import assert from "node:assert/strict";
import { createModel, save, train } from "../mod.ts";
import { serveStudio } from "../studio/server.ts";
import { findChromium } from "./_browser.ts";

const root = new URL("../", import.meta.url);
const SHOTS = new URL("out/inspect/", root);

async function exists(url: URL): Promise<boolean> {
  try {
    return (await Deno.stat(url)).isFile;
  } catch {
    return false;
  }
}

Deno.test({
  name: "studio Inside panel: 100,000 characters traced and drawn, hover, brushed span, cells",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromium = findChromium();
    const bundle = new URL("build/browser/", root);
    if (!chromium) return console.log("skipped: no Chromium (install chromium, or set $CHROMIUM)");
    if (!(await exists(new URL("charlstm.js", bundle)))) {
      return console.log("skipped: no browser build: run `deno task build`");
    }
    const anna = await Deno.readTextFile(new URL("data/anna.txt", root));
    const model = createModel(anna, { hidden: 32, layers: 2, dropout: 0, seed: 2 });
    await train(model, anna.slice(0, 200_000), {
      steps: 150,
      batch: 16,
      seq: 64,
      lr: 0.01,
      threads: 1,
      valFraction: 0,
    });
    const dir = await Deno.makeTempDir({ prefix: "inspect-studio-" });
    const checkpoint = `${dir}/anna32.safetensors`;
    await save(model, checkpoint);
    await Deno.mkdir(SHOTS, { recursive: true });

    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ["--no-sandbox"],
    });
    const controller = new AbortController();
    const { promise: listening, resolve } = Promise.withResolvers<string>();
    const server = serveStudio({
      port: 0,
      bundleDir: bundle,
      signal: controller.signal,
      onListen: resolve,
    });
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.setViewport({ width: 1280, height: 1000 });
      await page.goto(await listening);
      const waitFor = async (fn: string, timeout = 60_000) => {
        try {
          await page.waitForFunction(fn, { timeout, polling: 50 });
        } catch (e) {
          const seen = await page.evaluate(`JSON.stringify({
            status: document.querySelector("#inside-status").textContent,
            drawn: studio.inside.state.drawn, coloured: studio.inside.state.coloured })`);
          throw new Error(`${(e as Error).message}: waiting for ${fn}; the page: ${seen}`);
        }
      };
      const evaluate = <T>(source: string) => page.evaluate(source) as Promise<T>;
      await waitFor("studio.state.text !== null");
      const open = (await page.$("#open"))!;
      await (open as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(
        checkpoint,
      );
      await waitFor("studio.state.model !== null");

      // Bad input first: a pasted character the model does not know.
      await page.click('input[name="inside-source"][value="paste"]');
      await page.$eval("#inside-paste", (e) => {
        (e as unknown as { value: string }).value = "Anna ☃ said";
      });
      await page.click("#inside-trace");
      await waitFor(`document.querySelector("#inside-status").className.includes("error")`);
      assert.equal(
        await page.$eval("#inside-status", (e) => e.textContent),
        `Cannot trace the text: "☃" is not in the model's vocabulary of ${model.vocab.size} characters: give a ` +
          "text written in the model's characters",
      );

      // 100,000 characters, with the frames counted while it runs.
      const text = anna.replace(/\r\n?/g, "\n").slice(0, 100_000);
      await page.$eval("#inside-paste", (e, t) => {
        (e as unknown as { value: string }).value = t as string;
      }, text);
      await evaluate(`(() => {
        const gaps = { worst: 0, frames: 0, run: true };
        let last = performance.now();
        const tick = (now) => {
          gaps.worst = Math.max(gaps.worst, now - last);
          gaps.frames++;
          last = now;
          if (gaps.run) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
        globalThis.gaps = gaps;
      })()`);
      const t0 = performance.now();
      await page.click("#inside-trace");
      await waitFor(
        `studio.inside.state.coloured > 0 && studio.inside.state.drawn === 99999 && ` +
          `document.querySelector("#inside-status").className.includes("ok")`,
        120_000,
      );
      const wall = performance.now() - t0;
      const gaps = await evaluate<{ worst: number; frames: number }>(
        `(gaps.run = false, { worst: gaps.worst, frames: gaps.frames })`,
      );
      const status = await page.$eval("#inside-status", (e) => e.textContent!);
      console.log(
        `100,000 characters: ${status}\ntraced, drawn and coloured in ${
          (wall / 1000).toFixed(1)
        } s ` +
          `(wall); worst gap between frames ${gaps.worst.toFixed(0)} ms over ${gaps.frames} frames`,
      );
      assert.match(status, /^the pasted text: 100000 characters traced in \d+\.\d s, mean loss/);
      assert.ok(gaps.worst < 1500, `the page froze for ${gaps.worst} ms`);
      assert.equal(await evaluate("document.querySelectorAll('#inside-text i').length"), 99_999);
      const colours = await evaluate<number>(`new Set([...document.querySelectorAll(
        "#inside-text i")].slice(0, 3000).map((e) => e.style.background)).size`);
      assert.ok(colours > 20, `distinct colours: ${colours}`);
      const cells = await evaluate<number>(
        `document.querySelectorAll("#inside-cells button").length`,
      );
      assert.ok(cells >= 5, `ranked cells listed: ${cells}`);
      assert.match(
        await page.$eval("#inside-cells button.on", (e) => e.textContent!),
        /^layer [01] cell \d+ \([hc]\) follows .+, r = -?[01]\.\d\d$/,
      );

      // Hover: the top 5 guesses.
      const span = (await page.$('#inside-text i[data-p="40"]'))!;
      await span.hover();
      await waitFor(`!document.querySelector("#inside-tip").hidden`, 10_000);
      const tip = await evaluate<{ hidden: boolean; text: string }>(
        `({ hidden: document.querySelector("#inside-tip").hidden,
            text: document.querySelector("#inside-tip").textContent })`,
      );
      assert.equal(tip.hidden, false);
      const after = JSON.stringify(text[40] === "\n" ? "↵" : text[40] === " " ? "␣" : text[40]);
      assert.ok(tip.text.startsWith(`after ${after}: `), tip.text);
      assert.match(tip.text, /^after "[^"]+": (\S+ \d+\.\d%\s+){5}· next /);
      await page.screenshot({ path: new URL("studio_inside.png", SHOTS).pathname });

      // A brushed span: a run where the ranked cell's h is on (≥ 0.3), selected with the mouse.
      // (the first ranked cell with such a run: its h over [a, b), off 2 characters around).
      const found0 = await evaluate<[number, number, string] | null>(`(async () => {
        for (const b of document.querySelectorAll("#inside-cells button")) {
          const [l, u] = b.dataset.cell.split(":");
          await studio.inside.showCell(l + ":" + u + ":h");
          const v = studio.inside.state.values;
          for (let a = 2; a < v.length - 22; a++) {
            if (v[a] < 0.3 || v[a - 1] >= 0.3 || v[a - 2] >= 0.3) continue;
            let e = a;
            while (v[e] >= 0.3) e++;
            if (e - a >= 2 && e - a <= 20 && v[e + 1] < 0.3) return [a, e, l + ":" + u];
            a = e;
          }
        }
        return null;
      })()`);
      assert.ok(found0, "a ranked cell with a short run on");
      const run = [found0[0], found0[1]];
      const [layer, unit] = found0[2].split(":");
      await evaluate(
        `document.querySelector('#inside-text i[data-p="${
          run[0]
        }"]').scrollIntoView({ block: "center" })`,
      );
      const from = (await (await page.$(`#inside-text i[data-p="${run[0]}"]`))!.boundingBox())!;
      const to = (await (await page.$(`#inside-text i[data-p="${run[1] - 1}"]`))!.boundingBox())!;
      await page.mouse.move(from.x + 1, from.y + from.height / 2);
      await page.mouse.down();
      await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 5 });
      await page.mouse.move(to.x + to.width - 1, to.y + to.height / 2);
      await page.mouse.up();
      await waitFor(`document.querySelector("#inside-span").textContent.includes("Cells on")`);
      const found = await page.$eval("#inside-span", (e) => e.textContent!);
      console.log(`brushed ${JSON.stringify(text.slice(run[0], run[1]))}: ${found.slice(0, 300)}`);
      assert.ok(found.includes(`layer ${layer} cell ${unit} (h)`), found);
      const matches = await evaluate<number>(
        `document.querySelectorAll("#inside-span .matches li").length`,
      );
      assert.ok(matches >= 1, `matching spans listed: ${matches}`);
      assert.ok(await evaluate<number>(`document.querySelectorAll("#inside-text i.match").length`));
      await page.screenshot({ path: new URL("studio_span.png", SHOTS).pathname });

      // The surprise view; bad cells and an empty span are messages in the page.
      await page.select("#inside-view", "surprise");
      await waitFor(`document.querySelector("#inside-legend").textContent.startsWith("surprise")`);
      await page.screenshot({ path: new URL("studio_surprise.png", SHOTS).pathname });
      await evaluate(`studio.inside.showCell("7:1")`);
      assert.equal(
        await page.$eval("#inside-status", (e) => e.textContent),
        "Cannot show cell 7:1: layer 7 is not traced: give a layer of 0, 1",
      );
      await evaluate(`studio.inside.query(5, 5)`);
      assert.equal(
        await page.$eval("#inside-status", (e) => e.textContent),
        "Cannot query the span: it is empty (5 to 5): select at least one character",
      );

      // The validation text: the last 10% of the page's text (Anna Karenina, ~198,500 characters).
      await page.click('input[name="inside-source"][value="validation"]');
      await page.click("#inside-trace");
      await waitFor(
        `document.querySelector("#inside-status").textContent.startsWith("the validation") && ` +
          `studio.inside.state.drawn === studio.inside.state.trace.positions`,
        120_000,
      );
      const annaChars = [...anna.replace(/\r\n?/g, "\n")].length;
      const validation = annaChars - Math.trunc(annaChars * 0.9);
      assert.match(
        await page.$eval("#inside-status", (e) => e.textContent!),
        new RegExp(`^the validation text \\(the last 10% of the training text\\): ${validation} `),
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      controller.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
