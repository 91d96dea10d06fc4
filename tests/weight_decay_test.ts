// Weight decay (`weightDecay`, `--weight-decay`): AdamW's decoupled decay and SGD's L2 decay
// against a float64 transcription of torch.optim.AdamW and torch.optim.SGD given the same
// gradients (clipping first), WASM against WebGPU, weight decay 0 bitwise today's update,
// checkpoints that record it and resume exactly, the option's and the flag's errors, and
// (when python3 has torch) torch.optim itself.

import assert from "node:assert/strict";
import { createModel, fromBytes, toBytes, train } from "../mod.ts";
import { WasmEngine } from "../src/engine/wasm_engine.ts";
import { WebGpuEngine } from "../src/engine/webgpu_engine.ts";
import { gpuContext } from "../src/engine/gpu_device.ts";
import { createEngine } from "../src/engine/create.ts";
import type { TrainStepOptions } from "../src/engine/engine.ts";
import type { CoreConfig } from "../src/model/config.ts";
import { parseTrainArgs, runOptions } from "../src/cli/_train_flags.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.ts";
import { assertClose, closeness, fillUniform, rng } from "./_helpers.ts";

const CONFIG: CoreConfig = {
  vocabSize: 9,
  hidden: 12,
  layers: 2,
  batch: 3,
  seq: 5,
  dropout: 0.2,
  seed: 4,
};

// Fills the core's batch from `next`.
function fillBatch(inputs: Int32Array, targets: Int32Array, next: () => number, V: number) {
  for (let i = 0; i < inputs.length; i++) {
    inputs[i] = Math.floor(next() * V);
    targets[i] = Math.floor(next() * V);
  }
}

