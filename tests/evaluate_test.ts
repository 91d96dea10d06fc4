// evaluate: the exact single-stream figure (checked against PyTorch's forward when
// python3-torch is installed, and against the core run directly), the tutorial's batched
// estimate on request, line mode's per-line figure, WebGPU against WASM, and the option checks.

import assert from "node:assert/strict";
import { type Cell, type CharModel, createModel, evaluate, save, train } from "../mod.ts";
import { WasmEngine } from "../src/engine/wasm_engine.ts";
import { gpuContext } from "../src/engine/gpu_device.ts";
import { batchCount, getBatch } from "../src/data/batches.ts";
import { arrayLines, fillLineBatch, splitLines } from "../src/data/lines.ts";

const python = "/usr/bin/python3";
const hasTorch = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
  .output()
  .then((o) => o.success, () => false);
if (!hasTorch) console.log(`skipped the PyTorch evaluate check: ${python} cannot import torch`);
const noAdapter = (await gpuContext()) === null;
if (noAdapter) console.log("skipped the WebGPU evaluate check: no WebGPU adapter");

const CORPUS = (await Deno.readTextFile(new URL("../data/anna.txt", import.meta.url)))
  .slice(0, 48000);
const TRAIN = CORPUS.slice(0, 40000), HELD = CORPUS.slice(40000);

