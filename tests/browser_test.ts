// The browser build (build/browser/charlstm.js) in headless Chromium, against Deno: the same
// seed gives the same losses and weights (bitwise: the same WASM build) in a cross-origin
// isolated page's Worker with 2 threads, on an isolated page's main thread and on a page that
// is not isolated (1 thread, a memory that is not shared); a CLI checkpoint samples exactly the
// text sample.ts prints; WebGPU in the page agrees with WASM within 1e-4 after 3 Adam steps;
// importing the module never throws, even where the page has no WebGPU and no isolation; the
// harness's mounted folders and classic scripts (which bench/browser_report.ts serves tfjs with).
//
// Chromium: $CHROMIUM, else chromium (or chromium-browser, google-chrome) on the PATH; .ci/run
// installs Debian's. Without one these tests are skipped, saying why.

import assert from "node:assert/strict";
import * as deno from "../mod.ts";
import type * as Browser from "../src/browser/mod.ts";
import { assertClose, corpus } from "./_helpers.ts";
import { findChromium, type Lib, openBrowser } from "./_browser.ts";

const root = new URL("../", import.meta.url);
const chromium = findChromium();
if (!chromium) console.log("browser tests skipped: no chromium found (set $CHROMIUM)");

// --- What the pages run: one job function each, run as source in the page (main thread or a
// module Worker) with the bundle as `lib`, and in Deno with mod.ts.

interface TrainJob {
  text: string;
  model: Browser.ModelOptions;
  train: Browser.TrainOptions;
}

async function trainJob(lib: Lib, a: TrainJob) {
  const model = lib.createModel(a.text, a.model);
  const losses: number[] = [];
  let shared = false;
  let backend = "";
  for await (const e of lib.trainEvents(model, a.text, a.train)) {
    if (e.type === "start") backend = e.backend;
    if (e.type === "step") {
      losses.push(e.loss);
      shared ||= model.params.buffer.constructor.name === "SharedArrayBuffer";
    }
  }
  const evalLoss = await lib.evaluate(model, a.text.slice(0, 1000), { seq: 20 });
  const threads = "defaultThreads" in lib ? lib.defaultThreads() : 0;
  return { losses, params: Array.from(model.params), evalLoss, shared, backend, threads };
}

// The page's own checks: load/readText/save with URLs, Blobs and bytes, threads on a main
// thread, then a CLI checkpoint sampled from its URL.
async function pageJob(lib: Lib, a: { checkpoint: string; prime: string; seed: number }) {
  const errors: Record<string, string> = {};
  const catchName = async (key: string, f: () => Promise<unknown>) => {
    try {
      await f();
      errors[key] = "no error";
    } catch (e) {
      errors[key] = `${(e as Error).name}: ${(e as Error).message}`;
    }
  };
  await catchName("loadMissing", () => lib.load("missing.safetensors"));
  await catchName("readTextMissing", () => lib.readText("missing.txt"));
  const model = await lib.load(a.checkpoint);
  const small = lib.createModel(a.prime, { hidden: 8, layers: 1 });
  const threads2 = { steps: 1, batch: 2, seq: 8, threads: 2 };
  await catchName("threads2", () => lib.train(small, a.prime.repeat(50), threads2));
  const bytes = lib.save(model);
  const fromBlob = await lib.load(new File([bytes], "m.safetensors"));
  const text = await lib.readText(new Blob(["a\r\nb"]));
  const options = { prime: a.prime, length: 60, topK: 3, seed: a.seed };
  return {
    errors,
    text,
    sampled: lib.sample(model, options),
    streamed: a.prime + [...lib.sampleStream(fromBlob, options)].join(""),
    why: lib.threadsUnavailable(),
  };
}

async function webgpuJob(lib: Lib, a: TrainJob & { gpu: boolean }) {
  const run = async (backend: "wasm" | "webgpu") => {
    const model = lib.createModel(a.text, a.model);
    const losses: number[] = [];
    await lib.train(model, a.text, {
      ...a.train,
      backend,
      onEvent: (e) => {
        if (e.type === "step") losses.push(e.loss);
      },
    });
    return { losses, params: Array.from(model.params) };
  };
  return { wasm: await run("wasm"), webgpu: a.gpu ? await run("webgpu") : null };
}