/** FNV-1a over the bytes of the arrays: a fingerprint of bitwise state. */
function fingerprint(...arrays: Float32Array[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    for (const b of new Uint8Array(a.buffer, a.byteOffset, a.byteLength)) {
      h = Math.imul(h ^ b, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, "0");
}

interface Transcribed {
  optimizer: "adam" | "sgd";
  lr: number;
  weightDecay: number;
  momentum?: number;
  clip: number;
  clipMode: "norm" | "value";
}

/**
 * Three steps of forward and backward on a WASM core (plain SIMD build, so every machine gets
 * the same bits), clipping and the optimizer; beside them, clipping and the optimizer in
 * float64 from the same raw gradients, torch's order of operations. Returns the core's final
 * params and moments, and the largest relative difference from the float64 params.
 */
function coreAgainstFloat64(o: Transcribed) {
  using net = WasmEngine.create(CONFIG, { variant: "simd" });
  const next = rng(31);
  fillUniform(net.params, next, 0.5);
  const n = net.params.length;
  const p = Float64Array.from(net.params), m = new Float64Array(n), v = new Float64Array(n);
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8, mu = o.momentum ?? 0;
  let worst = 0;
  for (let t = 1; t <= 3; t++) {
    fillBatch(net.inputs, net.targets, next, CONFIG.vocabSize);
    net.forward({ step: t - 1 });
    net.backward();
    const g = Float64Array.from(net.grads);
    // Clipping, before the optimizer (torch: clip_grad_norm_ / clip_grad_value_, then step()).
    if (o.clipMode === "norm") {
      net.clipGradNorm(o.clip);
      const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
      const coef = o.clip / (norm + 1e-6);
      if (coef < 1) { for (let i = 0; i < n; i++) g[i] *= coef; }
    } else {
      net.clipGradValue(o.clip);
      for (let i = 0; i < n; i++) g[i] = Math.min(Math.max(g[i], -o.clip), o.clip);
    }
    if (o.optimizer === "adam") {
      net.adamStep(t, { lr: o.lr, weightDecay: o.weightDecay });
      // torch.optim.AdamW: param.mul_(1 - lr * weight_decay), then Adam.
      const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
      for (let i = 0; i < n; i++) {
        p[i] *= 1 - o.lr * o.weightDecay;
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
      }
    } else {
      net.sgdStep(t, { lr: o.lr, momentum: mu, weightDecay: o.weightDecay });
      // torch.optim.SGD: d_p = d_p.add(param, alpha=weight_decay), then the momentum buffer.
      for (let i = 0; i < n; i++) {
        let d = g[i] + o.weightDecay * p[i];
        if (mu !== 0) {
          m[i] = t === 1 ? d : mu * m[i] + d;
          d = m[i];
        }
        p[i] -= o.lr * d;
      }
    }
    const c = assertClose(`params after step ${t}`, net.params, p, 1e-6, 1e-7);
    worst = Math.max(worst, c.worstRatio);
    // Rebase on the core's float32 params, as torch's float32 tensors would be.
    p.set(net.params);
  }
  return {
    params: net.params.slice(),
    adamM: net.firstMoment.slice(),
    adamV: net.secondMoment.slice(),
    worst,
  };
}

const ADAMW: Transcribed = {
  optimizer: "adam",
  lr: 0.01,
  weightDecay: 0.5,
  clip: 1,
  clipMode: "norm",
};
const SGDW: Transcribed = {
  optimizer: "sgd",
  lr: 0.1,
  weightDecay: 0.2,
  momentum: 0.9,
  clip: 0.05,
  clipMode: "value",
};

Deno.test("AdamW and SGD with weight decay match a float64 transcription of torch.optim", () => {
  for (const o of [ADAMW, SGDW, { ...ADAMW, clip: 100 }, { ...SGDW, momentum: 0 }]) {
    const decayed = coreAgainstFloat64(o);
    const plain = coreAgainstFloat64({ ...o, weightDecay: 0 });
    console.log(
      `${o.optimizer} wd ${o.weightDecay} momentum ${o.momentum ?? "-"} clip ${o.clip}: ` +
        `worst ${decayed.worst.toFixed(3)}× the tolerance 1e-7 + 1e-6·|expected|`,
    );
    // The decay is more than rounding: the params moved apart.
    assert.ok(closeness(decayed.params, plain.params, 1e-4, 1e-5).worstRatio > 1);
  }
});

// What adamStep and sgdStep gave before weight decay existed (commit 9c0b9af, plain SIMD
// build): with weight decay 0 (or not given) the update is bitwise the same.
const BEFORE = { adam: "b22d8ce0", sgd: "76105276" };

Deno.test("weight decay 0 is bitwise the update without weight decay", () => {
  const now: Record<string, string> = {};
  for (const o of [ADAMW, SGDW]) {
    const zero = coreAgainstFloat64({ ...o, weightDecay: 0 });
    now[o.optimizer] = fingerprint(zero.params, zero.adamM, zero.adamV);
  }
  assert.deepEqual(now, BEFORE);
});

Deno.test("training: weightDecay 0 is the default, bitwise; a weight decay changes the run", async () => {
  const text = "a dog, a cat, a rat and a bat sat on a mat.\n".repeat(40);
  const run = async (extra: { weightDecay?: number; optimizer?: "adam" | "sgd" }) => {
    const model = createModel(text, { hidden: 16, layers: 1, seed: 3 });
    await train(model, text, { steps: 4, batch: 4, seq: 16, valEvery: 0, threads: 1, ...extra });
    return model;
  };
  for (const optimizer of ["adam", "sgd"] as const) {
    const omitted = await run({ optimizer });
    const zero = await run({ optimizer, weightDecay: 0 });
    assert.deepEqual(zero.params, omitted.params);
    assert.deepEqual(zero.trainState!.adamM, omitted.trainState!.adamM);
    assert.equal(omitted.trainState!.weightDecay, 0);
    const decayed = await run({ optimizer, weightDecay: 0.1 });
    assert.notDeepEqual(decayed.params, omitted.params);
    assert.equal(decayed.trainState!.weightDecay, 0.1);
  }
});

Deno.test("checkpoints record weightDecay; a resume continues with it bitwise", async () => {
  const text = "the quick brown fox jumps over the lazy dog. ".repeat(40);
  const options = { batch: 4, seq: 12, valEvery: 0, threads: 1, lr: 0.01 };
  for (const optimizer of ["adam", "sgd"] as const) {
    const straight = createModel(text, { hidden: 12, layers: 1, seed: 8 });
    await train(straight, text, { ...options, optimizer, weightDecay: 0.3, steps: 6 });

    const first = createModel(text, { hidden: 12, layers: 1, seed: 8 });
    await train(first, text, { ...options, optimizer, weightDecay: 0.3, steps: 3 });
    const saved = toBytes(first);
    assert.equal(trainMetadata(saved).weightDecay, 0.3);
    // Without the option: the saved weight decay, and the same bits as the straight run.
    const resumed = fromBytes(saved);
    assert.equal(resumed.trainState!.weightDecay, 0.3);
    await train(resumed, text, { ...options, optimizer, steps: 6 });
    assert.deepEqual(resumed.params, straight.params);
    assert.deepEqual(resumed.trainState!.adamM, straight.trainState!.adamM);
    // An explicit value overrides it, and is what the state then records.
    const overridden = fromBytes(saved);
    await train(overridden, text, { ...options, optimizer, weightDecay: 0, steps: 6 });
    assert.notDeepEqual(overridden.params, straight.params);
    assert.equal(fromBytes(toBytes(overridden)).trainState!.weightDecay, 0);
  }
});

// The checkpoint's charlstm.train JSON.
function trainMetadata(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(decodeSafetensors(bytes).metadata["charlstm.train"]);
}

// The checkpoint with its charlstm.train JSON edited.
function withTrainMetadata(bytes: Uint8Array, edit: (train: Record<string, unknown>) => void) {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const train = trainMetadata(bytes);
  edit(train);
  return encodeSafetensors(Object.fromEntries(tensors), {
    ...metadata,
    "charlstm.train": JSON.stringify(train),
  });
}

Deno.test("a checkpoint without weightDecay resumes with 0; a bad saved one is refused", async () => {
  const text = "abcabcabd ".repeat(100);
  const model = createModel(text, { hidden: 8, layers: 1 });
  await train(model, text, { steps: 1, batch: 2, seq: 8, valEvery: 0, threads: 1 });
  const bytes = toBytes(model);
  assert.equal(trainMetadata(bytes).weightDecay, 0);
  const older = withTrainMetadata(bytes, (t) => delete t.weightDecay);
  assert.equal(fromBytes(older).trainState!.weightDecay, 0);
  for (const bad of [-1, "0.1", null]) {
    assert.throws(
      () => fromBytes(withTrainMetadata(bytes, (t) => t.weightDecay = bad)),
      new RegExp(
        "^CheckpointError: Invalid checkpoint: charlstm\\.train\\.weightDecay must be a number " +
          `≥ 0, got ${JSON.stringify(bad).replace(".", "\\.")}$`,
      ),
    );
  }
});

Deno.test("weightDecay must be a number ≥ 0", async () => {
  const text = "abcabcabd ".repeat(100);
  for (const bad of [-1, -1e-9, NaN, Infinity]) {
    const model = createModel(text, { hidden: 8, layers: 1 });
    await assert.rejects(
      train(model, text, { steps: 1, batch: 2, seq: 8, weightDecay: bad }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message === `Invalid option: weightDecay must be a number ≥ 0, got ${bad}`,
    );
    assert.equal(model.trainState, null);
  }
});

Deno.test("train.ts --weight-decay -1: one line, exit code 2, nothing written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "charlstm-wd-" });
  try {
    const data = `${dir}/text.txt`;
    await Deno.writeTextFile(data, "the cat sat on the mat.\n".repeat(200));
    const out = `${dir}/out`;
    for (const value of ["-1", "nan"]) {
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "train.ts",
          "--data",
          data,
          "--out",
          out,
          "--preset",
          "tiny",
          "--weight-decay",
          value,
        ],
        cwd: new URL("../", import.meta.url),
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(stderr);
      assert.equal(code, 2, err);
      assert.equal(new TextDecoder().decode(stdout), "");
      assert.equal(
        err.split("\n")[0],
        value === "-1"
          ? "error: Invalid option: weightDecay must be a number ≥ 0, got -1"
          : 'error: Invalid --weight-decay: "nan" is not a number',
      );
      await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--weight-decay reaches the options; absent, a resume keeps the saved value", async () => {
  assert.equal(parseTrainArgs(["--weight-decay", "0.1"]).train.weightDecay, 0.1);
  assert.equal(parseTrainArgs(["--weight-decay", "-1"]).train.weightDecay, -1);
  const args = parseTrainArgs(["--resume", "x.safetensors", "--preset", "tiny"]);
  assert.equal(args.train.weightDecay, undefined);
  const model = createModel("abcabc", { hidden: 4, layers: 1 });
  const run = await runOptions(args, "abcabc", { resumed: model });
  assert.equal(run.train.weightDecay, undefined);
});

// WASM against WebGPU: three AdamW (and SGD with weight decay) steps from the same start.
const gpu = await gpuContext();
if (gpu === null) console.log("skipping the WebGPU weight-decay test: no adapter");

Deno.test({
  name: "WebGPU and WASM agree after 3 steps with weight decay",
  ignore: gpu === null,
  async fn() {
    const config: CoreConfig = { ...CONFIG, hidden: 16 };
    const steps: Omit<TrainStepOptions, "step">[] = [
      { optimizer: "adam", lr: 0.01, momentum: 0, weightDecay: 0.5, clip: 1, clipMode: "norm" },
      { optimizer: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 0.2, clip: 0.05, clipMode: "value" },
    ];
    for (const options of steps) {
      const wasm = await createEngine(config, { backend: "wasm", threads: 1 });
      const web = await WebGpuEngine.create(config);
      try {
        const next = rng(61);
        const start = fillUniform(new Float32Array(wasm.layout.size), next, 0.5);
        wasm.load({ params: start });
        web.load({ params: start });
        for (let step = 0; step < 3; step++) {
          fillBatch(wasm.inputs, wasm.targets, next, config.vocabSize);
          web.inputs.set(wasm.inputs);
          web.targets.set(wasm.targets);
          const a = await wasm.trainStep({ ...options, step });
          const b = await web.trainStep({ ...options, step });
          assert.ok(a.applied && b.applied);
          assertClose(`step ${step + 1} loss`, [b.loss], [a.loss], 1e-5, 1e-6);
        }
        await web.sync();
        let worst = 0;
        for (
          const [name, x, y] of [
            ["params", web.params, wasm.params],
            ["firstMoment", web.firstMoment, wasm.firstMoment],
            ["secondMoment", web.secondMoment, wasm.secondMoment],
          ] as const
        ) {
          let max = 0;
          for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
          assert.ok(max <= 1e-5, `${name}: max |WebGPU - WASM| = ${max}, over 1e-5`);
          worst = Math.max(worst, max);
        }
        console.log(
          `${options.optimizer}: max |WebGPU - WASM| after 3 steps ${worst.toExponential(2)}`,
        );
        // The weights moved (the decay alone, 1 − lr·wd, moves them by far more than 1e-5).
        assert.ok(closeness(web.params, start, 0, 1e-3).worstRatio > 1);
      } finally {
        wasm.dispose();
        web.dispose();
      }
    }
  },
});

// torch.optim itself, when python3 has torch: the same parameters and gradients, 3 steps, with
// and without weight decay. Adam differs from torch by ~3e-7 either way, weight decay or not:
// the core's (1 − β2) is float32 arithmetic (9.9998713e-4, 1.3e-5 below torch's float64
// 0.001), which scales the first steps' updates by about 1 − 6e-6.
const python = "/usr/bin/python3";
const hasTorch = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
  .output().then((r) => r.success, () => false);
if (!hasTorch) console.log(`skipped the torch.optim weight-decay check: ${python} has no torch`);

const TORCH_STEPS = `
import json, sys, torch
d = json.load(sys.stdin)
p = torch.nn.Parameter(torch.tensor(d["params"], dtype=torch.float32))
if d["optimizer"] == "adam":
    opt = torch.optim.AdamW([p], lr=d["lr"], weight_decay=d["wd"])
else:
    opt = torch.optim.SGD([p], lr=d["lr"], momentum=d["momentum"], weight_decay=d["wd"])
for g in d["grads"]:
    p.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
json.dump(p.detach().tolist(), sys.stdout)
`;

Deno.test({
  name: "torch.optim.AdamW and SGD(weight_decay=) give our params within 1e-5",
  ignore: !hasTorch,
  async fn() {
    for (const o of [ADAMW, SGDW, { ...ADAMW, weightDecay: 0 }, { ...SGDW, weightDecay: 0 }]) {
      using net = WasmEngine.create({ ...CONFIG, dropout: 0 }, { variant: "simd" });
      const next = rng(71);
      fillUniform(net.params, next, 0.5);
      const params = Array.from(net.params), grads: number[][] = [];
      for (let t = 1; t <= 3; t++) {
        fillUniform(net.grads, next, 0.3);
        grads.push(Array.from(net.grads));
        if (o.optimizer === "adam") net.adamStep(t, { lr: o.lr, weightDecay: o.weightDecay });
        else net.sgdStep(t, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
      }
      const child = new Deno.Command(python, {
        args: ["-c", TORCH_STEPS],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(
        new TextEncoder().encode(JSON.stringify({
          optimizer: o.optimizer,
          lr: o.lr,
          wd: o.weightDecay,
          momentum: o.momentum ?? 0,
          params,
          grads,
        })),
      );
      await writer.close();
      const out = await child.output();
      assert.ok(out.success);
      const torchParams: number[] = JSON.parse(new TextDecoder().decode(out.stdout));
      const name = `${o.optimizer} wd ${o.weightDecay} vs torch.optim`;
      const c = assertClose(name, net.params, torchParams, 1e-5, 1e-6);
      let max = 0;
      for (let i = 0; i < torchParams.length; i++) {
        max = Math.max(max, Math.abs(net.params[i] - torchParams[i]));
      }
      console.log(
        `${name}: max |diff| ${max.toExponential(2)}, ` +
          `worst ${c.worstRatio.toFixed(3)}× the tolerance`,
      );
    }
  },
});
