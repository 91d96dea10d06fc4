// The studio (`deno task studio`): its server (the isolation headers, what it serves and what
// not, a bad port), its presets (train.ts's), and the page end to end in headless Chromium: a
// pasted text, a tiny model trained with the chart and a sample growing, pause, resume and stop,
// a prompt written (drawn, and the most likely by beam search), the checkpoint downloaded and read in Deno, a CLI checkpoint opened,
// written with and trained on, and bad files shown in the page. Screenshots go to out/studio/.
//
// The page needs the browser build: build/browser/ (`deno task build`), or the folder in
// $STUDIO_BUNDLE. Chromium: $CHROMIUM, else chromium (or chromium-browser, google-chrome) on
// the PATH. Without either, the browser part is skipped with the reason printed.

import assert from "node:assert/strict";
import { beamSearch, createModel, fromBytes, sample, toBytes, train } from "../mod.ts";
import { PRESETS, RECIPE_RULE } from "../src/train/recipe.ts";
import { handle, ISOLATION_HEADERS, serveStudio } from "../studio/server.ts";
import { findChromium } from "./_browser.ts";

const root = new URL("../", import.meta.url);
const repoBundle = new URL("build/browser/", root);

/** Serves the studio on a free port for the duration of `body`. */
async function withServer(
  bundleDir: string | URL | undefined,
  body: (origin: string) => Promise<void>,
) {
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<string>();
  const server = serveStudio({ port: 0, bundleDir, signal: controller.signal, onListen: resolve });
  const url = await listening;
  try {
    await body(new URL(url).origin);
  } finally {
    controller.abort();
    await server.finished;
  }
}

function assertIsolated(response: Response) {
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) {
    assert.equal(response.headers.get(name), value, `${response.url}: ${name}`);
  }
}

async function exists(url: URL): Promise<boolean> {
  try {
    return (await Deno.stat(url)).isFile;
  } catch {
    return false;
  }
}

Deno.test("studio server: isolation headers on the page, the corpus and the bundle", async () => {
  const bundle = await Deno.makeTempDir({ prefix: "studio-bundle-" });
  await Deno.writeTextFile(`${bundle}/charlstm.js`, "export const marker = 1;\n");
  await Deno.writeTextFile(`${bundle}/charlstm_worker.js`, "// worker\n");
  try {
    await withServer(bundle, async (origin) => {
      const home = await fetch(`${origin}/`, { redirect: "manual" });
      await home.body?.cancel();
      assert.equal(home.status, 302);
      assert.equal(home.headers.get("location"), "/studio/");
      assertIsolated(home);

      const page = await fetch(`${origin}/studio/`);
      assert.equal(page.status, 200);
      assertIsolated(page);
      assert.match(page.headers.get("content-type")!, /^text\/html/);
      const html = await page.text();
      assert.equal(html, await Deno.readTextFile(new URL("studio/index.html", root)));
      assert.match(html, /<script type="module" src="app.js">/);

      for (const name of ["app.js", "worker.js", "chart.js", "style.css"]) {
        const r = await fetch(`${origin}/studio/${name}`);
        assert.equal(r.status, 200, name);
        assertIsolated(r);
        assert.equal(await r.text(), await Deno.readTextFile(new URL(`studio/${name}`, root)));
      }
      const worker = await Deno.readTextFile(new URL("studio/worker.js", root));
      assert.match(worker, /new URL\("\.\.\/build\/browser\/charlstm\.js", import\.meta\.url\)/);

      const corpus = await fetch(`${origin}/data/anna.txt`);
      assert.equal(corpus.status, 200);
      assertIsolated(corpus);
      assert.match(corpus.headers.get("content-type")!, /^text\/plain; charset=utf-8/);
      const bytes = new Uint8Array(await corpus.arrayBuffer());
      assert.deepEqual(bytes, await Deno.readFile(new URL("data/anna.txt", root)));

      // The loss chart the page shares with loss.svg, and nothing else of src/.
      const chart = await fetch(`${origin}/src/plot/loss_chart.js`);
      assert.equal(chart.status, 200);
      assertIsolated(chart);
      assert.match(chart.headers.get("content-type")!, /^text\/javascript/);
      assert.equal(
        await chart.text(),
        await Deno.readTextFile(new URL("src/plot/loss_chart.js", root)),
      );

      const js = await fetch(`${origin}/build/browser/charlstm.js`);
      assert.equal(js.status, 200);
      assertIsolated(js);
      assert.match(js.headers.get("content-type")!, /^text\/javascript/);
      assert.equal(await js.text(), "export const marker = 1;\n");
      const threadWorker = await fetch(`${origin}/build/browser/charlstm_worker.js`);
      assert.equal(await threadWorker.text(), "// worker\n");

      const head = await fetch(`${origin}/studio/`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");

      for (
        const path of [
          "/studio/server.ts",
          "/deno.json",
          "/studio/../deno.json",
          "/studio/%2e%2e/deno.json",
          "/build/browser/..%2f..%2fdeno.json",
          "/build/browser/missing.js",
          "/data/other.txt",
          "/src/browser/mod.ts",
          "/src/plot/other.js",
        ]
      ) {
        const r = await fetch(`${origin}${path}`);
        await r.body?.cancel();
        assert.equal(r.status, 404, path);
        assertIsolated(r);
      }
      const post = await fetch(`${origin}/studio/`, { method: "POST", body: "x" });
      await post.body?.cancel();
      assert.equal(post.status, 405);
    });
  } finally {
    await Deno.remove(bundle, { recursive: true });
  }
});

Deno.test("studio server: serves the repository's build/browser/ by default", async () => {
  await withServer(undefined, async (origin) => {
    const r = await fetch(`${origin}/build/browser/charlstm.js`);
    assertIsolated(r);
    if (await exists(new URL("charlstm.js", repoBundle))) {
      assert.equal(r.status, 200);
      assert.equal(await r.text(), await Deno.readTextFile(new URL("charlstm.js", repoBundle)));
    } else {
      assert.equal(r.status, 404);
      assert.match(await r.text(), /run `deno task build`/);
    }
  });
});

Deno.test("studio presets and recipe are the library's, served from their one home", async () => {
  const response = await handle(new Request("http://127.0.0.1/studio/presets.json"), root);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("cross-origin-embedder-policy"), "require-corp");
  const served = await response.json();
  assert.deepEqual(served.presets, PRESETS);
  assert.deepEqual(served.recipe, { timeBudget: RECIPE_RULE.timeBudget, lrSchedule: "cosine" });
  assert.deepEqual(served.defaults, { embedding: 0, seed: 0, optimizer: "adam", backend: "auto" });
});

