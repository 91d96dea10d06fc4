// The WebGPU backend: parity with TensorFlow.js, the same training steps as the WASM core
// (dropout masks, clipping, Adam and SGD, carried state), checkpoints that resume on the other
// backend, and the errors when it cannot run. Without a GPU, Mesa's software Vulkan driver
// (lavapipe) provides the adapter; the tests that need one skip only when none exists.

import assert from "node:assert/strict";
import { createModel, evaluate, fromBytes, toBytes, train, trainEvents } from "../mod.ts";
import { WasmEngine } from "../src/engine/wasm_engine.ts";
import { WebGpuEngine, WebGpuUnavailableError } from "../src/engine/webgpu_engine.ts";
import { gpuContext, setAdapterRequest } from "../src/engine/gpu_device.ts";
import { createEngine } from "../src/engine/create.ts";
import type { TrainStepOptions } from "../src/engine/engine.ts";
import type { CoreConfig } from "../src/model/config.ts";
import { assertClose, closeness, fillUniform, rng } from "./_helpers.ts";
import { tfjsReference } from "./_tfjs_reference.ts";
import * as gpuProbe from "../src/engine/_probe.ts";
import { dh0, dropoutMask } from "../src/engine/_probe.ts";

const gpu = await gpuContext();
const noAdapter = gpu === null;
if (noAdapter) {
  console.log(
    "skipping the WebGPU parity and training tests: navigator.gpu found no adapter " +
      "(install mesa-vulkan-drivers for a software one)",
  );
} else {
  console.log(`WebGPU adapter: ${gpu.description}${gpu.software ? " (software)" : ""}`);
}

// A WASM core and a WebGPU core with the same parameters, batch and initial state.
async function pair(config: CoreConfig, seed: number, options: { padding?: boolean } = {}) {
  const wasm = WasmEngine.create(config);
  const next = rng(seed);
  fillUniform(wasm.params, next, 0.5);
  for (let i = 0; i < wasm.inputs.length; i++) {
    wasm.inputs[i] = Math.floor(next() * config.vocabSize);
    wasm.targets[i] = options.padding && i % 5 === 3 ? -1 : Math.floor(next() * config.vocabSize);
  }
  const size = config.batch * config.hidden;
  const h = new Float32Array(config.layers * size), c = new Float32Array(config.layers * size);
  fillUniform(h, next, 0.8);
  fillUniform(c, next, 0.8);
  for (let l = 0; l < config.layers; l++) {
    wasm.h0(l).set(h.subarray(l * size, (l + 1) * size));
    wasm.c0(l).set(c.subarray(l * size, (l + 1) * size));
  }
  const gpuNet = await WebGpuEngine.create(config);
  gpuNet.load({ params: wasm.params, h, c });
  gpuNet.inputs.set(wasm.inputs);
  gpuNet.targets.set(wasm.targets);
  return { wasm, gpu: gpuNet, h, c };
}

interface Case {
  layers: number;
  batch: number;
  seq: number;
  hidden: number;
  vocabSize: number;
}
const cases: Case[] = [
  { layers: 1, batch: 1, seq: 1, hidden: 7, vocabSize: 11 },
  { layers: 1, batch: 3, seq: 6, hidden: 32, vocabSize: 83 },
  { layers: 2, batch: 3, seq: 1, hidden: 20, vocabSize: 11 },
  { layers: 2, batch: 5, seq: 6, hidden: 33, vocabSize: 17 },
];
const caseName = (c: Case) => `L${c.layers} B${c.batch} T${c.seq} H${c.hidden} V${c.vocabSize}`;

