// deno task bench:browser — training and sampling chars/s of the browser build
// (build/browser/charlstm.js) in headless Chromium against the same API in Deno, and against
// TensorFlow.js 4.22 in the same Chromium, on config S of bench/compare.ts (LSTM, 2 layers, H 128,
// batch 32, seq 64, vocab 83, dropout 0.5): one markdown table, median / min / max over
// passes × rounds.
//
// charlstm: Deno at 1 and 2 threads; in Chromium a cross-origin isolated page's module Worker
// at 1 and 2 threads, and the main thread of a page that is not isolated (1 thread, a memory
// that is not shared). Training through `trainEvents` (WASM), timed from step event to step
// event after a warm-up step; then sampling with `sample()` from the model just trained (top-k 5,
// --sample characters a round, the row's thread count, the core's start-up included), as
// bench/_peer_charlstm.ts does in Deno.
//
// TensorFlow.js (--tfjs, the rows to run): bench/_tfjs_model.ts, the model and loops of
// bench/_peer_tfjs.ts, on the main thread of an isolated page, with its UMD bundles from the npm
// packages (`deno install` puts them in Deno's npm cache; the harness serves them): `wasm` at 1
// and 2 threads (the threaded SIMD binary, as the page is isolated), `webgl` and `webgpu` (in
// headless Chromium both run on SwiftShader, a CPU emulation of a GPU: the rows say so). A backend
// that fails to start gives its row one line saying why.
//
// Every row runs once per pass, in a fresh page, passes interleaved, so that a busy spell on a
// shared machine lands on all of them.
//   deno task bench:browser [--passes 3] [--rounds 3] [--steps 3] [--sample 20000]
//     [--tfjs wasm,webgl,webgpu] [--tfjs-steps 1] [--tfjs-sample 200]

