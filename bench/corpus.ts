// Corpora of any size (issue #22), measured: for texts of 20 MB, 200 MB and 2 GB (10 GB with
// --sizes), generated in /tmp by repeating data/anna.txt and deleted afterwards: the time to
// read each into its token file (openCorpus's first run: two passes, validation, SHA-256) and
// MB/s; the time a second start takes to find it (a fresh process that opens the corpus and
// exits, and openCorpus alone in this one); a train.ts run's peak RSS (the child's VmHWM from
// /proc) and its training chars/s.
//
//   deno run -A bench/corpus.ts [--sizes 20,200,2000] [--steps 50] [--dir /tmp/charlstm-corpus]
//
// Not a `deno bench`: each size is one run of minutes. Wait for a quiet machine first.

import process from "node:process";
import { parseArgs } from "node:util";
import { openCorpus } from "../src/data/corpus.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "20,200,2000" },
    steps: { type: "string", default: "50" },
    dir: { type: "string", default: "/tmp/charlstm-corpus-bench" },
    keep: { type: "boolean", default: false },
  },
});
const sizes = values.sizes!.split(",").map(Number);
const dir = values.dir!;
const cacheHome = `${dir}/cache`;
const cacheDir = `${cacheHome}/charlstm/tokens`;
const root = new URL("..", import.meta.url).pathname;

function cpuName(): string {
  try {
    const lines = new TextDecoder().decode(new Deno.Command("lscpu").outputSync().stdout);
    const get = (k: string) => lines.match(new RegExp(`^${k}:\\s*(.+)$`, "m"))?.[1] ?? "?";
    return `${get("Model name")}, family ${
      get("CPU family")
    }, ${navigator.hardwareConcurrency} cores`;
  } catch {
    return "unknown CPU";
  }
}

// A text of `mb` MB: data/anna.txt repeated (and cut at a line).
async function generate(path: string, mb: number): Promise<number> {
  const book = await Deno.readFile(`${root}data/anna.txt`);
  const target = mb * 1e6;
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(Math.ceil((64 << 20) / book.length) * book.length);
  for (let at = 0; at < block.length; at += book.length) block.set(book, at);
  let written = 0;
  while (written < target) {
    const part = block.subarray(0, Math.min(block.length, target - written));
    for (let at = 0; at < part.length;) at += await file.write(part.subarray(at));
    written += part.length;
  }
  return written;
}

// Runs a child to the end, polling its peak RSS (VmHWM, kB); returns it, the wall time and
// the output.
async function measured(args: string[], env: Record<string, string>) {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peakKb = Math.max(peakKb, Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0));
    } catch { /* gone */ }
  }, 100);
  const out = await child.output();
  clearInterval(poll);
  const seconds = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`child failed (${out.code}): ${text.slice(-2000)}`);
  return { peakMb: peakKb / 1024, seconds, text };
}

await Deno.mkdir(dir, { recursive: true });
console.log(`# ${cpuName()}; deno ${Deno.version.deno}; load average ${Deno.loadavg().join(" ")}`);
console.log(
  "| text | prepare s | MB/s | MB per CPU-s | reuse: process s | reuse: openCorpus ms | " +
    "peak RSS MB | chars/s |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
const env = { XDG_CACHE_HOME: cacheHome };
try {
  for (const mb of sizes) {
    const path = `${dir}/text-${mb}MB.txt`;
    const bytes = await generate(path, mb);
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
    // The first run: both passes and the token file, in this process.
    await import("node:crypto"); // loaded once per process (about a second), not per text
    let t = performance.now();
    const cpu0 = process.cpuUsage();
    const corpus = await openCorpus(path, { cacheDir });
    const prepare = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    // A second start: a fresh process finds the token file.
    const reuse = await measured([
      "eval",
      `import { openCorpus } from "${root}src/data/corpus.ts";` +
      `await openCorpus(${JSON.stringify(path)}, { cacheDir: ${JSON.stringify(cacheDir)} });`,
    ], env);
    t = performance.now();
    const again = await openCorpus(path, { cacheDir });
    const reuseMs = performance.now() - t;
    if (again.tokenPath !== corpus.tokenPath) throw new Error("the token file was not reused");
    // Training from it: the default recipe's model, a fixed number of steps, no validation.
    const log = `${dir}/run-${mb}.jsonl`;
    await Deno.remove(log).catch(() => {});
    const run = await measured([
      "run",
      "-A",
      `${root}train.ts`,
      "--data",
      path,
      "--steps",
      values.steps!,
      "--val-every",
      "0",
      "--sample-length",
      "0",
      "--out",
      `${dir}/out`,
      "--log",
      log,
    ], env);
    const steps = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((e) => e.type === "step");
    const charsPerSec = steps.at(-1)?.charsPerSec ?? NaN;
    console.log(
      `| ${(bytes / 1e6).toFixed(0)} MB | ${prepare.toFixed(1)} | ${
        (bytes / 1e6 / prepare).toFixed(0)
      } | ${(bytes / 1e6 / cpuSeconds).toFixed(0)} | ` +
        `${reuse.seconds.toFixed(2)} | ${reuseMs.toFixed(0)} | ${run.peakMb.toFixed(0)} | ` +
        `${charsPerSec.toFixed(0)} |`,
    );
    await Deno.remove(path);
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
  }
} finally {
  if (!values.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
}