// Logits, loss, final states, initial-state gradients and every parameter gradient of one
// forward and backward on WebGPU against TensorFlow.js; returns the worst element's ratio to
// the tolerance.
async function tfjsParity(config: CoreConfig, seed: number, name: string) {
  const { wasm, gpu } = await pair(config, seed);
  try {
    const ref = tfjsReference(wasm);
    gpuProbe.forward(gpu);
    gpuProbe.backward(gpu);
    const { batch: B, seq: T, vocabSize: V } = config;
    const logits = await gpuProbe.readLogits(gpu);
    const logitsBTV = new Float32Array(B * T * V);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        logitsBTV.set(logits.subarray((t * B + b) * V, (t * B + b + 1) * V), (b * T + t) * V);
      }
    }
    const grads = await gpuProbe.readGrads(gpu);
    const checks: [string, ArrayLike<number>, ArrayLike<number>][] = [
      ["logits", logitsBTV, ref.logits],
      ["loss", [await gpuProbe.readLoss(gpu)], [ref.loss]],
    ];
    const lstm = (config.cell ?? "lstm") === "lstm";
    for (let l = 0; l < config.layers; l++) {
      checks.push(
        [`hT[${l}]`, await gpuProbe.readState(gpu, l, "h", T), ref.hT[l]],
        [`dh0[${l}]`, await gpuProbe.readState(gpu, l, "dh0"), ref.dh0[l]],
      );
      if (lstm) {
        checks.push(
          [`cT[${l}]`, await gpuProbe.readState(gpu, l, "c", T), ref.cT[l]],
          [`dc0[${l}]`, await gpuProbe.readState(gpu, l, "dc0"), ref.dc0[l]],
        );
      }
    }
    for (const spec of gpu.layout.tensors) {
      const g = grads.subarray(spec.offset, spec.offset + spec.size);
      checks.push([`d ${spec.name}`, g, ref.grads.get(spec.name)!]);
    }
    let worst = { ratio: 0, where: "" };
    for (const [what, actual, expected] of checks) {
      const r = assertClose(`${name}: ${what}`, actual, expected, 1e-4, 1e-6);
      if (r.worstRatio > worst.ratio) worst = { ratio: r.worstRatio, where: `${name} ${what}` };
    }
    return worst;
  } finally {
    wasm.dispose();
    gpu.dispose();
  }
}

Deno.test({
  name: `WebGPU LSTM matches TensorFlow.js within 1e-4 relative (${cases.length} cases)`,
  ignore: noAdapter,
  async fn(t) {
    let worst = { ratio: 0, where: "" };
    for (const [n, c] of cases.entries()) {
      await t.step(caseName(c), async () => {
        const w = await tfjsParity({ ...c, dropout: 0 }, 2000 + n, caseName(c));
        if (w.ratio > worst.ratio) worst = w;
      });
    }
    console.log(`worst element: ${worst.ratio.toFixed(3)}× tolerance at ${worst.where}`);
  },
});

// tfjs has SimpleRNN and Embedding but no reset-after GRU: the GRU is held to WASM below, and
// WASM's GRU to PyTorch and the float64 reference.
const tfjsCellCases: [string, CoreConfig][] = [
  ["rnn L2 B3 T4 H20 V11", { ...cases[2], seq: 4, cell: "rnn", dropout: 0 }],
  ["rnn+embedding 6 L1 B3 T6 H32 V83", { ...cases[1], cell: "rnn", embedding: 6, dropout: 0 }],
  ["lstm+embedding 9 L2 B5 T6 H33 V17", { ...cases[3], embedding: 9, dropout: 0 }],
];

Deno.test({
  name: "WebGPU RNN and embedded input match TensorFlow.js within 1e-4 relative " +
    `(${tfjsCellCases.length} cases)`,
  ignore: noAdapter,
  async fn(t) {
    let worst = { ratio: 0, where: "" };
    for (const [n, [name, config]] of tfjsCellCases.entries()) {
      await t.step(name, async () => {
        const w = await tfjsParity(config, 2100 + n, name);
        if (w.ratio > worst.ratio) worst = w;
      });
    }
    console.log(`worst element: ${worst.ratio.toFixed(3)}× tolerance at ${worst.where}`);
  },
});