/** Runs `deno task studio`'s command with `args` to its end. */
async function runServer(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "studio/server.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("deno task studio: a bad port is one line, exit 2", async () => {
  for (
    const [args, message] of [
      [["--port", "x"], /^error: Invalid --port: "x" is not an integer\n$/],
      [["--port", "70000"], /^error: Invalid --port: 70000 is outside \[0, 65535\]\n$/],
      [["--port", "-1"], /^error: Invalid --port: -1 is outside \[0, 65535\]\n$/],
      [["--bogus"], /^error: Invalid command line: Unknown option '--bogus'\n$/],
    ] as const
  ) {
    const r = await runServer([...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }

  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const r = await runServer(["--port", String(port)]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `error: Cannot listen on 127.0.0.1:${port}: the port is in use: give --port\n`,
  );
});

Deno.test("deno task studio --port serves with the task's permissions", async () => {
  // The URL line first; then a request answered with the isolation headers.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "studio/server.ts", "--port", "0"],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  try {
    const url = /http:\/\/127\.0\.0\.1:\d+\/studio\//.exec(out)?.[0];
    assert.ok(url, out);
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assertIsolated(r);
    await r.body?.cancel();
    const corpus = await fetch(new URL("/data/anna.txt", url));
    assert.equal(corpus.status, 200);
    await corpus.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  }
});

// --- The page in Chromium -----------------------------------------------------------------------

async function findBundle(): Promise<string | URL | null> {
  const env = Deno.env.get("STUDIO_BUNDLE");
  if (env) return env;
  return await exists(new URL("charlstm.js", repoBundle)) ? repoBundle : null;
}

const SHOTS = new URL("out/studio/", root);

function words(chars: number): string {
  const list = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"];
  let text = "", i = 0;
  while (text.length < chars) {
    text += list[(i * 7 + (i >> 2)) % list.length] + (++i % 8 ? " " : ".\n");
  }
  return text;
}

Deno.test({
  name: "studio page without the browser build: says to run deno task build",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromium = findChromium();
    if (!chromium) return console.log("skipped: no Chromium (install chromium, or set $CHROMIUM)");
    const { default: puppeteer } = await import("puppeteer-core");
    const empty = await Deno.makeTempDir({ prefix: "studio-nobundle-" });
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ["--no-sandbox"],
    });
    try {
      await withServer(empty, async (origin) => {
        const page = await browser.newPage();
        await page.goto(`${origin}/studio/`);
        await page.waitForFunction(
          `document.querySelector("#engine").classList.contains("error")`,
          { timeout: 20_000 },
        );
        assert.match(
          await page.$eval("#engine", (e) => e.textContent!),
          /^Cannot load the browser build \/build\/browser\/charlstm\.js .*run `deno task build`, then reload$/,
        );
        assert.equal(
          await page.$eval("#train", (e) => (e as unknown as Record<string, unknown>).disabled),
          true,
        );
      });
    } finally {
      await browser.close();
      await Deno.remove(empty, { recursive: true });
    }
  },
});

