// deno task bench:compare — training and sampling speed of this project against its peers on
// the same machine, in one run: TensorFlow.js 4.22 (wasm and cpu backends) and PyTorch CPU
// (Debian's python3-torch, when `python3 -c "import torch"` works). Each engine × config runs
// in its own process (so peak RSS is its own); rates are median / min / max over rounds.
//
//   S = 2 layers, H 128, batch 32, seq 64, vocab 83;  U = 2 layers, H 512, batch 128, seq 100.
//   Cells: LSTM and GRU (PyTorch's nn.GRU equations in both engines); tfjs on the S LSTM only.
//   deno task bench:compare [--cells lstm,gru] [--configs S,U]

import { parseArgs } from "node:util";
import { defaultThreads } from "../src/engine/threads.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: { cells: { type: "string" }, configs: { type: "string" } },
});
const cells = (opts.cells ?? "lstm,gru").split(",");
const configNames = (opts.configs ?? "S,U").split(",");

interface Result {
  engine: string;
  train: number[];
  sample: number[];
  peakRssMiB: number;
}

const CONFIGS = {
  S: { hidden: 128, layers: 2, batch: 32, seq: 64, vocab: 83 },
  U: { hidden: 512, layers: 2, batch: 128, seq: 100, vocab: 83 },
} as const;
const threads = defaultThreads();
const decoder = new TextDecoder();

async function runJson(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Result | string> {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    const line = decoder.decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !line.startsWith("{")) {
      return `failed: ${decoder.decode(out.stderr).trim().split("\n").slice(-1)[0]}`;
    }
    return JSON.parse(line);
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  }
}

function flags(config: Record<string, number>, extra: Record<string, number | string>) {
  return Object.entries({ ...config, ...extra }).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

const python = "/usr/bin/python3";
const torchCheck = await runJson(python, [
  "-c",
  'import torch, json; print(json.dumps({"engine": "pytorch " + torch.__version__, "train": [], "sample": [], "peakRssMiB": 0}))',
]);
const torch = typeof torchCheck === "string" ? null : torchCheck.engine;

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
};
const fmt = (xs: number[]) => {
  if (xs.length === 0) return "-";
  const { median, min, max } = stats(xs);
  return `${Math.round(median)} / ${Math.round(min)} / ${Math.round(max)}`;
};

const cpu = (() => {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  } catch {
    return "?";
  }
})();
console.log(`# charlstm vs peers, ${new Date().toISOString().slice(0, 10)}`);
console.log(`CPU: ${cpu}, ${navigator.hardwareConcurrency} cores; Deno ${Deno.version.deno}`);
if (!torch) console.log(`PyTorch skipped: ${python} -c "import torch" failed (${torchCheck})`);
console.log(
  "\nchars/s median / min / max; ratio = charlstm ÷ engine at the same thread count " +
    "(charlstm at 1 thread for tfjs)\n",
);
console.log(
  "| config | cell | engine | threads | train chars/s | sample chars/s | peak RSS MiB | train ratio | sample ratio |",
);
console.log("|---|---|---|---|---|---|---|---|---|");

// One line per config: charlstm's fastest row against each peer's fastest row.
function bestAgainstBest(
  what: string,
  best: Map<string, { label: string; train: number[] }>,
): string {
  const ours = best.get("charlstm");
  if (!ours) return `- ${what}: charlstm did not run`;
  const peers = [...best].filter(([k]) => k !== "charlstm").map(([, b]) =>
    `${(stats(ours.train).median / stats(b.train).median).toFixed(2)}× ${b.label} ` +
    `(${Math.round(stats(b.train).median)})`
  );
  return `- ${what}: charlstm ${Math.round(stats(ours.train).median)} (${ours.label}) — ` +
    (peers.length ? peers.join("; ") : "no peer ran");
}

