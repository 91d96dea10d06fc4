// The studio on a dropped file of any size (issue #22, the page's door), in headless Chromium:
// a generated text (data/anna.txt repeated to --size-mb MB, kept in /tmp) is handed to the
// page's file input, as a drop hands it, and read by the Worker into a corpus (openCorpus of the
// File: its ids in an Origin Private File System file); then a small model trains on it for
// --steps steps, and on anna.txt itself (2 MB) for comparison. It prints, for each text:
// preparation time and rate, the page's longest main-thread stall while it read and while it
// trained (the largest gap between requestAnimationFrame callbacks, and between 16 ms timers),
// the peak RSS of the renderer process (which holds the page and its Workers) and of all of
// Chromium's processes together, the origin's storage use (the OPFS file), and training chars/s.
//
//   deno run -A bench/studio_large.ts [--size-mb 1000] [--steps 150] [--threads 2] [--keep]
//
// Not a test: it times things. --keep leaves the generated text in /tmp for the next run.

import puppeteer from "puppeteer-core";
import { findChromium } from "../tests/_browser.ts";
import { serveStudio } from "../studio/server.ts";

const args = Deno.args;
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const sizeMb = flag("size-mb", 1000);
const steps = flag("steps", 150);
const threads = flag("threads", 2);
const keep = args.includes("--keep");
const root = new URL("../", import.meta.url);
const big = `/tmp/charlstm-studio-${sizeMb}mb.txt`;
const small = new URL("data/anna.txt", root).pathname;

// The text: anna.txt repeated, written once (and kept with --keep).
async function generate(path: string, bytes: number): Promise<void> {
  try {
    if ((await Deno.stat(path)).size >= bytes) return;
  } catch { /* not there yet */ }
  const piece = await Deno.readFile(small);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < bytes; written += piece.length) {
    for (let at = 0; at < piece.length;) at += await file.write(piece.subarray(at));
  }
}

// RSS of Chromium's processes: the largest one (the renderer, with the page's Workers) and all.
function rss(rootPid: number): { largest: number; total: number } {
  const parent = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(entry.name), Number(fields[1]));
    } catch { /* gone */ }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === rootPid) return true;
    return false;
  };
  let largest = 0, total = 0;
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      largest = Math.max(largest, kb * 1024);
      total += kb * 1024;
    } catch { /* gone */ }
  }
  return { largest, total };
}

// In the page before its scripts: the stall monitor, and the Worker's step events.
const MONITOR = `(() => {
  const m = { raf: 0, timer: 0, steps: [] };
  let lastRaf = performance.now(), lastTimer = performance.now();
  m.reset = () => { m.raf = 0; m.timer = 0; lastRaf = lastTimer = performance.now(); };
  const frame = (t) => { m.raf = Math.max(m.raf, t - lastRaf); lastRaf = t; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  const tick = () => { const now = performance.now(); m.timer = Math.max(m.timer, now - lastTimer); lastTimer = now; setTimeout(tick, 16); };
  setTimeout(tick, 16);
  const Base = Worker;
  globalThis.Worker = class extends Base {
    constructor(url, options) {
      super(url, options);
      this.addEventListener("message", ({ data }) => {
        if (data.type !== "events") return;
        for (const e of data.events) if (e.type === "step") m.steps.push([e.step, e.elapsedMs]);
      });
    }
  };
  globalThis.__bench = m;
})();`;