Deno.test({
  name: "studio page: train, watch, pause, write, download, open a CLI checkpoint, bad files",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromium = findChromium();
    const bundle = await findBundle();
    if (!chromium || !bundle) {
      console.log(
        `skipped: ${
          !chromium
            ? "no Chromium (install chromium, or set $CHROMIUM)"
            : "no browser build: run `deno task build` (or set $STUDIO_BUNDLE to a folder)"
        }`,
      );
      return;
    }
    const { default: puppeteer } = await import("puppeteer-core");
    const dir = await Deno.makeTempDir({ prefix: "studio-e2e-" });
    await Deno.mkdir(SHOTS, { recursive: true });
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ["--no-sandbox"],
    });
    const errors: string[] = [];
    try {
      await withServer(bundle, async (origin) => {
        const page = await browser.newPage();
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        await page.setViewport({ width: 1280, height: 900 });
        const cdp = await page.createCDPSession();
        await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: dir });
        await page.goto(`${origin}/`);
        assert.equal(page.url(), `${origin}/studio/`);
        // deno-lint-ignore no-explicit-any
        type Studio = { studio: any };
        await page.waitForFunction(
          () => (globalThis as unknown as Studio).studio.state.text !== null,
          { timeout: 20_000 },
        );
        assert.match(await page.$eval("#engine", (e) => e.textContent!), /isolated/);
        assert.match(await page.$eval("#engine", (e) => e.textContent!), /^WASM: \d+ thread/);
        assert.equal(
          await page.$eval("#text-status", (e) => e.textContent),
          "anna.txt: 1,985,223 characters, 83 distinct",
        );
        const status = (id: string) =>
          page.$eval(`#${id}`, (e) => ({ text: e.textContent!, kind: e.className }));
        const waitFor = (fn: string, timeout = 20_000) =>
          page.waitForFunction(fn, { timeout, polling: 50 });
        const value = (selector: string, v: string | number) =>
          page.$eval(selector, (e, v) => {
            (e as unknown as { value: string }).value = String(v);
          }, v);

        // 1. A pasted text.
        const text = words(3000);
        await page.click('input[name="source"][value="paste"]');
        await value("#paste", text);
        await page.click("#use-paste");
        await waitFor(`document.querySelector("#text-status").className.includes("ok")`);
        const distinct = new Set(text).size;
        assert.equal(
          (await status("text-status")).text,
          `the pasted text: ${text.length.toLocaleString("en-US")} characters, ${distinct} ` +
            "distinct",
        );

        // 2. A tiny model and recipe.
        const recipe: Record<string, string | number> = {
          hidden: 16,
          layers: 1,
          dropout: 0,
          seed: 3,
          batch: 4,
          seq: 16,
          lr: 0.01,
          amount: 30,
          valEvery: 10,
          sampleEvery: 10,
          threads: 1,
        };
        for (const [name, v] of Object.entries(recipe)) {
          await value(`#settings [name="${name}"]`, v);
        }
        await page.select('#settings [name="backend"]', "wasm");
        await page.select('#settings [name="unit"]', "steps");

        // 3. Train; the chart and a sample appear.
        const points = () =>
          page.$eval("#chart", (e) => [
            Number((e as unknown as { dataset: Record<string, string> }).dataset.trainPoints),
            Number((e as unknown as { dataset: Record<string, string> }).dataset.valPoints),
          ]);
        assert.deepEqual(await points(), [0, 0]);
        await page.click("#train");
        const idle = `!studio.state.training && studio.state.model !== null`;
        await waitFor(idle);
        assert.deepEqual(await points(), [30, 3]);
        assert.match((await status("run-status")).text, /^Done: step 30, validation loss \d/);
        assert.equal(await page.$eval("#stat-step", (e) => e.textContent), "30 / 30");
        const sampleText = await page.$eval("#sample", (e) => e.textContent!);
        assert.ok(sampleText.startsWith("the") && sampleText.length > 100, sampleText);
        assert.equal(await page.$eval("#sample-step", (e) => e.textContent), "after step 30");
        assert.equal(await page.$eval("#train", (e) => e.textContent), "Continue training");
        assert.ok(
          await page.$eval(
            '#settings [name="hidden"]',
            (e) => (e as unknown as Record<string, unknown>).disabled,
          ),
        );
        const d = await page.$eval("#chart .series.train", (e) => e.getAttribute("d")!);
        assert.equal(d.split(/[ML]/).filter(Boolean).length, 30);

        // Continue, pause (the series holds still), resume (it grows), stop.
        await value('#settings [name="amount"]', 100_000);
        await page.click("#train");
        await waitFor(`Number(document.querySelector("#chart").dataset.trainPoints) > 40`);
        await page.click("#pause");
        await waitFor(`studio.state.paused`);
        const pausedAt = (await points())[0];
        assert.match(
          (await status("run-status")).text,
          new RegExp(`^Paused at step ${pausedAt.toLocaleString("en-US")}$`),
        );
        await new Promise((r) => setTimeout(r, 300));
        assert.equal((await points())[0], pausedAt);
        await page.screenshot({ path: new URL("paused.png", SHOTS).pathname });
        await page.click("#pause"); // Resume
        await waitFor(
          `Number(document.querySelector("#chart").dataset.trainPoints) > ${pausedAt + 20}`,
        );
        await page.click("#stop");
        await waitFor(idle);
        const stoppedAt = (await points())[0];
        assert.equal(
          (await status("run-status")).text,
          `Stopped at step ${stoppedAt.toLocaleString("en-US")}`,
        );
        await page.screenshot({ path: new URL("trained.png", SHOTS).pathname });

        // 4. Write: the continuation streams, as sample() in Deno writes it.
        await value("#prompt", "the ");
        await value('#write-form [name="length"]', 60);
        await value('#write-form [name="stop"]', "\\n");
        await page.click("#write");
        await waitFor(`document.querySelector("#output").dataset.done !== undefined`);
        const written = await page.$eval("#output", (e) => e.textContent!);
        assert.ok(written.startsWith("the "), written);
        assert.ok(!written.includes("\n"));
        assert.equal((await status("write-status")).kind, "status ok");

        // 5. The checkpoint: the bytes the download button saves, read in Deno.
        const base64 = await page.evaluate(async () => {
          const bytes: Uint8Array = await (globalThis as unknown as Studio).studio
            .checkpointBytes();
          let s = "";
          for (let i = 0; i < bytes.length; i += 8192) {
            s += String.fromCharCode(...bytes.subarray(i, i + 8192));
          }
          return btoa(s);
        });
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const model = fromBytes(bytes);
        assert.equal(model.config.hidden, 16);
        assert.equal(model.config.seed, 3);
        assert.equal(model.trainState?.step, stoppedAt);
        assert.equal(model.trainState?.batch, 4);
        assert.equal(
          sample(model, { prime: "the ", length: 60, temperature: 0.8, seed: 1, stop: "\n" }),
          written,
        );
        await page.click("#download");
        const saved = `${dir}/model.safetensors`;
        for (let i = 0; i < 100 && !(await exists(new URL(`file://${saved}`))); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(await Deno.readFile(saved), bytes);
        assert.match(
          (await status("checkpoint-status")).text,
          /^model\.safetensors: [\d,]+ bytes$/,
        );

        // Open a checkpoint the CLI's way (the API's toBytes), write with it, train it on.
        const cli = createModel(text, { cell: "gru", hidden: 24, layers: 1, dropout: 0, seed: 9 });
        const cliRecipe = { batch: 4, seq: 16, lr: 0.01, clip: 5, threads: 1, valEvery: 0 };
        await train(cli, text, { ...cliRecipe, steps: 5 });
        const cliPath = `${dir}/cli.safetensors`;
        await Deno.writeFile(cliPath, toBytes(cli));
        const open = (await page.$("input#open"))!;
        await open.uploadFile(cliPath);
        await waitFor(
          `document.querySelector("#checkpoint-status").textContent.startsWith("Opened")`,
        );
        assert.equal(
          (await status("checkpoint-status")).text,
          `Opened cli.safetensors: GRU 1×24 · ${cli.vocab.size} characters · ` +
            `${cli.params.length.toLocaleString("en-US")} weights · step 5`,
        );
        assert.deepEqual(await points(), [0, 0]);
        assert.equal(
          await page.$eval(
            '#settings [name="cell"]',
            (e) => (e as unknown as Record<string, unknown>).value,
          ),
          "gru",
        );
        assert.equal(
          await page.$eval(
            '#settings [name="hidden"]',
            (e) => (e as unknown as Record<string, unknown>).value,
          ),
          "24",
        );
        await value("#prompt", "a ");
        await value('#write-form [name="stop"]', "");
        await value('#write-form [name="seed"]', 4);
        await page.click("#write");
        await waitFor(
          `document.querySelector("#output").dataset.done !== undefined && ` +
            `document.querySelector("#output .prompt").textContent === "a " && ` +
            `!studio.state.writing`,
        );
        assert.equal(
          await page.$eval("#output", (e) => e.textContent),
          sample(cli, { prime: "a ", length: 60, temperature: 0.8, seed: 4 }),
        );
        // "Most likely": beam search of 5 beams, as sample(model, { beam: 5 }) gives in Deno;
        // the fields of a random draw are off while it is on.
        await page.click('#write-form [name="likely"]');
        assert.equal(
          await page.$eval(
            '#write-form [name="temperature"]',
            (e) => (e as unknown as { disabled: boolean }).disabled,
          ),
          true,
        );
        await page.click("#write");
        await waitFor(
          `document.querySelector("#output").dataset.done !== undefined && !studio.state.writing`,
        );
        assert.equal(
          await page.$eval("#output", (e) => e.textContent),
          sample(cli, { prime: "a ", length: 60, beam: 5 }),
        );
        const [best] = beamSearch(cli, { prime: "a ", length: 60, beam: 5 });
        assert.equal(
          (await status("write-status")).text,
          `${[...best.text].length} characters · the most likely of 5 beams: ` +
            `${best.score.toFixed(3)} nats per character`,
        );
        await page.screenshot({ path: new URL("most-likely.png", SHOTS).pathname });
        await page.click('#write-form [name="likely"]');
        assert.equal(
          await page.$eval(
            '#write-form [name="topK"]',
            (e) => (e as unknown as { disabled: boolean }).disabled,
          ),
          false,
        );
        // Keep training it: 7 more steps, as train() does in Deno.
        await value('#settings [name="amount"]', 7);
        await value('#settings [name="valEvery"]', 0);
        await value('#settings [name="clip"]', 5);
        await value('#settings [name="lr"]', 0.01);
        await page.select('#settings [name="lrSchedule"]', "constant"); // train()'s default
        await page.click("#train");
        await waitFor(idle);
        assert.match((await status("run-status")).text, /^Done: step 12$/);
        const trained = fromBytes(
          Uint8Array.from(
            atob(
              await page.evaluate(async () => {
                const b: Uint8Array = await (globalThis as unknown as Studio).studio
                  .checkpointBytes();
                let s = "";
                for (let i = 0; i < b.length; i += 8192) {
                  s += String.fromCharCode(...b.subarray(i, i + 8192));
                }
                return btoa(s);
              }),
            ),
            (c) => c.charCodeAt(0),
          ),
        );
        await train(cli, text, { ...cliRecipe, steps: 12 });
        assert.equal(trained.trainState?.step, 12);
        assert.deepEqual(trained.params, cli.params);

        // Bad files, shown in the page.
        const bad = `${dir}/bad.safetensors`;
        await Deno.writeTextFile(bad, "this is not a checkpoint");
        await open.uploadFile(bad);
        await waitFor(`document.querySelector("#checkpoint-status").className.includes("error")`);
        assert.match(
          (await status("checkpoint-status")).text,
          /^bad\.safetensors: Invalid checkpoint: /,
        );
        await page.click('input[name="source"][value="file"]');
        const badText = `${dir}/bad.txt`;
        await Deno.writeFile(badText, new Uint8Array([0x61, 0x0a, 0x62, 0xc0, 0xaf]));
        await (await page.$("input#file"))!.uploadFile(badText);
        await waitFor(`document.querySelector("#text-status").className.includes("error")`);
        assert.equal(
          (await status("text-status")).text,
          "Invalid UTF-8 in bad.txt: byte 0xC0 at offset 3 (line 2, column 2) does not start a " +
            "valid sequence",
        );
        await page.screenshot({ path: new URL("bad-files.png", SHOTS).pathname });
        const empty = `${dir}/empty.txt`;
        await Deno.writeFile(empty, new Uint8Array([0xef, 0xbb, 0xbf]));
        await (await page.$("input#file"))!.uploadFile(empty);
        await waitFor(`document.querySelector("#text-status").textContent.includes("empty.txt")`);
        assert.equal(
          (await status("text-status")).text,
          "Cannot read empty.txt: the file has no characters: give a non-empty text",
        );
        assert.equal(
          await page.$eval("#train", (e) => (e as unknown as Record<string, unknown>).disabled),
          true,
        );
        assert.deepEqual(errors, []);
      });
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
