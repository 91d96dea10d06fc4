// scripts/pytorch_ddp.py: a charlstm run continued in PyTorch's DistributedDataParallel (gloo, on
// the CPU) and back. Optional: it needs a python3 that imports torch with gloo (Debian's
// python3-torch), and says once why it skips otherwise.
//
// Loss normalisation under test: each rank backpropagates its rows' summed cross-entropy divided
// by the number of targets in the whole batch, and the gradients are summed across ranks, so N
// processes take the steps one process takes with the same global batch. Weight decay (AdamW's
// decoupled decay, SGD's L2) carries over as the checkpoint's `weightDecay`.

import assert from "node:assert/strict";
import { createModel, evaluate, load, openCorpus, save, toBytes, train } from "../mod.ts";

/** A model, named by what the stable API returns (not by an internal type's name). */
type CharModel = ReturnType<typeof createModel>;

const SCRIPT = new URL("../scripts/pytorch_ddp.py", import.meta.url).pathname;
const TRAIN_TS = new URL("../train.ts", import.meta.url).pathname;
const ENV = { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
const decoder = new TextDecoder();

interface Python {
  exe: string;
  /** Extra torchrun flags: torch < 2.0 on Python ≥ 3.11 parses its default --redirects 0 as
   * None (pytorch/pytorch#92319); redirecting stderr and teeing it back works around it. */
  launcherFix: string[];
}

async function findPython(): Promise<Python | string> {
  const probe = "import sys, torch, torch.distributed as d\n" +
    "assert d.is_available() and d.is_gloo_available(), 'no gloo'\n" +
    "print(sys.version_info >= (3, 11) and int(torch.__version__.split('.')[0]) < 2)";
  let reason = "no python3 found";
  for (const exe of ["python3", "/usr/bin/python3"]) {
    try {
      const out = await new Deno.Command(exe, { args: ["-c", probe], env: ENV }).output();
      if (out.success) {
        const fix = decoder.decode(out.stdout).trim() === "True";
        return { exe, launcherFix: fix ? ["--redirects", "2", "--tee", "2"] : [] };
      }
      reason = `${exe} cannot import torch with gloo`;
    } catch {
      // not installed: try the next
    }
  }
  return reason;
}

const found = await findPython();
const py = typeof found === "string" ? null : found;
if (!py) console.log(`skipped the PyTorch DDP tests: ${found}`);

const dir = await Deno.makeTempDir({ prefix: "charlstm_ddp_" });
const TEXT = (() => {
  const words = ["alpha", "beta", "gamma", "delta", "the", "cat", "sat", "on", "mat", "far"];
  let s = 7, text = "";
  while (text.length < 2000) {
    s = (s * 16807) % 2147483647;
    text += words[s % words.length] + (s % 5 ? " " : ".\n");
  }
  return text;
})();
const LINES = (() => {
  const names = ["ankylosaurus", "brachiosaurus", "carnotaurus", "diplodocus", "iguanodon"]
    .concat(["kentrosaurus", "maiasaura", "oviraptor", "stegosaurus", "triceratops", "utahraptor"]);
  let text = "";
  for (let i = 0; i < 50; i++) text += names[(i * 7) % names.length] + "\n";
  return text;
})();
const textFile = `${dir}/text.txt`, linesFile = `${dir}/lines.txt`;
if (py) {
  await Deno.writeTextFile(textFile, TEXT);
  await Deno.writeTextFile(linesFile, LINES);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[]): Promise<Run> {
  const out = await new Deno.Command(cmd, { args, env: ENV, stdout: "piped", stderr: "piped" })
    .output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The script in one process, without a process group. */
function script(args: string[]): Promise<Run> {
  return run(py!.exe, [SCRIPT, ...args]);
}

/** A TCP port free on this machine now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The script under torchrun with `n` processes (gloo). torchrun --standalone's rendezvous is
 * localhost:29400 in torch 1.13, which another run on the machine may hold (it waits for it):
 * the same single-node c10d rendezvous on a free port instead. */
async function torchrun(n: number, args: string[]): Promise<Run> {
  const logs = await Deno.makeTempDir({ dir, prefix: "torchrun_" });
  const rendezvous = ["--rdzv_backend", "c10d", "--rdzv_endpoint", `localhost:${freePort()}`]
    .concat(["--rdzv_id", crypto.randomUUID(), "--nnodes", "1"]);
  const launcher = ["-m", "torch.distributed.run", ...rendezvous, "--nproc_per_node", String(n)]
    .concat(["--monitor_interval", "0.1", "--log_dir", logs, ...py!.launcherFix]);
  return await run(py!.exe, [...launcher, SCRIPT, ...args]);
}

function ok(what: string, r: Run): void {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}`);
}

/** The worst tensor of `a` against `b`: max |a - b| / max |b| over every weight, moment and
 * carried state. */
function worstTensor(a: CharModel, b: CharModel): { name: string; rel: number } {
  let worst = { name: "", rel: 0 };
  const cmp = (name: string, x: Float32Array, y: Float32Array) => {
    let d = 0, m = 0;
    for (let i = 0; i < y.length; i++) {
      d = Math.max(d, Math.abs(x[i] - y[i]));
      m = Math.max(m, Math.abs(y[i]));
    }
    const rel = d / (m || 1);
    if (!(rel <= worst.rel)) worst = { name, rel };
  };
  const sa = a.trainState!, sb = b.trainState!;
  for (const t of b.layout.tensors) {
    const at = (x: Float32Array) => x.subarray(t.offset, t.offset + t.size);
    cmp(t.name, at(a.params), at(b.params));
    cmp(`optim.m.${t.name}`, at(sa.adamM), at(sb.adamM));
    if (sb.optimizer !== "sgd") cmp(`optim.v.${t.name}`, at(sa.adamV), at(sb.adamV));
  }
  cmp("state.h", sa.h, sb.h);
  cmp("state.c", sa.c, sb.c);
  return worst;
}

function counters(m: CharModel) {
  const { step, epoch, batchInEpoch, batch, seq, optimizer, lrScale, weightDecay } = m
    .trainState!;
  return { step, epoch, batchInEpoch, batch, seq, optimizer, lrScale, weightDecay };
}

Deno.test({
  name: "round trip: 20 charlstm steps, 20 in PyTorch DDP (2 gloo processes), 20 in train.ts",
  ignore: !py,
  async fn() {
    const model = createModel(TEXT, { hidden: 24, layers: 2, dropout: 0.1, seed: 3 });
    const losses = [await evaluate(model, TEXT, { threads: 1 })];
    const options = { steps: 20, batch: 8, seq: 16, lr: 0.01, threads: 1, weightDecay: 0.01 };
    await train(model, TEXT, options);
    losses.push(await evaluate(model, TEXT, { threads: 1 }));
    // As if trained with --time 1h: the script keeps the budget and adds its seconds.
    model.trainState!.timeBudget = 3600;
    const trainedBefore = model.trainState!.trainTime!;
    await save(model, `${dir}/rt_a.safetensors`);

    const log = `${dir}/rt_log.jsonl`;
    const ddp = await torchrun(2, [
      ...["--data", textFile, "--resume", `${dir}/rt_a.safetensors`, "--steps", "40"],
      ...["--lr", "0.01", "--val-every", "10", "--out", `${dir}/rt_ddp`, "--log", log],
      ...["--weight-decay", "0.02"], // overrides the checkpoint's 0.01
    ]);
    ok("torchrun", ddp);
    const events = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
    const steps = events.filter((e) => e.type === "step");
    assert.deepEqual(steps.map((e) => e.step), Array.from({ length: 20 }, (_, i) => 21 + i));
    assert.equal(events[0].world, 2);
    const fromTorch = await load(`${dir}/rt_ddp/last.safetensors`);
    const { step: _, epoch: _e, batchInEpoch: _b, weightDecay: _w, ...same } = counters(model);
    const { step, epoch: _e2, batchInEpoch: _b2, weightDecay, ...sameTorch } = counters(fromTorch);
    assert.equal(step, 40);
    assert.equal(weightDecay, 0.02);
    assert.deepEqual(sameTorch, same);
    const { trainTime, timeBudget } = fromTorch.trainState!;
    const lastStep = steps.at(-1);
    assert.equal(timeBudget, 3600);
    assert.ok(trainTime! > trainedBefore && trainTime! >= lastStep.trainTime, `${trainTime}`);
    assert.ok(lastStep.trainTime - trainedBefore >= lastStep.elapsedMs / 1000 - 1e-6);
    losses.push(await evaluate(fromTorch, TEXT, { threads: 1 }));

    const back = await run(Deno.execPath(), [
      ...["run", "-A", TRAIN_TS, "--data", textFile, "--resume", `${dir}/rt_ddp/last.safetensors`],
      ...["--steps", "60", "--lr", "0.01", "--val-every", "10", "--threads", "1"],
      ...["--out", `${dir}/rt_back`, "--sample-length", "40", "--backend", "wasm"],
    ]);
    ok("train.ts --resume", back);
    assert.ok(back.stderr.includes("resuming at step 40"), back.stderr);
    assert.ok(back.stdout.trim().length >= 20, `no sample: ${back.stdout}`);
    const final = await load(`${dir}/rt_back/last.safetensors`);
    assert.equal(final.trainState!.step, 60);
    assert.equal(final.trainState!.weightDecay, 0.02); // the checkpoint's, --weight-decay absent
    const ours = await evaluate(final, TEXT, { threads: 1 });
    losses.push(ours);
    for (let i = 1; i < losses.length; i++) {
      assert.ok(losses[i] < losses[i - 1], `losses did not fall: ${losses}`);
    }

    // PyTorch's forward of the final checkpoint over the whole text, one stream from a zero
    // state at batch 1: what evaluate() computes by default.
    const evaluateFlags = ["--resume", `${dir}/rt_back/last.safetensors`, "--data", textFile];
    const torchEval = await script([...evaluateFlags, "--evaluate"]);
    ok("--evaluate", torchEval);
    const { loss: torchLoss, targets } = JSON.parse(torchEval.stdout);
    assert.equal(targets, TEXT.length - 1);
    const rel = Math.abs(torchLoss - ours) / ours;
    let line = `round trip: evaluate ${losses.map((l) => l.toFixed(4)).join(" → ")}; final ` +
      `charlstm ${ours} vs PyTorch ${torchLoss}, relative ${rel.toExponential(2)}`;
    assert.ok(rel < 1e-5, line);
    // The other two figures: each line from a zero state, and the tutorial's batched estimate.
    for (
      const [flags, options] of [
        [["--lines"], { lines: true }],
        [["batched"], { mode: "batched" }],
      ] as const
    ) {
      const r = await script([...evaluateFlags, "--evaluate", ...flags]);
      ok(`--evaluate ${flags}`, r);
      const theirs = JSON.parse(r.stdout).loss;
      const mine = await evaluate(final, TEXT, { threads: 1, ...options });
      const rel = Math.abs(theirs - mine) / mine;
      line += `; ${flags} ${rel.toExponential(2)}`;
      assert.ok(rel < 1e-5, line);
    }
    console.log(line);
  },
});

interface Case {
  name: string;
  model: Parameters<typeof createModel>[1];
  options: Parameters<typeof train>[2];
  flags: string[];
  lines?: boolean;
  /** Also run 1 and 2 processes under torchrun (else one plain process). */
  ddp: boolean;
}

const CASES: Case[] = [
  {
    name: "Adam, clip by norm, cosine restarts every epoch (LSTM 2×16, one-hot)",
    model: { hidden: 16, layers: 2 },
    options: { lr: 0.01, clip: 0.3, lrSchedule: "cosine", cycleLen: 1 },
    flags: ["--lr", "0.01", "--clip", "0.3", "--lr-schedule", "cosine", "--cycle-len", "1"],
    ddp: true,
  },
  {
    name: "SGD momentum 0.9, clip by value, cosine cycles ×2 (LSTM 2×16, one-hot)",
    model: { hidden: 16, layers: 2 },
    options: {
      optimizer: "sgd",
      momentum: 0.9,
      lr: 0.3,
      clipMode: "value",
      clip: 0.05,
      lrSchedule: "cosine",
      cycleMult: 2,
    },
    flags: ["--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.3", "--clip-mode", "value"]
      .concat(["--clip", "0.05", "--lr-schedule", "cosine", "--cycle-mult", "2"]),
    ddp: true,
  },
  {
    name: "AdamW (weight decay 0.1), clip by norm, cosine restarts (LSTM 2×16, one-hot)",
    model: { hidden: 16, layers: 2 },
    options: { lr: 0.01, clip: 0.3, weightDecay: 0.1, lrSchedule: "cosine", cycleLen: 1 },
    // --weight-decay given (the checkpoint says the same).
    flags: ["--lr", "0.01", "--clip", "0.3", "--weight-decay", "0.1", "--lr-schedule", "cosine"]
      .concat(["--cycle-len", "1"]),
    ddp: true,
  },
  {
    name: "SGD momentum 0.9, weight decay 0.05, step decay (LSTM 2×16, one-hot)",
    model: { hidden: 16, layers: 2 },
    options: {
      optimizer: "sgd",
      momentum: 0.9,
      weightDecay: 0.05,
      lr: 0.3,
      clip: 1,
      lrSchedule: "step",
      lrStepEvery: 7,
      lrGamma: 0.5,
    },
    // No --weight-decay: the checkpoint's.
    flags: ["--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.3", "--clip", "1"]
      .concat(["--lr-schedule", "step", "--lr-step-every", "7"]),
    ddp: true,
  },
  {
    // Resumed at step 5, inside the warm-up: the script counts its steps as train.ts does.
    name: "Adam, warm-up 12 steps, cosine restarts to a floor of 0.2 (LSTM 2×16, one-hot)",
    model: { hidden: 16, layers: 2, cell: "lstm" },
    options: { lr: 0.01, clip: 0.3, warmup: 12, lrSchedule: "cosine", lrFloor: 0.2 },
    flags: ["--lr", "0.01", "--clip", "0.3", "--warmup", "12", "--lr-schedule", "cosine"]
      .concat(["--lr-floor", "0.2"]),
    ddp: false,
  },
  {
    name: "Adam, step decay (GRU 2×16, embedding 6)",
    model: { hidden: 16, layers: 2, cell: "gru", embedding: 6 },
    options: { lr: 0.02, clip: 1, lrSchedule: "step", lrStepEvery: 7, lrGamma: 0.5 },
    flags: ["--lr", "0.02", "--clip", "1", "--lr-schedule", "step", "--lr-step-every", "7"],
    ddp: false,
  },
  {
    name: "Adam, line mode (RNN 1×16)",
    model: { hidden: 16, layers: 1, cell: "rnn" },
    options: { lr: 0.01, lines: true, batch: 6, seq: undefined },
    flags: ["--lr", "0.01", "--lines", "--batch", "6"],
    lines: true,
    ddp: false,
  },
];

for (const c of CASES) {
  Deno.test({
    name: `same arithmetic, dropout 0: ${c.name}`,
    ignore: !py,
    async fn() {
      const text = c.lines ? LINES : TEXT;
      const data = c.lines ? linesFile : textFile;
      const options = { batch: 8, seq: 16, threads: 1, valEvery: 10, ...c.options };
      const base = createModel(text, { ...c.model, dropout: 0, seed: 5 });
      // A few steps first, so the optimizer state and the carried state travel too.
      await train(base, text, { ...options, steps: 5 });
      const start = `${dir}/same_${CASES.indexOf(c)}.safetensors`;
      await save(base, start);
      await train(base, text, { ...options, steps: 25 });

      const args = (out: string) =>
        ["--data", data, "--resume", start, "--steps", "25", "--val-every", "10", "--out", out]
          .concat(c.flags);
      const out1 = `${dir}/same_${CASES.indexOf(c)}_n1`,
        out2 = `${dir}/same_${CASES.indexOf(c)}_n2`;
      ok("N = 1", c.ddp ? await torchrun(1, args(out1)) : await script(args(out1)));
      const one = await load(`${out1}/last.safetensors`);
      assert.deepEqual(counters(one), counters(base));
      assert.ok(Math.abs(one.trainState!.bestValLoss - base.trainState!.bestValLoss) < 1e-5);
      const vsCharlstm = worstTensor(one, base);
      let line = `${c.name}: N=1 vs charlstm ${vsCharlstm.rel.toExponential(2)} ` +
        `(${vsCharlstm.name})`;
      assert.ok(vsCharlstm.rel < 1e-4, line);
      if (c.ddp) {
        ok("N = 2", await torchrun(2, args(out2)));
        const two = await load(`${out2}/last.safetensors`);
        assert.deepEqual(counters(two), counters(base));
        const vsOne = worstTensor(two, one);
        line += `; N=2 vs N=1 ${vsOne.rel.toExponential(2)} (${vsOne.name})`;
        assert.ok(vsOne.rel < 1e-4, line);
      }
      console.log(line);
    },
  });
}

/**
 * The token file of the text at `path`, written by the data module (what train.ts prepares is
 * what pytorch_ddp.py reads), copied to `to`.
 */
async function tokenFile(path: string, to: string): Promise<void> {
  const corpus = await openCorpus(path, { cacheDir: `${dir}/tokens` });
  await Deno.copyFile(corpus.tokenPath, to);
}

/** A token file's bytes with fields of its JSON header replaced (the header padded again). */
function withHeader(bytes: Uint8Array, fields: Record<string, unknown>): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(8, true));
  const header = JSON.parse(decoder.decode(bytes.subarray(16, 16 + n)));
  const json = new TextEncoder().encode(JSON.stringify({ ...header, ...fields }));
  const padded = json.length + (8 - (16 + json.length) % 8) % 8;
  const out = new Uint8Array(16 + padded + bytes.length - 16 - n).fill(0x20, 16, 16 + padded);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setBigUint64(8, BigInt(padded), true);
  out.set(json, 16);
  out.set(bytes.subarray(16 + n), 16 + padded);
  return out;
}

/** Safetensors bytes without the tensors whose names start with `prefix`. */
function dropTensors(bytes: Uint8Array, prefix: string): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(decoder.decode(bytes.subarray(8, 8 + n)));
  const kept: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name.startsWith(prefix)) continue;
    if (name === "__metadata__") {
      kept[name] = info;
      continue;
    }
    const { dtype, shape, data_offsets: [b, e] } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    parts.push(bytes.subarray(8 + n + b, 8 + n + e));
    kept[name] = { dtype, shape, data_offsets: [offset, offset + e - b] };
    offset += e - b;
  }
  let json = JSON.stringify(kept);
  json += " ".repeat((8 - json.length % 8) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test({
  name: "bad input: one line `Cannot …: …` on stderr, exit 2",
  ignore: !py,
  async fn() {
    const model = createModel(TEXT, { hidden: 8, layers: 1, dropout: 0 });
    await train(model, TEXT, { steps: 2, batch: 4, seq: 8, threads: 1 });
    const good = toBytes(model);
    // The version's digit rewritten in place, so every offset stays valid.
    const key = new TextEncoder().encode('"charlstm.format":"1"');
    const at = good.findIndex((_, i) => key.every((b, k) => good[i + k] === b));
    assert.ok(at > 0);
    const v9 = good.slice();
    v9[at + key.length - 2] = "9".charCodeAt(0);
    await Deno.writeFile(`${dir}/v9.safetensors`, v9);
    await Deno.writeFile(`${dir}/no_optim.safetensors`, dropTensors(good, "optim.exp_avg_sq."));
    await Deno.writeFile(`${dir}/good.safetensors`, good);
    const common = ["--data", textFile, "--out", `${dir}/bad_out`, "--steps", "3"];
    const cases: [string, string[], RegExp][] = [
      [
        "unknown format version",
        ["--resume", `${dir}/v9.safetensors`, ...common],
        /^Cannot resume from .*v9\.safetensors: unsupported checkpoint format version "9"/,
      ],
      [
        "missing optimizer state",
        ["--resume", `${dir}/no_optim.safetensors`, ...common],
        /^Cannot resume from .*: the optimizer state is missing: .*optim\.exp_avg_sq\./,
      ],
      [
        "missing file",
        ["--resume", `${dir}/nowhere.safetensors`, ...common],
        /^Cannot resume from .*nowhere\.safetensors: .*no such file$/,
      ],
      [
        "missing text",
        ["--resume", `${dir}/good.safetensors`, "--data", `${dir}/nowhere.txt`],
        /^Cannot read .*nowhere\.txt: no such file$/,
      ],
      [
        "a number flag that is not a number",
        ["--resume", `${dir}/good.safetensors`, ...common, "--lr", "fast"],
        /^Cannot parse the command line: --lr "fast" is not a number$/,
      ],
      [
        "an unknown flag",
        ["--resume", `${dir}/good.safetensors`, ...common, "--bogus", "1"],
        /^Cannot parse the command line: unrecognized arguments: --bogus 1$/,
      ],
      [
        "a negative weight decay",
        ["--resume", `${dir}/good.safetensors`, ...common, "--weight-decay", "-1"],
        /^Cannot parse the command line: --weight-decay -1 is outside \[0, inf\]$/,
      ],
      [
        "an lr floor above 1",
        ["--resume", `${dir}/good.safetensors`, ...common, "--lr-floor", "2"],
        /^Cannot parse the command line: --lr-floor 2 is outside \[0, 1\]$/,
      ],
      [
        "a warm-up that is not a whole number of steps",
        ["--resume", `${dir}/good.safetensors`, ...common, "--warmup", "2.5"],
        /^Cannot parse the command line: --warmup "2.5" is not an integer$/,
      ],
      [
        "another batch than the checkpoint's",
        ["--resume", `${dir}/good.safetensors`, ...common, "--batch", "5"],
        /^Cannot resume from .*: the model was trained with batch 4 × seq 8, got batch 5/,
      ],
    ];
    for (const [what, args, expected] of cases) {
      const r = await script(args);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
      assert.equal(lines.length, 1, `${what}: not one line: ${r.stderr}`);
      assert.match(lines[0], expected, what);
    }
    // charlstm refuses the same two files.
    await assert.rejects(load(`${dir}/v9.safetensors`), /format version "9"/);
    await assert.rejects(load(`${dir}/no_optim.safetensors`), /optim\.exp_avg_sq\..* is missing/);
  },
});

// Token files (issue #22): the same text read by position from a token file gives the same
// batches, so the same numbers to the bit. The text has a BOM, CRLF line ends and non-ASCII
// characters (the reader's normalisation and the token file's must agree), and the model has
// characters the text lacks ("Z" and "Ω"), so corpus ids and model ids differ and the lookup
// table is exercised.
const UNI = TEXT.replaceAll("cat", "chât").replaceAll("mat", "mâté");
const UNI_VAL = UNI.slice(0, 700);

/** The run's step and validation events without their clocks, and its start event's counts. */
async function numbers(log: string) {
  const events = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
  return events.map((e) => {
    const { time: _t, elapsedMs: _e, trainTime: _tt, charsPerSec: _c, ...rest } = e;
    return rest;
  });
}

/** Runs `flags` twice, on the text files and on the token files (`files` maps one to the
 * other), and checks the same events and the same tensors, bit for bit. */
async function sameFromTokens(
  name: string,
  flags: (file: (path: string) => string) => string[],
  files: Map<string, string>,
  processes = 0,
): Promise<void> {
  const results = [];
  for (const kind of ["text", "tokens"]) {
    const out = `${dir}/tok_${name}_${kind}`;
    const args = [
      ...flags((path) => kind === "text" ? path : files.get(path)!),
      ...["--out", out, "--log", `${out}.jsonl`],
    ];
    const r = processes ? await torchrun(processes, args) : await script(args);
    ok(`${name} (${kind})`, r);
    results.push({
      model: await load(`${out}/last.safetensors`),
      events: await numbers(`${out}.jsonl`),
    });
  }
  const [text, tokens] = results;
  assert.ok(text.events.filter((e) => e.type === "step").length >= 10, name);
  assert.deepEqual(tokens.events, text.events, name);
  assert.deepEqual(counters(tokens.model), counters(text.model), name);
  const worst = worstTensor(tokens.model, text.model);
  assert.equal(worst.rel, 0, `${name}: ${worst.name} differs by ${worst.rel}`);
}

Deno.test({
  name:
    "token file: the same batches, losses and weights as its text (stream, DDP, --val-data, --evaluate)",
  ignore: !py,
  async fn() {
    const onDisk = (t: string) => "\uFEFF" + t.replaceAll(".\n", ".\r\n");
    const files = new Map<string, string>();
    for (const [name, text] of [["uni", UNI], ["uni_val", UNI_VAL]]) {
      await Deno.writeTextFile(`${dir}/${name}.txt`, onDisk(text));
      await tokenFile(`${dir}/${name}.txt`, `${dir}/${name}.tok`);
      files.set(`${dir}/${name}.txt`, `${dir}/${name}.tok`);
    }
    const model = createModel(UNI + "ZΩ", { hidden: 16, layers: 2, dropout: 0.1, seed: 4 });
    await train(model, UNI, { steps: 5, batch: 8, seq: 16, lr: 0.01, threads: 1 });
    const start = `${dir}/tok_start.safetensors`;
    await save(model, start);
    const common = ["--resume", start, "--steps", "25", "--val-every", "5", "--lr", "0.01"];
    const data = (file: (path: string) => string) => ["--data", file(`${dir}/uni.txt`)];
    // --data finds the token file by its magic; --tokens names it.
    await sameFromTokens("stream", (f) => [...data(f), ...common], files);
    await sameFromTokens(
      "ddp",
      (f) => {
        const tokens = f(`${dir}/uni.txt`);
        return [
          ...(tokens.endsWith(".tok") ? ["--tokens", tokens] : ["--data", tokens]),
          ...common,
        ];
      },
      files,
      2,
    );
    await sameFromTokens("val_data", (f) => [
      ...data(f),
      ...["--val-data", f(`${dir}/uni_val.txt`), ...common],
    ], files);
    // A text trains and a token file validates (the first run), and the other way round.
    const swapped = new Map([[`${dir}/uni.txt`, `${dir}/uni.tok`], [
      `${dir}/uni_val.tok`,
      `${dir}/uni_val.txt`,
    ]]);
    await sameFromTokens("mixed", (f) => [
      ...data(f),
      ...["--val-data", f(`${dir}/uni_val.tok`), ...common],
    ], swapped);

    for (const mode of [[], ["batched"], ["--lines"]]) {
      const [text, tokens] = await Promise.all(
        [`${dir}/uni.txt`, `${dir}/uni.tok`].map((d) =>
          script(["--resume", start, "--data", d, "--evaluate", ...mode])
        ),
      );
      ok(`--evaluate ${mode} (text)`, text);
      ok(`--evaluate ${mode} (tokens)`, tokens);
      assert.deepEqual(JSON.parse(tokens.stdout), JSON.parse(text.stdout), `${mode}`);
    }
  },
});

Deno.test({
  name: "token file: line mode reads the same lines, shuffled the same (RNN, --val-data)",
  ignore: !py,
  async fn() {
    const files = new Map<string, string>();
    const val = LINES.split("\n").slice(0, 12).join("\n") + "\n\n";
    for (const [name, text] of [["lines", LINES], ["lines_val", val]]) {
      await Deno.writeTextFile(`${dir}/${name}.txt`, text);
      await tokenFile(`${dir}/${name}.txt`, `${dir}/${name}.tok`);
      files.set(`${dir}/${name}.txt`, `${dir}/${name}.tok`);
    }
    const model = createModel(LINES + "Q", { hidden: 16, layers: 1, cell: "rnn", seed: 2 });
    await train(model, LINES, { steps: 3, lines: true, batch: 6, lr: 0.01, threads: 1 });
    const start = `${dir}/tok_lines.safetensors`;
    await save(model, start);
    const common = ["--resume", start, "--lines", "--batch", "6", "--steps", "20"]
      .concat(["--val-every", "5", "--lr", "0.01"]);
    await sameFromTokens("lines", (f) => ["--data", f(`${dir}/lines.txt`), ...common], files);
    await sameFromTokens("lines_val", (f) => [
      ...["--data", f(`${dir}/lines.txt`), "--val-data", f(`${dir}/lines_val.txt`)],
      ...common,
    ], files);
  },
});

Deno.test({
  name: "token file: a bad one is one line `Cannot read FILE: …`, exit 2",
  ignore: !py,
  async fn() {
    const model = createModel(TEXT, { hidden: 8, layers: 1, dropout: 0 });
    await train(model, TEXT, { steps: 2, batch: 4, seq: 8, threads: 1 });
    const ckpt = `${dir}/tok_bad.safetensors`;
    await save(model, ckpt);
    const good = `${dir}/tok_good.tok`;
    await Deno.writeTextFile(`${dir}/tok_good.txt`, TEXT);
    await tokenFile(`${dir}/tok_good.txt`, good);
    const bytes = await Deno.readFile(good);
    const bad = async (name: string, change: (b: Uint8Array) => Uint8Array) => {
      await Deno.writeFile(`${dir}/${name}`, change(bytes.slice()));
      return `${dir}/${name}`;
    };
    const notJson = await bad("not_json.tok", (b) => (b[16] = "x".charCodeAt(0), b));
    const short = await bad("short.tok", (b) => b.subarray(0, b.length - 1));
    // Token 16: the first one read (the checkpoint is at batch 2 of its epoch, seq 8).
    const damaged = await bad("damaged.tok", (b) => (b[b.length - TEXT.length + 16] = 200, b));
    await bad("width3.tok", (b) => withHeader(b, { width: 3 }));
    await Deno.writeTextFile(`${dir}/uni_bad.txt`, UNI);
    await tokenFile(`${dir}/uni_bad.txt`, `${dir}/uni_bad.tok`);
    const common = ["--resume", ckpt, "--out", `${dir}/tok_bad_out`, "--steps", "3"];
    const cases: [string, string[], RegExp][] = [
      [
        "--tokens naming a text",
        ["--tokens", textFile, ...common],
        /^Cannot read .*text\.txt: not a token file: it starts with "\w+ \w+", not "CHLTOK01" \(a text file goes in --data\)$/,
      ],
      [
        "a header that is not JSON",
        ["--data", notJson, ...common],
        /^Cannot read .*not_json\.tok: the token file's header is not JSON: Expecting value at byte 16$/,
      ],
      [
        "a size that is not count × width after the header",
        ["--tokens", short, ...common],
        /^Cannot read .*short\.tok: the file's size does not match its header: 2\d{3} tokens × 1 bytes after \d+ bytes of header make \d+ bytes, the file has \d+: write it again$/,
      ],
      [
        "a width that is not 1, 2 or 4",
        ["--data", `${dir}/width3.tok`, ...common],
        /^Cannot read .*width3\.tok: token width 3 is not 1, 2 or 4$/,
      ],
      [
        "a token past the vocabulary",
        ["--data", damaged, ...common],
        /^Cannot read .*damaged\.tok: token 16 is 200, past the vocabulary's \d+ characters: the file is damaged: write it again$/,
      ],
      [
        "a token file as --val-data, with --val",
        ["--data", good, "--val-data", good, "--val", "0.2", ...common],
        /^Cannot parse the command line: --val with --val-data: .*: drop --val$/,
      ],
      [
        "--tokens with --data",
        ["--tokens", good, "--data", textFile, ...common],
        /^Cannot parse the command line: --tokens and --data both say what trains: give one of them$/,
      ],
    ];
    // Characters the model lacks: the text's refusal, word for word (first ten, in order of
    // appearance).
    const fromText = await script(["--data", `${dir}/uni_bad.txt`, ...common]);
    assert.match(fromText.stderr, /^Cannot train on this text: the text has characters .*"â"/);
    cases.push([
      "characters the model lacks",
      ["--data", `${dir}/uni_bad.tok`, ...common],
      new RegExp(`^${fromText.stderr.trim().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`),
    ]);
    for (const [what, args, expected] of cases) {
      const r = await script(args);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
      assert.equal(lines.length, 1, `${what}: not one line: ${r.stderr}`);
      assert.match(lines[0], expected, what);
    }
  },
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone
  }
});
