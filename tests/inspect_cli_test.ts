// inspect.ts as a user runs it, in subprocesses, on a small checkpoint made here: the ranked
// table on stdout with evaluate's mean loss, the report written (self-contained: nothing
// fetched), bad input as one line and exit code 2 with nothing written; and the report in
// headless Chromium: colours drawn, hover shows the guesses, no page errors, no request but
// the page itself. Screenshots go to out/inspect/.
//
// Chromium: $CHROMIUM, else chromium (or chromium-browser, google-chrome) on the PATH; without
// it, the browser part is skipped with the reason printed.

import assert from "node:assert/strict";
import { createModel, evaluate, save, train } from "../mod.ts";
import { findChromium } from "./_browser.ts";

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

async function run(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "inspect.ts", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

const TEXT = 'she said "no" (twice) and left\nhe said "yes, [maybe]"\n'.repeat(30);
const dir = await Deno.makeTempDir({ prefix: "charlstm-inspect-cli-" });
const checkpoint = `${dir}/small.safetensors`, textFile = `${dir}/text.txt`;
const model = createModel(TEXT, { cell: "lstm", hidden: 12, layers: 2, seed: 1, dropout: 0 });
await train(model, TEXT, { steps: 20, batch: 4, seq: 32, lr: 0.01, threads: 1, valFraction: 0 });
await save(model, checkpoint);
await Deno.writeTextFile(textFile, TEXT);
const report = `${dir}/report.html`;

Deno.test({
  name: "inspect.ts: the ranked table, evaluate's mean loss, and a self-contained report",
  sanitizeResources: false,
  async fn() {
    const r = await run([
      checkpoint,
      "--text",
      textFile,
      "--top",
      "4",
      "--cell",
      "1:3:c,0:0",
      "--show",
      "300",
      "--out",
      report,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const expected = await evaluate(model, TEXT);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      `LSTM 2×12, ${TEXT.length} characters: mean loss ${expected.toFixed(4)} nats (${
        (expected / Math.LN2).toFixed(4)
      } bits) per character`,
    );
    assert.equal(lines.length, 1 + 4 + 1);
    for (const line of lines.slice(1, 5)) {
      assert.match(line, /^ {2}\d {2}layer [01] cell \d+ \([hc]\) follows .+, r = -?[01]\.\d\d$/);
    }
    assert.equal(lines[5], `wrote ${report}`);
    const html = await Deno.readTextFile(report);
    // Self-contained: no external resource of any kind.
    assert.doesNotMatch(html, /\b(src|href)\s*=|@import|url\(|fetch\(|import\(/);
    // 4 ranked strips, 2 asked for, and the surprise view: 300 coloured characters each.
    assert.equal(html.match(/<i data-p="/g)?.length, 7 * 300);
    assert.match(html, /<h2>layer 1 cell 3 \(c\), asked for<\/h2>/);
    assert.match(html, /<h2>Surprise: /);
    assert.equal(html.match(/<tr><td class="r">/g)?.length, 4);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "report.html",
      "small.safetensors",
      "text.txt",
    ]);
  },
});

Deno.test({
  name: "inspect.ts: bad input is one line on stderr, exit code 2, nothing written",
  sanitizeResources: false,
  async fn() {
    const badText = `${dir}/bad.txt`;
    await Deno.writeTextFile(badText, "she said ZZZ\n");
    const out = `${dir}/not-written.html`;
    const cases: [string[], RegExp][] = [
      [
        ["--cell", "5:1"],
        /^error: Cannot show cell 5:1: layer 5 is not traced: give a layer of 0, 1$/,
      ],
      [
        ["--cell", "1:12"],
        /^error: Cannot show cell 1:12: unit 12 is not traced \(layers have 12 cells, 0 to 11\): give a traced unit$/,
      ],
      [
        ["--cell", "one"],
        /^error: Cannot show cell "one": it is not LAYER:UNIT: give e\.g\. 1:87 or 1:87:c$/,
      ],
      [
        ["--text", badText],
        /^error: Cannot trace the text: "Z" is not in the model's vocabulary of \d+ characters: give a text written in the model's characters$/,
      ],
    ];
    for (const [args, message] of cases) {
      const all = args[0] === "--text"
        ? [checkpoint, ...args]
        : [checkpoint, "--text", textFile, ...args];
      const r = await run([...all, "--out", out]);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stdout, "");
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    }
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(
      help.stdout,
      /^Usage: deno run -A inspect\.ts CHECKPOINT --text FILE \[options\]\n/,
    );
    assert.match(help.stdout, /--cell VALUE +also show these cells: LAYER:UNIT\[:h\|c\]/);
    const missing = await run([checkpoint, "--out", out]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /^error: Invalid command line: no --text given: give the text to read\n/,
    );
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "inspect.ts report in headless Chromium: colours drawn, hover shows guesses, no errors",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromium = findChromium();
    if (!chromium) return console.log("skipped: no Chromium (install chromium, or set $CHROMIUM)");
    await Deno.stat(report); // written by the first test
    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ["--no-sandbox"],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1100, height: 900 });
      const errors: string[] = [], requests: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("request", (q) => requests.push(q.url()));
      const url = new URL(`file://${report}`).href;
      await page.goto(url);
      const colours = await page.evaluate(
        `new Set([...document.querySelectorAll(".strip i")]
          .map((e) => getComputedStyle(e).backgroundColor)).size`,
      ) as number;
      assert.ok(colours > 20, `distinct colours drawn: ${colours}`);
      // Hover the 6th character of the first strip: the tip names it and the guesses.
      const target = (await page.$$(".strip i"))[5];
      await target.hover();
      await page.waitForFunction(`getComputedStyle(tip).display !== "none"`, {
        timeout: 10_000,
      });
      const tip = await page.evaluate(
        `({ shown: getComputedStyle(tip).display !== "none", text: tip.textContent })`,
      ) as { shown: boolean; text: string };
      assert.ok(tip.shown, "the tip shows");
      assert.match(tip.text, /^after "a": (\S+ \d+\.\d%\s*){5}$/);
      await Deno.mkdir(new URL("out/inspect/", root), { recursive: true });
      await page.screenshot({ path: new URL("out/inspect/report.png", root).pathname });
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [url], "nothing fetched but the page");
    } finally {
      await browser.close();
    }
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