import { parseArgs } from "node:util";
import type * as TF from "@tensorflow/tfjs";
import * as deno from "../mod.ts";
import { findChromium, type Lib, openBrowser, type RunOptions } from "../tests/_browser.ts";
import { tfjsBench, type TfjsBenchConfig, type TfjsBenchResult } from "./_tfjs_model.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: Object.fromEntries(
    ["passes", "rounds", "steps", "sample", "tfjs", "tfjs-steps", "tfjs-sample"].map((k) => [
      k,
      { type: "string" as const },
    ]),
  ),
});
const num = (k: string, d: number) => {
  const v = Number(values[k] ?? d);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${k} must be an integer ≥ 1`);
  return v;
};
const passes = num("passes", 3), rounds = num("rounds", 3), steps = num("steps", 3);
const sampleLength = num("sample", 20000);
const tfjsSteps = num("tfjs-steps", 1), tfjsSample = num("tfjs-sample", 200);
const BACKENDS = ["wasm", "webgl", "webgpu"] as const;
type Backend = typeof BACKENDS[number];
const tfjsBackends = (values.tfjs ?? BACKENDS.join(",")).split(",").filter((b) =>
  b && b !== "none"
);
for (const b of tfjsBackends) {
  if (!BACKENDS.includes(b as Backend)) {
    throw new RangeError(`--tfjs: unknown backend ${b} (${BACKENDS.join(", ")}, none)`);
  }
}
const S = { hidden: 128, layers: 2, batch: 32, seq: 64, vocab: 83 };

// --- charlstm: one job for Deno (mod.ts) and the page (the bundle).

interface BenchArgs {
  text: string;
  threads: number;
  rounds: number;
  steps: number;
  sample: number;
}

interface Rates {
  train: number[];
  sample: number[];
}

// One warm-up step, then `rounds` rounds of `steps` steps timed from step event to step event;
// then `rounds` samples from the trained model.
async function benchJob(lib: Lib, a: BenchArgs): Promise<Rates> {
  const model = lib.createModel(a.text, { hidden: 128, layers: 2, dropout: 0.5, seed: 1 });
  const times: number[] = [];
  const options = {
    batch: 32,
    seq: 64,
    steps: 1 + a.rounds * a.steps,
    threads: a.threads,
    valFraction: 0,
    backend: "wasm" as const,
  };
  for await (const e of lib.trainEvents(model, a.text, options)) {
    if (e.type === "step") times.push(performance.now());
  }
  const train: number[] = [];
  for (let r = 0; r < a.rounds; r++) {
    const ms = times[(r + 1) * a.steps] - times[r * a.steps];
    train.push(a.steps * 32 * 64 / (ms / 1000));
  }
  const sample: number[] = [];
  for (let r = 0; r < a.rounds; r++) {
    const t0 = performance.now();
    const text = lib.sample(model, { length: a.sample, topK: 5, seed: r, threads: a.threads });
    const ms = performance.now() - t0;
    if (text.length < a.sample) throw new Error(`sampled ${text.length} of ${a.sample} chars`);
    sample.push(a.sample / (ms / 1000));
  }
  return { train, sample };
}

// --- TensorFlow.js in the page: bench/_tfjs_model.ts's tfjsBench, sent as source.

interface TfjsArgs {
  backend: Backend;
  threads: number;
  /** Page-relative folder of the .wasm files. */
  wasmPaths: string;
  /** tfjsBench's source. */
  bench: string;
  config: TfjsBenchConfig;
}

type TfjsOutcome =
  | { error: string }
  | TfjsBenchResult & { version: string; device: string; threads: number };

// Sets the backend (its warnings, if it fails, are the reason), says what it runs on, benches.
async function tfjsJob(_lib: Lib, a: TfjsArgs): Promise<TfjsOutcome> {
  interface Wasm {
    setWasmPaths(prefix: string): void;
    setThreadsCount(n: number): void;
    getThreadsCount(): number;
  }
  interface GL {
    RENDERER: number;
    getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null;
    getParameter(p: number): string;
  }
  interface Adapter {
    info?: Record<string, string>;
  }
  const g = globalThis as unknown as {
    tf?: typeof TF & { wasm?: Wasm };
    navigator: { gpu?: { requestAdapter(): Promise<Adapter | null> } };
  };
  const tf = g.tf;
  if (!tf) return { error: "tf.min.js did not load" };
  const firstLine = (e: unknown) =>
    String((e as Error)?.message ?? e).split("\n").find((l) => l.trim()) ?? String(e);
  const said: string[] = [];
  const { warn, error } = console;
  console.warn = (...m: unknown[]) => said.push(m.map(firstLine).join(" "));
  console.error = console.warn;
  if (a.backend === "webgpu") {
    if (!g.navigator.gpu) return { error: "no WebGPU in this page (navigator.gpu is undefined)" };
    if (!await g.navigator.gpu.requestAdapter()) return { error: "no WebGPU adapter" };
  }
  try {
    if (a.backend === "wasm") {
      if (!tf.wasm) return { error: "tf-backend-wasm.min.js did not load" };
      tf.wasm.setWasmPaths(new URL(a.wasmPaths, location.href).href);
      tf.wasm.setThreadsCount(a.threads);
    }
    if (!(await tf.setBackend(a.backend))) {
      return { error: said.join("; ") || `setBackend("${a.backend}") returned false` };
    }
    await tf.ready();
  } catch (e) {
    return { error: [...said, firstLine(e)].join("; ") };
  } finally {
    console.warn = warn;
    console.error = error;
  }
  let device = "", threads = 1;
  try {
    if (a.backend === "wasm") {
      const [simd, mt] = await Promise.all([
        tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"),
        tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"),
      ]);
      device = simd && mt ? "threaded SIMD" : simd ? "SIMD" : "no SIMD";
      threads = tf.wasm!.getThreadsCount();
    } else if (a.backend === "webgl") {
      const gl = (tf.backend() as unknown as { gpgpu: { gl: GL } }).gpgpu.gl;
      const ext = gl.getExtension("WEBGL_debug_renderer_info");
      device = gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
    } else {
      const info = (await g.navigator.gpu?.requestAdapter())?.info ?? {};
      device = [info.vendor, info.architecture, info.device, info.description]
        .filter((x) => x).join(" ") || "?";
    }
  } catch (e) {
    device = `? (${firstLine(e)})`;
  }
  try {
    const bench = (0, eval)(`(${a.bench})`) as typeof tfjsBench;
    return { version: tf.version.tfjs, device, threads, ...await bench(tf, a.config) };
  } catch (e) {
    return { error: firstLine(e) };
  }
}

// --- The rows.

// 83 characters, a seeded random text long enough for every step without wrapping.
let seed = 1;
const chars = Array.from({ length: 83 }, (_, i) => String.fromCharCode(32 + i));
const text = Array.from({ length: 32 * 64 * (2 + rounds * steps) }, () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return chars[seed % 83];
}).join("");

interface Row {
  kind: "deno" | "chromium" | "tfjs";
  engine: string;
  where: string;
  threads: number;
  run: () => Promise<Rates | string>;
  train: number[];
  sample: number[];
  errors: string[];
  /** The adapter or renderer a tfjs GPU backend ran on. */
  device?: string;
  /** A tfjs row's name in the closing lines. */
  short?: string;
}
const rows: Row[] = [];
const add = (r: Omit<Row, "train" | "sample" | "errors">) =>
  rows.push({ ...r, train: [], sample: [], errors: [] });
const args = (threads: number): BenchArgs => ({
  text,
  threads,
  rounds,
  steps,
  sample: sampleLength,
});
const denoWhere = `Deno ${Deno.version.deno}`;
for (const threads of [1, 2]) {
  add({
    kind: "deno",
    engine: "charlstm",
    where: denoWhere,
    threads,
    run: () => benchJob(deno as unknown as Lib, args(threads)),
  });
}

// The npm packages' files: a file: URL in Deno's npm cache once installed.
function npmFile(spec: string): URL | string {
  const url = import.meta.resolve(spec);
  if (!url.startsWith("file:")) return `${spec} not installed: run \`deno install\``;
  try {
    Deno.statSync(new URL(url));
    return new URL(url);
  } catch {
    return `${url} not found: run \`deno install\``;
  }
}