async function bareJob(lib: Lib, a: { text: string }) {
  const model = lib.createModel(a.text, { hidden: 8, layers: 1, seed: 1 });
  await lib.train(model, a.text, { steps: 1, batch: 2, seq: 8 });
  let webgpu = "no error";
  await lib.train(model, a.text, { steps: 2, batch: 2, seq: 8, backend: "webgpu" }).catch(
    (e: Error) => webgpu = e.name,
  );
  return {
    gpu: typeof (navigator as { gpu?: unknown }).gpu,
    isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
    sampled: lib.sample(model, { length: 5, seed: 1 }).length,
    webgpu,
  };
}

// A mounted folder: a classic script run before the job, a file below it, nothing outside it.
async function mountedJob(_lib: Lib, _a: null) {
  const status = async (url: string) => (await fetch(url)).status;
  const wasm = await fetch("mounted/core.wasm");
  return {
    fromScript: (globalThis as { fromScript?: number }).fromScript,
    wasmType: wasm.headers.get("content-type"),
    outside: [await status("mounted/..%2Fcorpus.txt"), await status("mounted/%2E%2E/corpus.txt")],
  };
}

// --- Data, the CLI checkpoint and the reference runs in Deno.

const text = corpus(6000);
const trainArgs: TrainJob = {
  text,
  model: { hidden: 32, layers: 2, dropout: 0.1, seed: 7 },
  train: { steps: 5, batch: 8, seq: 16, lr: 0.01, valFraction: 0.1, valEvery: 4, backend: "wasm" },
};
const gpuArgs: TrainJob = {
  text,
  model: { hidden: 24, layers: 2, dropout: 0.3, seed: 9 },
  train: { steps: 3, batch: 4, seq: 5, lr: 0.01, clip: 0.5, valFraction: 0 },
};

async function cli(script: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  return decoder.decode(stdout);
}

// A checkpoint from train.ts, and what sample.ts prints from it with a seed.
async function cliCheckpoint(dir: string) {
  await Deno.writeTextFile(`${dir}/corpus.txt`, text);
  const flags = ["--data", `${dir}/corpus.txt`, "--hidden", "16", "--layers", "1"];
  await cli("train.ts", [
    ...flags,
    ...["--batch", "4", "--seq", "16", "--steps", "8", "--out", dir, "--sample-length", "0"],
  ]);
  const prime = "gamma ", seed = 3;
  const printed = await cli("sample.ts", [
    `${dir}/last.safetensors`,
    ...["--prime", prime, "--length", "60", "--top-k", "3", "--seed", String(seed)],
  ]);
  return { bytes: await Deno.readFile(`${dir}/last.safetensors`), prime, seed, printed };
}

function assertSameRun(
  where: string,
  actual: Awaited<ReturnType<typeof trainJob>>,
  expected: Awaited<ReturnType<typeof trainJob>>,
) {
  assert.equal(actual.backend, "wasm", where);
  assert.deepEqual(actual.losses, expected.losses, `${where}: losses`);
  assert.equal(actual.evalLoss, expected.evalLoss, `${where}: evaluate`);
  const a = new Float32Array(actual.params), e = new Float32Array(expected.params);
  assert.equal(a.length, e.length);
  const differ = a.findIndex((x, i) => !Object.is(x, e[i]));
  assert.equal(differ, -1, `${where}: params[${differ}] ${a[differ]} ≠ ${e[differ]} (Deno)`);
}