const bestLines: string[] = [];
for (
  const [name, config, cell] of Object.entries(CONFIGS)
    .filter(([name]) => configNames.includes(name))
    .flatMap(([name, config]) => cells.map((cell) => [name, config, cell] as const))
) {
  const big = name === "U";
  const ours = new Map<number, Result>();
  const threadCounts = [...new Set([1, threads])];
  // [result, threads, OpenBLAS threads (PyTorch only)]
  const rows: [Result | string, number, number?][] = [];
  for (const t of threadCounts) {
    const r = await runJson(Deno.execPath(), [
      "run",
      "-A",
      new URL("./_peer_charlstm.ts", import.meta.url).pathname,
      ...flags(config, {
        cell,
        threads: t,
        rounds: big ? 3 : 5,
        steps: big ? 1 : 4,
        sample: big ? 3000 : 20000,
      }),
    ]);
    if (typeof r !== "string") ours.set(t, r);
    rows.push([r, t]);
  }
  if (torch) {
    // torch.set_num_threads covers OpenMP; OpenBLAS (Debian's BLAS for torch) has its own pool,
    // which defaults to every core: pin both, or "1 thread" is really 2. With several cores,
    // torch's threads over a one-thread OpenBLAS is a setting of its own: on a 2-core VM both
    // pools at 2 threads oversubscribe and collapse, so that row is torch's real 2-thread speed.
    const settings = threadCounts.map((t) => ({ t, blas: t }));
    if (threads > 1) settings.push({ t: threads, blas: 1 });
    for (const { t, blas } of settings) {
      const env = { OMP_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(blas) };
      rows.push([
        await runJson(python, [
          new URL("./torch_charrnn.py", import.meta.url).pathname,
          ...flags(config, {
            cell,
            threads: t,
            rounds: big ? 3 : 5,
            steps: big ? 1 : 4,
            sample: big ? 300 : 1000,
          }),
        ], env),
        t,
        blas,
      ]);
    }
  }
  if (!big && cell === "lstm") {
    for (const backend of ["wasm", "cpu"]) {
      rows.push([
        await runJson(Deno.execPath(), [
          "run",
          "-A",
          new URL("./_peer_tfjs.ts", import.meta.url).pathname,
          ...flags(config, { backend, rounds: 3, steps: 1, sample: 200 }),
        ]),
        1,
      ]);
    }
  }
  const best = new Map<string, { label: string; train: number[] }>();
  for (const [r, t, blas] of rows) {
    if (typeof r === "string") {
      console.log(`| ${name} | ${cell} | ? | ${t} | ${r} | | | | |`);
      continue;
    }
    const family = r.engine.split(" ")[0];
    const threadsLabel = blas !== undefined && blas !== t ? `${t} (OpenBLAS ${blas})` : `${t}`;
    const label = `${r.engine}, ${r.engine.startsWith("tfjs") ? 1 : threadsLabel} threads`;
    const key = r.engine.startsWith("tfjs") ? "tfjs" : family;
    const prev = best.get(key);
    if (r.train.length && (!prev || stats(r.train).median > stats(prev.train).median)) {
      best.set(key, { label, train: r.train });
    }
    // tfjs runs single-threaded in Deno: compare it with charlstm on one thread.
    const mine = ours.get(r.engine.startsWith("tfjs") ? 1 : t);
    const ratio = (a: number[] | undefined, b: number[]) =>
      a && a.length && b.length ? `${(stats(a).median / stats(b).median).toFixed(2)}×` : "-";
    console.log(
      `| ${name} | ${cell} | ${r.engine} | ${r.engine.startsWith("tfjs") ? 1 : threadsLabel} | ` +
        `${fmt(r.train)} | ` +
        `${fmt(r.sample)} | ${Math.round(r.peakRssMiB)} | ${ratio(mine?.train, r.train)} | ` +
        `${ratio(mine?.sample, r.sample)} |`,
    );
  }
  bestLines.push(bestAgainstBest(`${name} ${cell}`, best));
}
console.log("\nBest against best (training chars/s, each engine at its fastest setting above):\n");
for (const line of bestLines) console.log(line);
console.log(
  "\ntfjs is measured on the S LSTM only: on U one training step takes minutes, and its GRU " +
    "is the reset-before variant, not PyTorch's.",
);