const chromium = findChromium();
if (!chromium) {
  console.error("Cannot run the benchmark: no Chromium (install chromium, or set $CHROMIUM)");
  Deno.exit(2);
}
await generate(big, sizeMb * 1e6);
const controller = new AbortController();
const { promise: listening, resolve } = Promise.withResolvers<string>();
const server = serveStudio({ port: 0, signal: controller.signal, onListen: resolve });
const url = await listening;
const profile = await Deno.makeTempDir({ prefix: "charlstm-studio-bench-" });
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox", `--user-data-dir=${profile}`],
  protocolTimeout: 3_600_000,
});
const pid = browser.process()!.pid!;
let peak = { largest: 0, total: 0 };
const sampler = setInterval(() => {
  const now = rss(pid);
  peak = { largest: Math.max(peak.largest, now.largest), total: Math.max(peak.total, now.total) };
}, 200);
const rows: string[] = [];
try {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(MONITOR);
  await page.goto(url);
  await page.waitForFunction("studio.state.text !== null", { timeout: 60_000 });
  const setField = (name: string, v: string | number) =>
    page.$eval(`#settings [name="${name}"]`, (e, v) => {
      (e as unknown as { value: string }).value = String(v);
    }, v);
  const recipe = { hidden: 128, layers: 2, dropout: 0, seed: 1, batch: 32, seq: 64, lr: 0.002 };
  for (const [name, v] of Object.entries(recipe)) await setField(name, v);
  await page.select('#settings [name="backend"]', "wasm");
  await page.select('#settings [name="unit"]', "steps");
  for (const [name, v] of Object.entries({ amount: steps, valEvery: 0, sampleEvery: 0, threads })) {
    await setField(name, v);
  }
  await page.click('input[name="source"][value="file"]');
  const input = (await page.$("input#file"))!;
  for (const path of [small, big]) {
    const size = (await Deno.stat(path)).size;
    await page.evaluate("__bench.reset()");
    const idle = rss(pid);
    peak = idle;
    const t0 = performance.now();
    await input.uploadFile(path);
    const name = path.split("/").pop()!;
    await page.waitForFunction(
      `/ (ok|warn|error)/.test(document.querySelector("#text-status").className)`,
      { timeout: 3_600_000, polling: 100 },
    );
    const prepS = (performance.now() - t0) / 1000;
    const status = await page.$eval("#text-status", (e) => e.textContent!);
    const failed = await page.$eval("#text-status", (e) => e.className.includes("error"));
    const readStall = await page.evaluate("({ raf: __bench.raf, timer: __bench.timer })") as {
      raf: number;
      timer: number;
    };
    const readPeak = peak;
    const usage = await page.evaluate("navigator.storage.estimate().then((e) => e.usage)");
    const mb = (n: number) => (n / 1e6).toFixed(0);
    console.error(`${name}: ${status}`);
    if (failed) {
      rows.push(
        `| ${mb(size)} MB | fails after ${prepS.toFixed(1)} s: ${status} | ` +
          `${readStall.raf.toFixed(0)} / ${readStall.timer.toFixed(0)} ms | – | ` +
          `${mb(idle.largest)} → ${mb(readPeak.largest)} / ${mb(readPeak.total)} MB | – | – | – |`,
      );
      continue;
    }
    await page.evaluate("__bench.reset(); __bench.steps.length = 0");
    peak = rss(pid);
    await page.click("#train");
    await page.waitForFunction("studio.state.training", { timeout: 60_000, polling: 20 });
    await page.waitForFunction("!studio.state.training", { timeout: 3_600_000, polling: 100 });
    const trainStall = await page.evaluate("({ raf: __bench.raf, timer: __bench.timer })") as {
      raf: number;
      timer: number;
    };
    const stepsSeen = await page.evaluate("__bench.steps") as [number, number][];
    // After the first tenth of the steps (the engine's start and warm-up).
    const from = stepsSeen[Math.floor(stepsSeen.length / 10)];
    const to = stepsSeen.at(-1)!;
    const charsPerSec = ((to[0] - from[0]) * recipe.batch * recipe.seq) / ((to[1] - from[1]) / 1e3);
    rows.push(
      `| ${mb(size)} MB | ${prepS.toFixed(1)} s (${(size / 1e6 / prepS).toFixed(0)} MB/s) | ` +
        `${readStall.raf.toFixed(0)} / ${readStall.timer.toFixed(0)} ms | ` +
        `${trainStall.raf.toFixed(0)} / ${trainStall.timer.toFixed(0)} ms | ` +
        `${mb(idle.largest)} → ${mb(readPeak.largest)} / ${mb(readPeak.total)} MB | ` +
        `${mb(peak.largest)} / ${mb(peak.total)} MB | ${mb(Number(usage))} MB | ` +
        `${Math.round(charsPerSec).toLocaleString("en-US")} |`,
    );
  }
} finally {
  clearInterval(sampler);
  await browser.close();
  controller.abort();
  await server.finished;
  await Deno.remove(profile, { recursive: true });
  if (!keep) await Deno.remove(big).catch(() => {});
}
console.log(
  `Chromium ${chromium}, ${steps} steps of a 2×128 LSTM, batch 32 × seq 64, ${threads} threads (WASM)`,
);
console.log(
  "| text | preparation | longest stall reading (rAF / 16 ms timer) | longest stall training | " +
    "renderer RSS idle → peak reading / all processes | peak training (renderer / all) | " +
    "origin storage | training chars/s |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