// Three steps on both backends from the same start; returns the largest absolute difference
// of parameters, moments and carried state.
async function threeSteps(config: CoreConfig, options: Omit<TrainStepOptions, "step">) {
  const { wasm, gpu, h, c } = await pair(config, 77, { padding: true });
  const wasmBackend = await createEngine(config, { backend: "wasm" });
  wasmBackend.load({ params: wasm.params, h, c });
  const start = wasm.params.slice();
  wasm.dispose();
  try {
    for (let step = 0; step < 3; step++) {
      const next = rng(500 + step);
      for (let i = 0; i < gpu.inputs.length; i++) {
        gpu.inputs[i] = wasmBackend.inputs[i] = Math.floor(next() * config.vocabSize);
        gpu.targets[i] = wasmBackend.targets[i] = i % 7 === 2
          ? -1
          : Math.floor(next() * config.vocabSize);
      }
      const a = await wasmBackend.trainStep({ ...options, step });
      const b = await gpu.trainStep({ ...options, step });
      assert.equal(a.applied, true);
      assert.equal(b.applied, true);
      assertClose(`step ${step + 1} loss`, [b.loss], [a.loss], 1e-4, 1e-6);
      assertClose(`step ${step + 1} norm`, [b.gradNorm], [a.gradNorm], 1e-4, 1e-6);
    }
    if (config.dropout > 0) {
      // Masks of the last step (step index 2), hashed the same way on both.
      for (let l = 0; l < config.layers; l++) {
        assert.deepEqual(await gpuProbe.readDropoutMask(gpu, l), dropoutMask(wasmBackend, l));
      }
    }
    await gpu.sync();
    const size = config.layers * config.batch * config.hidden;
    const hw = new Float32Array(size), cw = new Float32Array(size);
    const hg = new Float32Array(size), cg = new Float32Array(size);
    wasmBackend.readCarried(hw, cw);
    gpu.readCarried(hg, cg);
    let worst = 0;
    for (
      const [name, x, y] of [
        ["params", gpu.params, wasmBackend.params],
        ["firstMoment", gpu.firstMoment, wasmBackend.firstMoment],
        ["secondMoment", gpu.secondMoment, wasmBackend.secondMoment],
        ["h", hg, hw],
        ["c", cg, cw],
      ] as const
    ) {
      let max = 0;
      for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
      if (!(max <= 1e-4)) throw new Error(`${name}: max |WebGPU - WASM| = ${max}, over 1e-4`);
      worst = Math.max(worst, max);
    }
    // The weights moved: the comparison is of three real updates.
    assert.ok(closeness(gpu.params, start, 0, 1e-3).worstRatio > 1);
    return worst;
  } finally {
    wasmBackend.dispose();
    gpu.dispose();
  }
}

const stepConfig: CoreConfig = {
  vocabSize: 13,
  hidden: 24,
  layers: 2,
  batch: 4,
  seq: 5,
  dropout: 0.3,
  seed: 9,
};

Deno.test({
  name: "WebGPU and WASM agree within 1e-4 after 3 Adam steps (dropout, norm clipping, padding)",
  ignore: noAdapter,
  async fn() {
    const worst = await threeSteps(stepConfig, {
      optimizer: "adam",
      lr: 0.01,
      momentum: 0,
      clip: 0.5,
      clipMode: "norm",
    });
    console.log(`largest difference: ${worst.toExponential(2)}`);
  },
});

Deno.test({
  name: "WebGPU and WASM agree within 1e-4 after 3 SGD-momentum steps with value clipping",
  ignore: noAdapter,
  async fn() {
    const worst = await threeSteps({ ...stepConfig, layers: 1 }, {
      optimizer: "sgd",
      lr: 0.5,
      momentum: 0.9,
      clip: 0.01,
      clipMode: "value",
    });
    console.log(`largest difference: ${worst.toExponential(2)}`);
  },
});

Deno.test({
  name: "WebGPU GRU matches the WASM core's logits, states and every gradient within 1e-4 " +
    "relative (one-hot and embedded)",
  ignore: noAdapter,
  async fn(t) {
    // Adam's first steps follow the sign of a gradient more than its size: this holds the
    // GRU's backward to WASM element by element (tfjs has no reset-after GRU to compare with).
    for (
      const [n, [name, config]] of ([
        ["gru L2 B5 T6 H33 V17", { ...cases[3], cell: "gru", dropout: 0 }],
        ["gru+embedding 5 L1 B3 T1 H20 V11", {
          ...cases[2],
          layers: 1,
          cell: "gru",
          embedding: 5,
          dropout: 0,
        }],
      ] as [string, CoreConfig][]).entries()
    ) {
      await t.step(name, async () => {
        const { wasm, gpu } = await pair(config, 2200 + n);
        try {
          const { seq: T, layers: L } = config;
          const loss = wasm.forward();
          wasm.backward();
          gpuProbe.forward(gpu);
          gpuProbe.backward(gpu);
          const checks: [string, ArrayLike<number>, ArrayLike<number>][] = [
            ["logits", await gpuProbe.readLogits(gpu), wasm.logits],
            ["loss", [await gpuProbe.readLoss(gpu)], [loss]],
          ];
          for (let l = 0; l < L; l++) {
            checks.push(
              [`hT[${l}]`, await gpuProbe.readState(gpu, l, "h", T), wasm.hT(l)],
              [`dh0[${l}]`, await gpuProbe.readState(gpu, l, "dh0"), dh0(wasm, l)],
            );
          }
          const grads = await gpuProbe.readGrads(gpu);
          for (const spec of gpu.layout.tensors) {
            const g = grads.subarray(spec.offset, spec.offset + spec.size);
            checks.push([`d ${spec.name}`, g, wasm.grad(spec.name)]);
          }
          for (const [what, actual, expected] of checks) {
            assertClose(`${name}: ${what}`, actual, expected, 1e-4, 1e-6);
          }
        } finally {
          wasm.dispose();
          gpu.dispose();
        }
      });
    }
  },
});