const chromium = findChromium();
const browser = chromium
  // a tfjs page's job may run for many minutes on SwiftShader
  ? await openBrowser(chromium, { protocolTimeout: 60 * 60_000 })
  : null;
if (!browser) console.log("Chromium skipped: no chromium found (set $CHROMIUM)");
else {
  const v = browser.version;
  for (const threads of [1, 2]) {
    add({
      kind: "chromium",
      engine: "charlstm",
      where: `${v}, isolated page, Worker`,
      threads,
      run: () => browser.run("iso", "worker", benchJob, args(threads)),
    });
  }
  add({
    kind: "chromium",
    engine: "charlstm",
    where: `${v}, page's main thread, not isolated`,
    threads: 1,
    run: () => browser.run("plain", "main", benchJob, args(1)),
  });

  const files = {
    "/tfjs/tf.min.js": npmFile("@tensorflow/tfjs/dist/tf.min.js"),
    "/tfjs/wasm/tf-backend-wasm.min.js": npmFile(
      "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    ),
    "/tfjs/webgpu/tf-backend-webgpu.min.js": npmFile(
      "@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js",
    ),
  };
  for (const [path, file] of Object.entries(files)) {
    if (typeof file === "string") continue;
    browser.mount(path, file);
    // the .wasm binaries beside the wasm bundle
    if (path.startsWith("/tfjs/wasm/")) browser.mount("/tfjs/wasm/", new URL(".", file));
  }
  const config: TfjsBenchConfig = {
    ...S,
    rounds,
    steps: tfjsSteps,
    sampleRounds: rounds,
    sample: tfjsSample,
  };
  for (const backend of tfjsBackends as Backend[]) {
    const scripts = ["/tfjs/tf.min.js"];
    if (backend === "wasm") scripts.push("/tfjs/wasm/tf-backend-wasm.min.js");
    if (backend === "webgpu") scripts.push("/tfjs/webgpu/tf-backend-webgpu.min.js");
    const missing = scripts.map((s) => files[s as keyof typeof files]).find((f) =>
      typeof f === "string"
    );
    for (const threads of backend === "wasm" ? [1, 2] : [1]) {
      // tfjs's wasm backend caps its pool at navigator.hardwareConcurrency / 2 (it takes a core
      // for 2 hyperthreads): 1 thread on a 2-core machine. The 2-thread row reports twice the
      // thread count to its page, so that XNNPACK gets the 2 threads asked for.
      const options: RunOptions = {
        scripts: scripts.map((s) => s.slice(1)),
        ...threads > 1
          ? {
            beforeLoad: "Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', " +
              `{ get: () => ${2 * threads} })`,
          }
          : {},
      };
      const row = {
        kind: "tfjs" as const,
        engine: `tfjs ${backend}`,
        where: `${v}, isolated page, main thread`,
        threads,
        run: async () => {
          if (missing) return missing as string;
          const r = await browser.run("iso", "main", tfjsJob, {
            backend,
            threads,
            wasmPaths: "tfjs/wasm/",
            bench: tfjsBench.toString(),
            config,
          }, options);
          if ("error" in r) return r.error;
          const software = /swiftshader/i.test(r.device)
            ? "SwiftShader"
            : /llvmpipe|lavapipe/i.test(r.device)
            ? "llvmpipe"
            : null;
          rows[index].engine = `tfjs ${r.version} ${backend} ` +
            (software ? `(${software}: CPU emulation, not a GPU)` : `(${r.device})`);
          if (backend !== "wasm") rows[index].device = r.device;
          rows[index].threads = r.threads;
          rows[index].short = backend === "wasm"
            ? `wasm ${r.threads === 1 ? "1 thread" : `${r.threads} threads`}`
            : `${backend}${software ? ` (${software})` : ""}`;
          return r;
        },
      };
      const index = add(row) - 1;
    }
  }
}

try {
  for (let pass = 0; pass < passes; pass++) {
    for (const row of rows) {
      try {
        const r = await row.run();
        if (typeof r === "string") row.errors.push(r);
        else {
          row.train.push(...r.train);
          row.sample.push(...r.sample);
        }
      } catch (e) {
        row.errors.push(String((e as Error)?.message ?? e).split("\n")[0]);
      }
    }
  }
} finally {
  await browser?.close();
}

// --- The table.

const sorted = (r: number[]) => [...r].sort((a, b) => a - b);
const median = (r: number[]) => sorted(r)[r.length >> 1];
const fmt = (r: number[]) => {
  if (!r.length) return "-";
  const s = sorted(r);
  return [s[s.length >> 1], s[0], s[s.length - 1]].map((x) => Math.round(x)).join(" / ");
};
const ratio = (a: number[] | undefined, b: number[]) =>
  a?.length && b.length ? `${(median(a) / median(b)).toFixed(2)}×` : "-";
const denoRow = (threads: number) => rows.find((r) => r.kind === "deno" && r.threads === threads);
const best = (what: "train" | "sample") =>
  rows.filter((r) => r.kind === "chromium" && r[what].length)
    .sort((a, b) => median(b[what]) - median(a[what]))[0];
const bestTrain = best("train"), bestSample = best("sample");

const cpu = (() => {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  } catch {
    return "?";
  }
})();
console.log(`# charlstm in the browser, ${new Date().toISOString().slice(0, 16)} UTC`);
console.log(`CPU: ${cpu}, ${navigator.hardwareConcurrency} cores; ${denoWhere}\n`);
console.log(
  `config S (LSTM, 2 layers, H 128, batch 32, seq 64, vocab 83, dropout 0.5): chars/s ` +
    `median / min / max over ${passes} passes × ${rounds} rounds; a round is ${steps} training ` +
    `step(s) (tfjs: ${tfjsSteps}) and one sample of ${sampleLength} chars (tfjs: ${tfjsSample}), ` +
    "top-k 5.\nratio: a charlstm row ÷ charlstm in Deno at the same thread count; a tfjs row: " +
    "charlstm in Chromium's best ÷ the row.\n",
);
console.log(
  "| engine | where | threads | train chars/s | train ratio | sample chars/s | sample ratio |",
);
console.log(
  "| ------ | ----- | ------- | ------------- | ----------- | -------------- | ------------ |",
);
for (const row of rows) {
  const { engine, where, threads, train, sample, errors } = row;
  const failed = errors.length ? `failed: ${errors[0]}` : "";
  if (!train.length && !sample.length) {
    console.log(`| ${engine} | ${where} | ${threads} | ${failed || "-"} | - | - | - |`);
    continue;
  }
  const base = row.kind === "tfjs" ? null : denoRow(threads);
  const trainRatio = base ? ratio(train, base.train) : ratio(bestTrain?.train, train);
  const sampleRatio = base ? ratio(sample, base.sample) : ratio(bestSample?.sample, sample);
  const note = failed ? ` (${errors.length} of ${passes} passes ${failed})` : "";
  console.log(
    `| ${engine} | ${where} | ${threads} | ${fmt(train)}${note} | ${trainRatio} | ` +
      `${fmt(sample)} | ${sampleRatio} |`,
  );
}