Deno.test({
  name: "browser: the bundle in Chromium trains, evaluates and samples as in Deno",
  ignore: !chromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "charlstm-browser-" });
    const [browser, checkpoint, reference] = await Promise.all([
      openBrowser(chromium!),
      cliCheckpoint(dir),
      trainJob(deno as unknown as Lib, { ...trainArgs, train: { ...trainArgs.train, threads: 1 } }),
    ]);
    const { run, requests } = browser;
    browser.fixture("/last.safetensors", checkpoint.bytes, "application/octet-stream");
    try {
      await t.step("isolated page, in a Worker, 2 threads: bitwise Deno's run", async () => {
        requests.length = 0;
        const args = { ...trainArgs, train: { ...trainArgs.train, threads: 2 } };
        const r = await run("iso", "worker", trainJob, args);
        assert.equal(r.shared, true, "2 threads train on a shared memory");
        assert.ok(requests.includes("/iso/build/browser/charlstm_worker.js"), "worker loaded");
        assert.ok(r.threads >= 2, `a Worker's default is the core count, got ${r.threads}`);
        assertSameRun("isolated Worker", r, reference);
      });
      await t.step(
        "isolated page, main thread: 1 thread by default, bitwise Deno's run",
        async () => {
          const r = await run("iso", "main", trainJob, trainArgs);
          assert.equal(r.threads, 1);
          assert.equal(r.shared, false);
          assertSameRun("isolated main thread", r, reference);
        },
      );
      await t.step("page not isolated: 1 thread, bitwise Deno's run", async () => {
        requests.length = 0;
        const r = await run("plain", "main", trainJob, trainArgs);
        assert.equal(r.threads, 1);
        assert.equal(r.shared, false);
        assert.ok(!requests.some((p) => p.endsWith("charlstm_worker.js")), "no worker started");
        assertSameRun("page not isolated", r, reference);
      });
      await t.step(
        "page not isolated: a CLI checkpoint samples what sample.ts prints",
        async () => {
          const r = await run("plain", "main", pageJob, {
            checkpoint: "last.safetensors",
            prime: checkpoint.prime,
            seed: checkpoint.seed,
          });
          assert.equal(r.sampled + "\n", checkpoint.printed);
          assert.equal(r.streamed + "\n", checkpoint.printed);
          assert.equal(r.text, "a\nb");
          assert.match(r.why!, /not cross-origin isolated/);
          assert.match(r.errors.loadMissing, /^CheckpointError: Cannot read checkpoint .*404/);
          assert.match(
            r.errors.readTextMissing,
            /^TextError: Cannot read .*missing\.txt: HTTP 404/,
          );
          assert.match(
            r.errors.threads2,
            /^Error: Threads unavailable: .*not cross-origin isolated/,
          );
        },
      );
      await t.step("isolated page, main thread: threads 2 is a clear error", async () => {
        const r = await run("iso", "main", pageJob, {
          checkpoint: "last.safetensors",
          prime: checkpoint.prime,
          seed: checkpoint.seed,
        });
        assert.equal(r.sampled + "\n", checkpoint.printed);
        assert.match(r.errors.threads2, /^Error: Threads unavailable: .*main thread/);
      });
      await t.step("WebGPU in the page: within 1e-4 of WASM after 3 Adam steps", async () => {
        const r = await run("iso", "main", webgpuJob, { ...gpuArgs, gpu: true });
        const gpu = r.webgpu!;
        assertClose("losses", gpu.losses, r.wasm.losses, 1e-4, 1e-6);
        let max = 0;
        for (let i = 0; i < r.wasm.params.length; i++) {
          max = Math.max(max, Math.abs(gpu.params[i] - r.wasm.params[i]));
        }
        assert.ok(max <= 1e-4, `params: max |WebGPU - WASM| = ${max}, over 1e-4`);
        assert.ok(max > 0 || gpu.losses.length === 3);
        const inDeno = await webgpuJob(deno as unknown as Lib, { ...gpuArgs, gpu: false });
        assert.deepEqual(r.wasm, inDeno.wasm, "WASM in the page is bitwise WASM in Deno");
        console.log(`largest difference: ${max.toExponential(2)}`);
      });
      await t.step("mounted files: classic scripts before the job, a folder's files", async () => {
        await Deno.mkdir(`${dir}/mounted`);
        await Deno.writeTextFile(`${dir}/mounted/set.js`, "globalThis.fromScript = 6 * 7;");
        await Deno.writeFile(`${dir}/mounted/core.wasm`, new Uint8Array([0, 97, 115, 109]));
        browser.mount("/mounted/", new URL(`file://${dir}/mounted/`));
        for (const where of ["main", "worker"] as const) {
          const r = await run("iso", where, mountedJob, null, { scripts: ["mounted/set.js"] });
          assert.deepEqual(r, {
            fromScript: 42,
            wasmType: "application/wasm",
            outside: [404, 404],
          });
        }
      });
      await t.step("no WebGPU, no isolation: importing and training never throw", async () => {
        const hideGpu =
          "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined })";
        const r = await run("plain", "main", bareJob, { text }, { beforeLoad: hideGpu });
        assert.deepEqual(r, {
          gpu: "undefined",
          isolated: false,
          sampled: 5,
          webgpu: "WebGpuUnavailableError",
        });
      });
      assert.deepEqual(browser.pageErrors.filter((e) => !/404/.test(e)), []);
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