const cellStepCases: [string, Partial<CoreConfig>][] = [
  ["gru", { cell: "gru" }],
  ["rnn", { cell: "rnn" }],
  ["gru+embedding 7", { cell: "gru", embedding: 7 }],
  ["lstm+embedding 7", { embedding: 7 }],
];

Deno.test({
  name: "WebGPU and WASM agree within 1e-4 after 3 Adam steps for the GRU, the RNN and " +
    "embedded input (dropout, nonzero initial h)",
  ignore: noAdapter,
  async fn(t) {
    const worst: string[] = [];
    for (const [name, extra] of cellStepCases) {
      await t.step(name, async () => {
        const d = await threeSteps({ ...stepConfig, ...extra }, {
          optimizer: "adam",
          lr: 0.01,
          momentum: 0,
          clip: 0.5,
          clipMode: "norm",
        });
        worst.push(`${name} ${d.toExponential(2)}`);
      });
    }
    console.log(`largest differences: ${worst.join(", ")}`);
  },
});

Deno.test({
  name: "WebGPU skips the update of a non-finite step, as WASM does",
  ignore: noAdapter,
  async fn() {
    const { wasm, gpu } = await pair({ ...stepConfig, dropout: 0 }, 5);
    try {
      const before = wasm.params.slice();
      before[gpu.layout.byName.get("fc.bias")!.offset] = NaN;
      gpu.load({ params: before });
      const r = await gpu.trainStep({
        step: 0,
        optimizer: "adam",
        lr: 0.01,
        momentum: 0,
        clip: 5,
        clipMode: "norm",
      });
      assert.equal(r.applied, false);
      assert.ok(Number.isNaN(r.loss));
      await gpu.sync();
      assert.deepEqual(gpu.params, before);
      assert.ok(gpu.secondMoment.every((v) => v === 0));
    } finally {
      wasm.dispose();
      gpu.dispose();
    }
  },
});

const text = "the quick brown fox jumps over the lazy dog. ".repeat(60);
const trainOptions = { batch: 4, seq: 12, lr: 0.01, valEvery: 0, valFraction: 0.1, clip: 1 };

for (
  const [what, extra] of [
    ["", {}],
    [" (GRU with an embedding: no cell state)", { cell: "gru", embedding: 6 }],
  ] as const
) {
  Deno.test({
    name: `A checkpoint written on one backend resumes on the other${what}`,
    ignore: noAdapter,
    fn: () => checkpointRoundTrip(extra),
  });
}

