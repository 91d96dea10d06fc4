// deno task bench:browser — training chars/s of the browser build (build/browser/charlstm.js)
// in headless Chromium against the same API in Deno, on config S of bench/compare.ts (LSTM,
// 2 layers, H 128, batch 32, seq 64, vocab 83, dropout 0.5): median / min / max over rounds.
// In Chromium: a cross-origin isolated page's module Worker at 1 and 2 threads, and the main
// thread of a page that is not isolated (1 thread, a memory that is not shared).
// Each engine runs --passes times (interleaved), each time --rounds rounds of --steps steps.
//   deno task bench:browser [--passes 3] [--rounds 3] [--steps 3]

import { parseArgs } from "node:util";
import * as deno from "../mod.ts";
import { findChromium, type Lib, openBrowser } from "../tests/_browser.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { passes: { type: "string" }, rounds: { type: "string" }, steps: { type: "string" } },
});
const passes = Number(values.passes ?? 3);
const rounds = Number(values.rounds ?? 3), steps = Number(values.steps ?? 3);

interface BenchArgs {
  text: string;
  threads: number;
  rounds: number;
  steps: number;
}

// One warm-up step, then `rounds` rounds of `steps` steps timed from step event to step event.
async function benchJob(lib: Lib, a: BenchArgs): Promise<number[]> {
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
  const rates: number[] = [];
  for (let r = 0; r < a.rounds; r++) {
    const ms = times[(r + 1) * a.steps] - times[r * a.steps];
    rates.push(a.steps * 32 * 64 / (ms / 1000));
  }
  return rates;
}

// 83 characters, a seeded random text long enough for every step without wrapping.
let seed = 1;
const chars = Array.from({ length: 83 }, (_, i) => String.fromCharCode(32 + i));
const text = Array.from({ length: 32 * 64 * (2 + rounds * steps) }, () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return chars[seed % 83];
}).join("");

// Every engine once per pass, passes interleaved, so that a busy spell on a shared machine
// lands on all of them.
const args = (threads: number): BenchArgs => ({ text, threads, rounds, steps });
const runs: { where: string; threads: number; run: () => Promise<number[]> }[] = [1, 2].map(
  (threads) => ({
    where: "Deno",
    threads,
    run: () => benchJob(deno as unknown as Lib, args(threads)),
  }),
);
const chromium = findChromium();
const browser = chromium ? await openBrowser(chromium) : null;
if (!browser) console.log("Chromium skipped: no chromium found (set $CHROMIUM)");
else {
  for (const threads of [1, 2]) {
    runs.push({
      where: `${browser.version}, isolated page, Worker`,
      threads,
      run: () => browser.run("iso", "worker", benchJob, args(threads)),
    });
  }
  runs.push({
    where: `${browser.version}, page's main thread, not isolated`,
    threads: 1,
    run: () => browser.run("plain", "main", benchJob, args(1)),
  });
}
const rows = runs.map((r) => ({ ...r, rates: [] as number[] }));
try {
  for (let pass = 0; pass < passes; pass++) {
    for (const row of rows) row.rates.push(...await row.run());
  }
} finally {
  await browser?.close();
}

const fmt = (r: number[]) => {
  const s = [...r].sort((a, b) => a - b);
  return [s[s.length >> 1], s[0], s[s.length - 1]].map((x) => Math.round(x)).join(" / ");
};
const median = (r: number[]) => [...r].sort((a, b) => a - b)[r.length >> 1];
console.log(
  `config S (LSTM, 2 layers, H 128, batch 32, seq 64, vocab 83): training chars/s ` +
    `median / min / max over ${passes} × ${rounds} rounds of ${steps} steps; ` +
    "ratio = ÷ Deno at the same thread count",
);
console.log("| where | threads | train chars/s | ratio |");
console.log("| ----- | ------- | ------------- | ----- |");
for (const { where, threads, rates } of rows) {
  const base = rows.find((r) => r.where === "Deno" && r.threads === threads)!.rates;
  const ratio = (median(rates) / median(base)).toFixed(2);
  console.log(`| ${where} | ${threads} | ${fmt(rates)} | ${ratio}× |`);
}
