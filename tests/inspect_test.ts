// The inside view (src/inspect/): trace's mean loss against evaluate for each cell, its states
// against the WASM core run directly, a float64 host implementation of PyTorch's equations
// and PyTorch itself (when python3-torch is installed), its top-k and chunks; the text's
// features; the ranking (hand-made states with known r, and a small model trained here that
// grows a quote cell); LSTMVis's span query; and the bad inputs' messages.

import assert from "node:assert/strict";
import { type Cell, type CharModel, createModel, evaluate, save, train } from "../mod.ts";
import {
  CellCorrelator,
  cellValues,
  describeScore,
  maskFeature,
  parseCell,
  querySpan,
  rankCells,
  textFeatures,
  type Trace,
  trace,
  traceChunks,
} from "../src/inspect/mod.ts";
import { WasmEngine } from "../src/engine/wasm_engine.ts";

const python = "/usr/bin/python3";
const hasTorch = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
  .output()
  .then((o) => o.success, () => false);
if (!hasTorch) console.log(`skipped the PyTorch trace check: ${python} cannot import torch`);

const TEXT = 'He said "hello (there)" and left.\nShe: "no [never]".\n'.repeat(12);

/** Lines of 10 to 59 characters of a few words, some in double quotes; seeded. */
export function quotedCorpus(seed: number, chars: number): string {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "so", "it", "was"];
  const word = () => words[Math.floor(rnd() * words.length)];
  let out = "";
  while (out.length < chars) {
    const len = 10 + Math.floor(rnd() * 50);
    let line = "";
    while (line.length < len) {
      if (rnd() < 0.2) {
        line += '"' + Array.from({ length: 1 + Math.floor(rnd() * 4) }, word).join(" ") + '"';
      } else line += word();
      if (line.length < len) line += " ";
    }
    out += line.trimEnd() + "\n";
  }
  return out;
}

Deno.test("trace: the mean loss is evaluate's to the bit, for each cell, an embedding, any window and threads", async () => {
  for (const [cell, embedding] of [["lstm", 0], ["gru", 0], ["rnn", 0], ["lstm", 5]] as const) {
    const model = createModel(TEXT, { cell, embedding, hidden: 12, layers: 2, seed: 3 });
    for (const [window, threads] of [[7, 1], [undefined, 1], [undefined, 2], [50, 2]]) {
      const expected = await evaluate(model, TEXT, { seq: window, threads });
      const t = await trace(model, TEXT, { window, threads, topK: 3 });
      assert.equal(t.meanLoss, expected, `${cell} window ${window} threads ${threads}`);
      let sum = 0;
      for (const x of t.loss) sum += x;
      assert.ok(Math.abs(sum / t.positions - expected) < 1e-9, `${cell}: per-character losses`);
    }
  }
});

// PyTorch's equations in float64, one step of one layer: the reference the states must meet.
function referenceStates(model: CharModel, ids: Int32Array, steps: number) {
  const { hidden: H, layers: L, cell } = model.config;
  const p = (name: string) => {
    const t = model.layout.byName.get(`${cell}.${name}`)!;
    return model.params.subarray(t.offset, t.offset + t.size);
  };
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const h = Array.from({ length: L }, () => new Float64Array(H));
  const c = Array.from({ length: L }, () => new Float64Array(H));
  const out: { h: Float64Array[]; c: Float64Array[] }[] = [];
  for (let t = 0; t < steps; t++) {
    let x: Float64Array | null = null; // null: one-hot ids[t]
    for (let l = 0; l < L; l++) {
      const wih = p(`weight_ih_l${l}`), whh = p(`weight_hh_l${l}`);
      const bih = p(`bias_ih_l${l}`), bhh = p(`bias_hh_l${l}`);
      const G = bih.length, inSize = wih.length / G;
      const ai = new Float64Array(G), ah = new Float64Array(G);
      for (let g = 0; g < G; g++) {
        let s = bih[g];
        if (x) { for (let k = 0; k < inSize; k++) s += wih[g * inSize + k] * x[k]; }
        else s += wih[g * inSize + ids[t]];
        ai[g] = s;
        let r = bhh[g];
        for (let k = 0; k < H; k++) r += whh[g * H + k] * h[l][k];
        ah[g] = r;
      }
      const next = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        if (cell === "lstm") {
          const a = (b: number) => ai[b * H + j] + ah[b * H + j];
          c[l][j] = sig(a(1)) * c[l][j] + sig(a(0)) * Math.tanh(a(2));
          next[j] = sig(a(3)) * Math.tanh(c[l][j]);
        } else if (cell === "gru") {
          const r = sig(ai[j] + ah[j]), z = sig(ai[H + j] + ah[H + j]);
          const n = Math.tanh(ai[2 * H + j] + r * ah[2 * H + j]);
          next[j] = (1 - z) * n + z * h[l][j];
        } else next[j] = Math.tanh(ai[j] + ah[j]);
      }
      h[l] = next;
      x = next;
    }
    out.push({ h: h.map((v) => v.slice()), c: c.map((v) => v.slice()) });
  }
  return out;
}