async function checkpointRoundTrip(extra: { cell?: "gru"; embedding?: number }) {
  const fresh = () => createModel(text, { hidden: 16, layers: 2, dropout: 0.2, seed: 4, ...extra });
  // 3 steps on one backend, save, 3 more on the other; and the same 6 steps on WASM alone.
  const run = async (first: "wasm" | "webgpu", second: "wasm" | "webgpu") => {
    const model = fresh();
    await train(model, text, { ...trainOptions, steps: 3, backend: first });
    const bytes = toBytes(model);
    const resumed = fromBytes(bytes);
    await train(resumed, text, { ...trainOptions, steps: 6, backend: second });
    return { bytes, model: resumed };
  };
  const reference = await run("wasm", "wasm");
  for (const [first, second] of [["webgpu", "wasm"], ["wasm", "webgpu"]] as const) {
    const { bytes, model } = await run(first, second);
    // The same file layout: same tensors in the same order, same metadata keys.
    const header = (b: Uint8Array) => {
      const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
      const h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
      return Object.entries(h).map(([k, v]) =>
        k === "__metadata__"
          ? Object.keys(v as object).sort()
          : [k, (v as { shape: number[] }).shape]
      );
    };
    assert.deepEqual(header(bytes), header(reference.bytes));
    assert.equal(model.trainState!.step, 6);
    for (
      const [name, x, y] of [
        ["params", model.params, reference.model.params],
        ["adamM", model.trainState!.adamM, reference.model.trainState!.adamM],
        ["h", model.trainState!.h, reference.model.trainState!.h],
      ] as const
    ) {
      let max = 0;
      for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
      if (!(max <= 1e-4)) {
        throw new Error(`${first} then ${second}: ${name} differs from WASM alone by ${max}`);
      }
    }
  }
}

Deno.test({
  name: "WebGPU training submits ahead: per-step losses and the weights at each cycle and " +
    "snapshot match WASM",
  ignore: noAdapter,
  async fn() {
    // Cycles of 0.05, 0.1, 0.2 epochs (50 batches per epoch: ends after steps 3, 8, 18) and
    // snapshots every 7 steps put host copies at odd places between pipelined steps.
    const recipe = {
      ...trainOptions,
      steps: 24,
      snapshotEvery: 7,
      lrSchedule: "cosine",
      cycleLen: 0.05,
      cycleMult: 2,
    } as const;
    const run = async (backend: "wasm" | "webgpu") => {
      const model = createModel(text, { hidden: 16, layers: 2, dropout: 0.2, seed: 8 });
      const losses: number[] = [];
      const atCycles: Float32Array[] = [];
      for await (const e of trainEvents(model, text, { ...recipe, backend })) {
        if (e.type === "step") losses.push(e.loss);
        if (e.type === "cycle") atCycles.push(model.params.slice());
      }
      return { losses, atCycles, params: model.params };
    };
    const cpu = await run("wasm");
    const gpu = await run("webgpu");
    assert.equal(gpu.losses.length, 24);
    assert.equal(gpu.atCycles.length, 3);
    assert.equal(cpu.atCycles.length, 3);
    assertClose("per-step losses", gpu.losses, cpu.losses, 1e-4, 1e-6);
    gpu.atCycles.forEach((p, i) =>
      assertClose(`params at cycle ${i + 1}`, p, cpu.atCycles[i], 1e-4, 1e-5)
    );
    assertClose("final params", gpu.params, cpu.params, 1e-4, 1e-5);
  },
});

Deno.test({
  name: "train and evaluate on WebGPU: loss falls, validation and evaluate agree with WASM",
  ignore: noAdapter,
  async fn() {
    const model = createModel(text, {
      hidden: 16,
      layers: 1,
      dropout: 0,
      seed: 2,
    });
    const losses: number[] = [];
    let backend = "";
    let valLoss = NaN;
    await train(model, text, {
      ...trainOptions,
      backend: "webgpu",
      steps: 30,
      valEvery: 30,
      onEvent: (e) => {
        if (e.type === "start") backend = e.backend;
        if (e.type === "step") losses.push(e.loss);
        if (e.type === "validation") valLoss = e.valLoss;
      },
    });
    assert.equal(backend, "webgpu");
    assert.ok(losses.at(-1)! < losses[0] - 0.5, `loss ${losses[0]} → ${losses.at(-1)}`);
    const held = text.slice(Math.floor(text.length * 0.9));
    const onGpu = await evaluate(model, held, { seq: 10, backend: "webgpu" });
    const onWasm = await evaluate(model, held, { seq: 10 });
    assertClose("evaluate", [onGpu], [onWasm], 1e-4, 1e-6);
    assert.ok(Number.isFinite(valLoss));
  },
});