// The issue's aims: within 10% of Deno, and ≥ 20× TensorFlow.js in the same browser.
const nThreads = (n: number) => n === 1 ? "1 thread" : `${n} threads`;
console.log("");
for (const row of rows) {
  if (row.device) console.log(`- ${row.engine.split(" (")[0]} ran on: ${row.device}`);
}
for (const [what, top] of [["training", bestTrain], ["sampling", bestSample]] as const) {
  const key = what === "training" ? "train" : "sample";
  if (!top) {
    console.log(`- ${what}: charlstm did not run in Chromium`);
    continue;
  }
  const base = denoRow(top.threads);
  const tfjs = rows.filter((r) => r.kind === "tfjs" && r[key].length).map((r) =>
    `${(median(top[key]) / median(r[key])).toFixed(1)}× ${r.short}`
  );
  console.log(
    `- ${what}, charlstm in Chromium at its best: ${Math.round(median(top[key]))} chars/s ` +
      `(${top.where.replace(/^[^,]*, /, "")}, ${nThreads(top.threads)}) = ` +
      `${ratio(top[key], base?.[key] ?? [])} Deno at ${nThreads(top.threads)} ` +
      "(aim: 0.90× or more); ÷ tfjs (aim: 20× or more): " +
      (tfjs.length ? tfjs.join(", ") : "no tfjs row ran"),
  );
}