/** A small model trained a little (so that its predictions are far from uniform). */
async function trained(cell: Cell, embedding: number, hidden = 24): Promise<CharModel> {
  const model = createModel(CORPUS, { cell, embedding, hidden, layers: 2, seed: 5 });
  await train(model, TRAIN, { steps: 40, batch: 8, seq: 32, lr: 0.01, threads: 1 });
  return model;
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/** The mean loss of `streams` run directly on the core, each at batch 1 in one window. */
function direct(model: CharModel, streams: { x: Int32Array; y: Int32Array }[]): number {
  let sum = 0, count = 0;
  for (const { x, y } of streams) {
    using core = WasmEngine.create({ ...model.config, batch: 1, seq: x.length });
    core.params.set(model.params);
    core.inputs.set(x);
    core.targets.set(y);
    sum += core.forward({ training: false }) * x.length;
    count += x.length;
  }
  return sum / count;
}

const stream = (ids: Int32Array) => ({ x: ids.subarray(0, -1), y: ids.subarray(1) });

function lineStreams(model: CharModel, text: string) {
  const nl = model.vocab.indexOf("\n");
  return splitLines(text).map((line) => {
    const ids = model.vocab.encode(line);
    return { x: Int32Array.of(nl, ...ids), y: Int32Array.of(...ids, nl) };
  });
}

Deno.test({
  name: "evaluate matches PyTorch's single-stream forward, every cell, with and without embedding",
  ignore: !hasTorch,
  async fn() {
    const cases: { label: string; ours: number; checkpoint: string; text: string }[] = [];
    const files: string[] = [];
    for (const cell of ["lstm", "gru", "rnn"] as const) {
      for (const embedding of [0, 8]) {
        const model = await trained(cell, embedding);
        const checkpoint = await Deno.makeTempFile({ suffix: ".safetensors" });
        files.push(checkpoint);
        await save(model, checkpoint);
        for (const length of [2, 101, 3001]) {
          const text = HELD.slice(0, length);
          const ours = await evaluate(model, text, { threads: 1 });
          cases.push({ label: `${cell} emb ${embedding} len ${length}`, ours, checkpoint, text });
        }
        const text = HELD.slice(0, 3001);
        const ours = await evaluate(model, text, { threads: 1, lines: true });
        cases.push({ label: `${cell} emb ${embedding} lines`, ours, checkpoint, text });
      }
    }
    const lines = cases.map((c) => ({ ...c, lines: c.label.endsWith("lines") }));
    const torch: { f32: number; f64: number }[] = await runPython(
      "./_torch_evaluate.py",
      JSON.stringify(lines.map(({ checkpoint, text, lines }) => ({ checkpoint, text, lines }))),
    );
    let worst = 0;
    const rows = cases.map((c, i) => {
      const r64 = relative(c.ours, torch[i].f64), r32 = relative(c.ours, torch[i].f32);
      worst = Math.max(worst, r64);
      return `${c.label.padEnd(22)} ours ${c.ours.toFixed(7)} torch f64 ${
        torch[i].f64.toFixed(7)
      } rel ${r64.toExponential(1)} (vs f32 ${r32.toExponential(1)})`;
    });
    console.log(rows.join("\n") + `\nworst relative difference: ${worst.toExponential(2)}`);
    for (const [i, c] of cases.entries()) {
      assert.ok(relative(c.ours, torch[i].f64) < 1e-5, `${c.label}: ${c.ours} vs ${torch[i].f64}`);
    }
    for (const file of files) await Deno.remove(file);
  },
});

/** Runs a helper script next to this file on one thread with `input` on stdin; its JSON. */
async function runPython(script: string, input: string) {
  const child = new Deno.Command(python, {
    args: [new URL(script, import.meta.url).pathname],
    env: { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("evaluate is the exact stream figure: every target counts, whatever the window", async () => {
  const model = await trained("lstm", 0, 16);
  const text = HELD.slice(0, 1000);
  const exact = direct(model, [stream(model.vocab.encode(text))]);
  for (const seq of [1, 7, 256, 999, 5000]) {
    const loss = await evaluate(model, text, { seq, threads: seq === 7 ? 2 : 1 });
    assert.ok(relative(loss, exact) < 1e-7, `seq ${seq}: ${loss} vs ${exact}`);
  }
  // The tail is not dropped: more text, another figure, still exact.
  for (const extra of [1, 50, 99]) {
    const longer = HELD.slice(0, 1000 + extra);
    const loss = await evaluate(model, longer, { threads: 1 });
    assert.notEqual(loss, exact);
    const expected = direct(model, [stream(model.vocab.encode(longer))]);
    assert.ok(relative(loss, expected) < 1e-7, `+${extra}: ${loss} vs ${expected}`);
  }
  // Two characters: one target.
  const two = await evaluate(model, "ab", { threads: 1 });
  assert.ok(relative(two, direct(model, [stream(model.vocab.encode("ab"))])) < 1e-7);
});

Deno.test("evaluate mode batched is the tutorial's get_batches estimate, as before", async () => {
  const model = await trained("gru", 0, 16);
  const text = HELD.slice(0, 2345);
  // What evaluate computed before it was exact: 32 rows of 100, whole batches, carried state.
  const ids = model.vocab.encode(text);
  const [batch, seq] = [Math.min(32, Math.floor(ids.length / 100)), 100];
  using core = WasmEngine.create({ ...model.config, batch, seq });
  core.params.set(model.params);
  let total = 0;
  const count = batchCount(ids.length, batch, seq);
  for (let i = 0; i < count; i++) {
    getBatch(ids, batch, seq, i, core.inputs, core.targets);
    total += core.forward({ training: false });
    core.carryState();
  }
  assert.equal(await evaluate(model, text, { mode: "batched", threads: 1 }), total / count);
  const small = await evaluate(model, text, { mode: "batched", batch: 3, seq: 20, threads: 1 });
  assert.notEqual(small, total / count);
  assert.notEqual(await evaluate(model, text, { threads: 1 }), total / count);
});

Deno.test("evaluate lines: each line from a zero state, newline in and newline out", async () => {
  const model = await trained("rnn", 4, 16);
  const text = HELD.slice(0, 1500) + "\n\nA very long last line " + "x".repeat(300);
  const expected = direct(model, lineStreams(model, text));
  for (const [batch, seq] of [[undefined, undefined], [1, 9], [5, 40], [100, 1000]]) {
    const loss = await evaluate(model, text, { lines: true, batch, seq, threads: 1 });
    assert.ok(relative(loss, expected) < 1e-7, `batch ${batch} seq ${seq}: ${loss} vs ${expected}`);
  }
  assert.notEqual(await evaluate(model, text, { threads: 1 }), expected);

  // Mode batched with lines: line-mode validation's figure (lines cut at seq - 1, in order).
  const lines = splitLines(text).map((l) => model.vocab.encode(l));
  const [batch, seq] = [4, 30];
  using core = WasmEngine.create({ ...model.config, batch, seq });
  core.params.set(model.params);
  const order = Uint32Array.from(lines.keys());
  let total = 0;
  const count = Math.ceil(lines.length / batch);
  for (let i = 0; i < count; i++) {
    fillLineBatch(
      arrayLines(lines),
      order,
      batch,
      seq,
      i,
      model.vocab.indexOf("\n"),
      core.inputs,
      core.targets,
    );
    core.resetState();
    total += core.forward({ training: false });
  }
  const batched = await evaluate(model, text, {
    lines: true,
    mode: "batched",
    batch,
    seq,
    threads: 1,
  });
  assert.equal(batched, total / count);
});

Deno.test({
  name: "evaluate on WebGPU equals evaluate on WASM (stream, lines, batched)",
  ignore: noAdapter,
  async fn() {
    // One engine per mode (shaders take seconds on a software adapter), a cell each.
    const runs = [
      ["lstm", 0, { seq: 64 }],
      ["gru", 6, { lines: true, batch: 3, seq: 32 }],
      ["rnn", 0, { mode: "batched", batch: 2, seq: 16 }],
    ] as const;
    for (const [cell, embedding, options] of runs) {
      const model = await trained(cell, embedding, 16);
      const text = HELD.slice(0, 400);
      const wasm = await evaluate(model, text, { ...options, threads: 1 });
      const gpu = await evaluate(model, text, { ...options, backend: "webgpu" });
      const label = `${cell} ${JSON.stringify(options)}`;
      assert.ok(relative(gpu, wasm) < 1e-5, `${label}: webgpu ${gpu}, wasm ${wasm}`);
    }
  },
});

Deno.test("evaluate's option and text checks", async () => {
  const model = createModel("abc\n", { hidden: 4, layers: 1 });
  const noNewline = createModel("abc", { hidden: 4, layers: 1 });
  const bad: [CharModel, string, Record<string, unknown>, RegExp][] = [
    [model, "abcabc", { mode: "fast" }, /^Invalid option: mode must be stream or batched/],
    [model, "abcabc", { batch: 2 }, /^Invalid option: batch must be 1 in mode "stream"/],
    [model, "abcabc", { seq: 0 }, /^Invalid option: seq must be a positive integer, got 0/],
    [model, "abcabc", { batch: 1.5, mode: "batched" }, /^Invalid option: batch must be a pos/],
    [model, "abcabc", { threads: 0 }, /^Invalid option: threads must be an integer/],
    [model, "abcabc", { backend: "cuda" }, /^Invalid option: backend must be/],
    [model, "abcabc", { lines: "yes" }, /^Invalid option: lines must be true or false/],
    [model, "a", {}, /^Cannot evaluate: the text has 1 characters/],
    [model, "\n\n", { lines: true }, /^Cannot evaluate: lines: true needs a non-empty line/],
    [noNewline, "abc", { lines: true }, /^Cannot evaluate: lines: true needs "\\n"/],
  ];
  for (const [m, text, options, message] of bad) {
    await assert.rejects(() => evaluate(m, text, options), (e: Error) => {
      assert.ok(e instanceof RangeError, `${JSON.stringify(options)}: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
  // One target is enough, in every mode.
  for (const options of [{}, { mode: "batched" as const }, { lines: true }]) {
    assert.ok(Number.isFinite(await evaluate(model, "ab\n", { ...options, threads: 1 })));
  }
});

Deno.test("a core disposed while its threads start lets the process exit (evaluate of a short text)", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const core = new URL("../src/engine/wasm_engine.ts", import.meta.url).href;
  const code = `
    import { createModel, evaluate } from "${mod}";
    import { WasmEngine } from "${core}";
    const net = WasmEngine.create(
      { vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 1, seq: 4 }, { threads: 2 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    net.dispose();
    await evaluate(createModel("abcd", { hidden: 8, layers: 1 }), "abcdabcd", { threads: 2 });
    console.log("done");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.ok(out.success, `exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "done");
});