Deno.test("No adapter: webgpu is a clear error, auto falls back to WASM and says so", async () => {
  setAdapterRequest(() => Promise.resolve(null));
  try {
    const config = { ...stepConfig, batch: 512 };
    await assert.rejects(
      () => WebGpuEngine.create(config),
      (e: Error) =>
        e instanceof WebGpuUnavailableError &&
        /^WebGPU backend unavailable: no adapter/.test(e.message),
    );
    const notes: string[] = [];
    const core = await createEngine(config, { backend: "auto", onNote: (m) => notes.push(m) });
    assert.equal(core.kind, "wasm");
    core.dispose();
    assert.deepEqual(notes, ["WebGPU not used: no adapter found: training on WASM"]);
    // Said once per process.
    const again = await createEngine(config, { backend: "auto", onNote: (m) => notes.push(m) });
    again.dispose();
    assert.equal(notes.length, 1);
  } finally {
    setAdapterRequest(null);
  }
});

Deno.test({
  name: "WebGPU takes every cell and embedded input; auto still declines a small batch silently",
  ignore: noAdapter,
  async fn() {
    for (const cell of ["lstm", "gru", "rnn"] as const) {
      const core = await createEngine({ ...stepConfig, cell, embedding: 8 }, {
        backend: "webgpu",
      });
      assert.equal(core.kind, "webgpu");
      assert.equal(core.layout.tensors[0].name, "encoder.weight");
      core.dispose();
    }
    const notes: string[] = [];
    const small = await createEngine({ ...stepConfig, cell: "gru", embedding: 8 }, {
      backend: "auto",
      onNote: (m) => notes.push(m),
    });
    small.dispose();
    assert.equal(small.kind, "wasm");
    assert.deepEqual(notes, []);
  },
});

Deno.test({
  name: "auto stays on WASM on a software adapter and says why, once",
  ignore: noAdapter || !gpu?.software,
  async fn() {
    const notes: string[] = [];
    // A GRU with an embedding: once refused by name, now declined only for the adapter.
    const core = await createEngine({ ...stepConfig, cell: "gru", embedding: 8, batch: 1024 }, {
      backend: "auto",
      onNote: (m) => notes.push(m),
    });
    core.dispose();
    assert.equal(core.kind, "wasm");
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^WebGPU not used: .* is a software adapter, slower than WASM/);
  },
});

Deno.test({
  name: "train.ts --backend webgpu trains and checkpoints; --backend wasm resumes the checkpoint",
  ignore: noAdapter,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "charlstm-webgpu-" });
    try {
      await Deno.writeTextFile(`${dir}/t.txt`, text);
      const common = [
        "--data",
        `${dir}/t.txt`,
        "--batch",
        "4",
        "--seq",
        "8",
        "--out",
        `${dir}/out`,
      ];
      const first = await trainCli([
        ...common,
        ...[
          "--cell",
          "lstm",
          "--hidden",
          "8",
          "--layers",
          "2",
          "--steps",
          "4",
          "--sample-length",
          "0",
        ],
        ...["--backend", "webgpu"],
      ]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /model: 2×8 lstm, vocabulary \d+, WebGPU,/);
      const second = await trainCli([
        ...common,
        ...["--resume", `${dir}/out/last.safetensors`, "--steps", "6", "--backend", "wasm"],
      ]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /WASM, \d+ threads/);
      const model = fromBytes(await Deno.readFile(`${dir}/out/last.safetensors`));
      assert.equal(model.trainState!.step, 6);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// `noAdapter`: train.ts's main with the adapter request replaced by one that finds none.
async function trainCli(args: string[], noAdapter = false) {
  const entry = noAdapter ? "tests/_train_no_adapter.ts" : "train.ts";
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", entry, ...args],
    cwd: new URL("../", import.meta.url),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("train.ts --backend webgpu without an adapter: one-line error, exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "charlstm-webgpu-" });
  try {
    await Deno.writeTextFile(`${dir}/t.txt`, text);
    const child = await trainCli([
      ...["--data", `${dir}/t.txt`, "--hidden", "8", "--layers", "1", "--batch", "4"],
      ...["--seq", "8", "--steps", "2", "--out", `${dir}/out`, "--backend", "webgpu"],
    ], true);
    const stderr = child.stderr;
    assert.equal(child.code, 2, stderr);
    assert.match(
      stderr,
      /^error: WebGPU backend unavailable: no adapter found: install a GPU driver .*--backend wasm$/m,
    );
    assert.equal(stderr.split("\n").filter((l) => l.startsWith("error:")).length, 1);
    // Nothing written.
    assert.equal(await Deno.stat(`${dir}/out`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