Deno.test("trace: states equal the WASM core's and PyTorch's equations (float64, and PyTorch when installed)", async () => {
  for (const cell of ["lstm", "gru", "rnn"] as Cell[]) {
    const model = createModel(TEXT, { cell, hidden: 10, layers: 2, seed: 7, dropout: 0 });
    const t = await trace(model, TEXT, { window: 5, threads: 1, gates: true });
    // The core directly: one window over the whole text.
    using core = WasmEngine.create({ ...model.config, batch: 1, seq: t.positions });
    core.params.set(model.params);
    core.inputs.set(t.ids.subarray(0, t.positions));
    core.targets.set(t.ids.subarray(1));
    core.forward({ training: false });
    let worst = 0;
    for (const l of t.layers) {
      const a = core.activations(l.layer);
      for (let i = 0; i < a.h.length; i++) worst = Math.max(worst, Math.abs(a.h[i] - l.h[i]));
      if (cell === "lstm") {
        for (let i = 0; i < a.c!.length; i++) worst = Math.max(worst, Math.abs(a.c![i] - l.c![i]));
      } else assert.equal(l.c, null);
      assert.equal(l.gates!.length, a.gates.length);
    }
    assert.ok(worst < 1e-6, `${cell}: trace vs one window on the core: ${worst}`);
    // PyTorch's equations in float64, for the first characters.
    const steps = 12, ref = referenceStates(model, t.ids, steps);
    let refWorst = 0;
    for (let s = 0; s < steps; s++) {
      for (const l of t.layers) {
        const H = model.config.hidden;
        for (let j = 0; j < H; j++) {
          refWorst = Math.max(refWorst, Math.abs(l.h[s * H + j] - ref[s].h[l.layer][j]));
          if (l.c) refWorst = Math.max(refWorst, Math.abs(l.c[s * H + j] - ref[s].c[l.layer][j]));
        }
      }
    }
    console.log(
      `${cell}: trace vs the core in one window ${worst.toExponential(2)}, vs float64 ` +
        `equations ${refWorst.toExponential(2)}`,
    );
    assert.ok(refWorst < 1e-5, `${cell}: trace vs float64 equations: ${refWorst}`);
    if (hasTorch) await checkTorch(model, t, steps);
  }
});

async function checkTorch(model: CharModel, t: Trace, steps: number) {
  const dir = await Deno.makeTempDir({ prefix: "inspect-torch-" });
  try {
    const checkpoint = `${dir}/model.safetensors`;
    await save(model, checkpoint);
    const child = new Deno.Command(python, {
      args: [new URL("./_torch_trace.py", import.meta.url).pathname],
      env: { OMP_NUM_THREADS: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(JSON.stringify({ checkpoint, text: t.chars.join(""), steps })),
    );
    await writer.close();
    const out = await child.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const torch: { h: number[][][]; c: number[][][] | null } = JSON.parse(
      new TextDecoder().decode(out.stdout),
    );
    const H = model.config.hidden;
    let worst = 0;
    for (let s = 0; s < steps; s++) {
      for (const l of t.layers) {
        for (let j = 0; j < H; j++) {
          worst = Math.max(worst, Math.abs(l.h[s * H + j] - torch.h[s][l.layer][j]));
          if (l.c) worst = Math.max(worst, Math.abs(l.c[s * H + j] - torch.c![s][l.layer][j]));
        }
      }
    }
    console.log(`${model.config.cell}: trace vs PyTorch float64, worst ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-5, `${model.config.cell}: trace vs PyTorch: ${worst}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("trace: top-k guesses, chunks, and a subset of layers and cells", async () => {
  const model = createModel(TEXT, { cell: "lstm", hidden: 12, layers: 2, seed: 1 });
  const t = await trace(model, TEXT, { threads: 1, topK: 4, window: 16 });
  const V = model.vocab.size;
  for (let p = 0; p < t.positions; p++) {
    const probs = t.topProbs.subarray(p * 4, p * 4 + 4), ids = t.topIds.subarray(p * 4, p * 4 + 4);
    for (let i = 1; i < 4; i++) assert.ok(probs[i] <= probs[i - 1], `sorted at ${p}`);
    assert.equal(new Set(ids).size, 4);
    for (const id of ids) assert.ok(id >= 0 && id < V);
    const at = ids.indexOf(t.ids[p + 1]);
    if (at >= 0) assert.ok(Math.abs(probs[at] - Math.exp(-t.loss[p])) < 1e-5);
    else assert.ok(Math.exp(-t.loss[p]) <= probs[3] + 1e-6, "a target outside the top-k");
  }
  // Chunks: the same values, window by window; a subset keeps only what was asked.
  const parts = [];
  for await (const chunk of traceChunks(model, TEXT, { threads: 1, topK: 4, window: 16 })) {
    parts.push(chunk);
  }
  assert.equal(parts.length, Math.ceil(t.positions / 16));
  assert.equal(parts.at(-1)!.meanLoss, t.meanLoss);
  const h1 = t.layers[1].h;
  for (const c of parts) {
    assert.deepEqual(c.layers[1].h, h1.subarray(c.start * 12, (c.start + c.length) * 12));
    assert.deepEqual(c.topIds, t.topIds.subarray(c.start * 4, (c.start + c.length) * 4));
  }
  const some = await trace(model, TEXT, {
    threads: 1,
    window: 16,
    layers: [1],
    units: [3, 7],
    cellState: false,
  });
  assert.equal(some.layers.length, 1);
  assert.equal(some.layers[0].c, null);
  assert.equal(some.layers[0].h.length, t.positions * 2);
  for (let p = 0; p < t.positions; p++) {
    assert.equal(some.layers[0].h[p * 2 + 1], h1[p * 12 + 7]);
  }
  assert.deepEqual(cellValues(some, { layer: 1, unit: 7 }), cellValues(t, { layer: 1, unit: 7 }));
  assert.equal(some.meanLoss, t.meanLoss);
});

Deno.test("features: quotes, brackets, line position, word starts, newlines, masks", () => {
  const chars = [...'a "b (c)" d\n[e]x'];
  const f = Object.fromEntries(textFeatures(chars).map((x) => [x.name, [...x.values].join("")]));
  // a _ " b _ ( c ) " _ d \n [ e ] (x: the last character is no position)
  assert.equal(f.quotes, "001111110000000");
  assert.equal(f.brackets, "000001100000110");
  assert.equal(f.word, "100100100010010");
  assert.equal(f.newline, "000000000001000");
  assert.deepEqual([...textFeatures(chars)[2].values], [
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    0,
    1,
    2,
    3,
  ]);
  assert.deepEqual([...textFeatures([..."“a”b"], 4)[0].values], [1, 1, 0, 0]);
  assert.deepEqual([...maskFeature("m", "", [true, 0, 2]).values], [1, 0, 2]);
  assert.throws(() => maskFeature("m", "", [NaN]), /Cannot use the mask m: entry 0 is NaN/);
});

/** A trace of hand-made states: layer 0 with three units over `n` positions. */
function handTrace(n: number, unit: (u: number, p: number) => number): Trace {
  const h = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) for (let u = 0; u < 3; u++) h[p * 3 + u] = unit(u, p);
  return {
    chars: [],
    ids: new Int32Array(0),
    positions: n,
    cell: "rnn",
    hidden: 3,
    topK: 0,
    gateNames: ["h"],
    layers: [{ layer: 0, units: Int32Array.from([0, 1, 2]), h, c: null, gates: null }],
    loss: new Float64Array(n),
    topIds: new Int32Array(0),
    topProbs: new Float32Array(0),
    meanLoss: NaN,
  };
}

Deno.test("rankCells: Pearson's r per cell and feature, ranked; chunked sums agree", () => {
  const n = 40;
  const on = Float32Array.from({ length: n }, (_, p) => (p % 10 >= 3 && p % 10 < 7 ? 1 : 0));
  // unit 0 is the mask flipped (r = -1), unit 1 half the mask plus a ramp, unit 2 constant.
  const t = handTrace(n, (u, p) => (u === 0 ? 1 - on[p] : u === 1 ? on[p] + p / n : 0.5));
  const feature = maskFeature("mask", "in the mask", on);
  const rows = rankCells(t, [feature], { top: 5 });
  assert.equal(rows.length, 2, "the constant cell is left out");
  assert.deepEqual([rows[0].unit, rows[1].unit], [0, 1]);
  assert.ok(Math.abs(rows[0].r + 1) < 1e-9);
  // r of unit 1 computed directly.
  const x = Array.from({ length: n }, (_, p) => on[p] + p / n);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(x), mf = mean([...on]);
  let sxy = 0, sxx = 0, sff = 0;
  for (let p = 0; p < n; p++) {
    sxy += (x[p] - mx) * (on[p] - mf);
    sxx += (x[p] - mx) ** 2;
    sff += (on[p] - mf) ** 2;
  }
  assert.ok(Math.abs(rows[1].r - sxy / Math.sqrt(sxx * sff)) < 1e-6);
  assert.equal(describeScore(rows[0]), "layer 0 cell 0 (h) follows in the mask, r = -1.00");
  const chunked = new CellCorrelator([feature]);
  for (let s = 0; s < n; s += 7) {
    const len = Math.min(7, n - s);
    const h = t.layers[0].h.slice(s * 3, (s + len) * 3);
    chunked.add({ start: s, length: len, layers: [{ ...t.layers[0], h }] });
  }
  const again = chunked.rank({ top: 5 });
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(again[i].r - rows[i].r) < 1e-9);
});

Deno.test("querySpan: the cells on across a span and off around it, then matching spans", () => {
  // unit 0: on over [5, 8) and [20, 23) and [30, 40); unit 1: on everywhere; unit 2: on [5, 8).
  const t = handTrace(50, (u, p) => {
    const a = (p >= 5 && p < 8) || (p >= 20 && p < 23) || (p >= 30 && p < 40);
    return u === 0 ? (a ? 0.9 : -0.2) : u === 1 ? 0.8 : p >= 5 && p < 8 ? 0.5 : 0;
  });
  const r = querySpan(t, 5, 8, { threshold: 0.3, margin: 2 });
  assert.deepEqual(r.cells.map((c) => c.unit), [0, 2], "on inside, off in the margin");
  assert.ok(Math.abs(r.cells[0].inside - 0.9) < 1e-6 && Math.abs(r.cells[0].outside + 0.2) < 1e-6);
  // Both on together only over [5, 8): no other match. Unit 0 alone: [20, 23) then [30, 40).
  assert.deepEqual(r.matches, []);
  const one = querySpan(t, 5, 8, { maxCells: 1 });
  assert.deepEqual(one.matches.map((m) => [m.start, m.end]), [[20, 23], [30, 40]]);
  assert.equal(one.matches[0].score, 1);
  assert.ok(Math.abs(one.matches[1].score - 0.3) < 1e-9);
  assert.deepEqual(querySpan(t, 5, 8, { threshold: 2 }), { cells: [], matches: [] });
  assert.throws(() => querySpan(t, 6, 6), /^RangeError: Cannot query the span: it is empty/);
  assert.throws(() => querySpan(t, 40, 60), /Cannot query the span: 40 to 60 is outside/);
  assert.throws(() => querySpan(t, 1, 3, { state: "c" }), /has no cell state: use h/);
});

Deno.test("a small model trained here grows a cell that follows the quotes (r above 0.45; an untrained one stays below 0.3)", async () => {
  // Measured (seeds 1 to 6, 1,000 steps, this corpus and these options), the best |r| with
  // "inside double quotes": trained 0.64 to 0.88 with PyTorch's initialisation, 0.53 to 0.73
  // with the LSTM's forget-gate bias set to 1; the same models untrained 0.14 to 0.21. 0.45
  // sits below every trained figure, 0.3 above every untrained one. (At 300 steps the trained
  // figures were 0.56 to 0.90, but 0.27 to 0.61 with the forget bias at 1: too close.)
  const text = quotedCorpus(1, 6000), held = quotedCorpus(2, 3000);
  const model = createModel(text, {
    cell: "lstm", // the measured setting: an LSTM with PyTorch's own initialisation
    inputScale: 0,
    hidden: 32,
    layers: 1,
    dropout: 0,
    seed: 1,
  });
  const quotes = (t: Trace) =>
    rankCells(t, textFeatures(t.chars).filter((f) => f.name === "quotes"), { top: 1 })[0];
  const before = quotes(await trace(model, held, { threads: 1 }));
  await train(model, text, {
    steps: 1000,
    batch: 16,
    seq: 64,
    lr: 0.01,
    optimizer: "adam",
    clip: 5,
    valFraction: 0,
    threads: 1,
  });
  const t = await trace(model, held, { threads: 1 });
  const after = quotes(t);
  console.log(`untrained: ${describeScore(before)}\ntrained:   ${describeScore(after)}`);
  assert.ok(Math.abs(before.r) < 0.3, describeScore(before));
  assert.ok(Math.abs(after.r) > 0.45, describeScore(after));
  // The ranking over every feature puts first a cell at least as strong.
  const [first] = rankCells(t, textFeatures(t.chars));
  assert.ok(Math.abs(first.r) >= Math.abs(after.r), describeScore(first));
});

Deno.test("trace and cells: bad input is one clear line", async () => {
  const model = createModel("abc \n", { cell: "lstm", hidden: 4, layers: 2 });
  const cases: [() => unknown, RegExp][] = [
    [
      () => trace(model, "abz"),
      /^VocabError: Cannot trace the text: "z" is not in the model's vocabulary of 5 characters: give a text/,
    ],
    [
      () => trace(model, "a"),
      /^RangeError: Cannot trace the text: it has 1 character: give at least 2/,
    ],
    [
      () => trace(model, "abc", { layers: [2] }),
      /^RangeError: Cannot trace layer 2: the model has 2 layers: give layers from 0 to 1/,
    ],
    [
      () => trace(model, "abc", { units: [4] }),
      /^RangeError: Cannot trace cell 4: each layer has 4 cells: give cells from 0 to 3/,
    ],
    [() => trace(model, "abc", { topK: -1 }), /^RangeError: Invalid option: topK/],
  ];
  for (const [run, message] of cases) await assert.rejects(async () => await run(), message);
  const t = await trace(model, "abc ab", { threads: 1, layers: [1] });
  assert.throws(
    () => parseCell("x", t),
    /^RangeError: Cannot show cell "x": it is not LAYER:UNIT: give e\.g\. 1:87/,
  );
  assert.throws(
    () => parseCell("0:1", t),
    /Cannot show cell 0:1: layer 0 is not traced: give a layer of 1/,
  );
  assert.throws(
    () => parseCell("1:9", t),
    /Cannot show cell 1:9: unit 9 is not traced \(layers have 4 cells, 0 to 3\)/,
  );
  assert.deepEqual(parseCell("1:3:c", t), { layer: 1, unit: 3, state: "c" });
});
