// Bundled models and fine-tuning: F16 weights-only checkpoints (round trip, PyTorch reads them),
// models found by name (on disk and beside a module imported from a URL), the unknown-name
// error, vocabulary widening (old characters' logits exactly unchanged), fine-tuning from the
// API and from train.ts --from, and the CLIs' errors with exit code 2.

import assert from "node:assert/strict";
import {
  BUNDLED_MODELS,
  type CharModel,
  createModel,
  fromBytes,
  load,
  prepareFineTune,
  sample,
  save,
  toBytes,
  train,
} from "../mod.ts";
import { bundledModelUrl, widenVocab } from "../src/train/fine_tune_mod.ts";
import { WasmCore } from "../src/engine/mod.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { f16Bytes, f16Values } from "../src/io/f16.ts";
import { corpus } from "./_helpers.ts";

const root = new URL("../", import.meta.url);
const python = "/usr/bin/python3";
const hasTorch = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
  .output()
  .then((o) => o.success, () => false);

/** Every position's logits for `text` read from a zero state. */
function logits(model: CharModel, text: string): Float32Array {
  using net = WasmCore.create({ ...model.config, batch: 1, seq: text.length }, { threads: 1 });
  net.params.set(model.params);
  net.inputs.set(model.vocab.encode(text));
  net.forward({ training: false, loss: false });
  return net.logits.slice();
}

async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const text = corpus(6000);
async function trained(): Promise<CharModel> {
  const model = createModel(text, { cell: "gru", hidden: 24, layers: 2, dropout: 0, seed: 4 });
  await train(model, text, { steps: 8, batch: 4, seq: 16, threads: 1, valEvery: 0 });
  return model;
}

Deno.test("F16 conversion rounds as Math.f16round (ties to even, subnormals, overflow)", () => {
  const values = new Float32Array([
    0,
    -0,
    1,
    1 + 2 ** -11, // a tie: to even (1)
    1 + 3 * 2 ** -11, // a tie: to even (1 + 2^-9)
    65504,
    65520, // rounds up past the largest: Infinity
    2 ** -24, // the smallest subnormal
    2 ** -25, // a tie with 0: to even (0)
    3 * 2 ** -26,
    6.1e-5, // near the smallest normal
    -0.1,
    Infinity,
    -Infinity,
  ]);
  const back = f16Values(f16Bytes(values));
  for (let i = 0; i < values.length; i++) {
    assert.ok(Object.is(back[i], Math.f16round(values[i])), `${values[i]}: got ${back[i]}`);
  }
  assert.ok(Number.isNaN(f16Values(f16Bytes(new Float32Array([NaN])))[0]));
  assert.throws(() => f16Values(new Uint8Array(3)), /odd length/);
});

Deno.test("an F16 weights-only checkpoint: half the size, weights rounded, no state, info kept", async () => {
  const model = await trained();
  const full = toBytes(model);
  const info = { corpus: "test", valLoss: "1.234" };
  const half = toBytes(model, { dtype: "F16", info });
  const plain = toBytes({ ...model, trainState: null });
  assert.ok(half.length < plain.length * 0.6, `${half.length} vs ${plain.length}`);
  assert.ok(half.length < full.length / 4);
  const { tensors, metadata } = decodeSafetensors(half);
  assert.deepEqual(JSON.parse(metadata["charlstm.info"]), info);
  assert.equal(metadata["charlstm.train"], undefined);
  assert.deepEqual([...tensors.keys()].sort(), model.layout.tensors.map((t) => t.name).sort());
  for (const entry of tensors.values()) assert.equal(entry.dtype, "F16");
  const back = fromBytes(half);
  assert.equal(back.trainState, null);
  assert.deepEqual(back.config, model.config);
  assert.deepEqual(back.vocab.chars, model.vocab.chars);
  for (const t of model.layout.tensors) {
    for (let i = t.offset; i < t.offset + t.size; i++) {
      assert.equal(back.params[i], Math.f16round(model.params[i]), `${t.name}[${i - t.offset}]`);
    }
  }
  // Saved again as F16, the rounded weights are exactly the same bytes.
  assert.deepEqual(toBytes(back, { dtype: "F16", info }), half);
  // Through a file, and sampling works on it.
  const file = await Deno.makeTempFile({ suffix: ".safetensors" });
  await save(model, file, { dtype: "F16" });
  assert.equal(sample(await load(file), { prime: "the ", length: 20, seed: 1 }).length, 24);
  await Deno.remove(file);
  assert.throws(() => toBytes(model, { dtype: "F64" as "F16" }), /dtype "F64" is not supported/);
});

Deno.test("an F16 tensor is refused where F32 is needed: the training state", async () => {
  const model = await trained();
  const { tensors, metadata } = decodeSafetensors(toBytes(model));
  const name = "optim.exp_avg.fc.bias";
  const t = tensors.get(name)!;
  const values = new Float32Array(t.bytes.slice().buffer);
  const { encodeSafetensors } = await import("../src/io/safetensors.ts");
  const bad = encodeSafetensors(
    {
      ...Object.fromEntries(tensors),
      [name]: { dtype: "F16", shape: t.shape, bytes: f16Bytes(values) },
    },
    metadata,
  );
  assert.throws(() => fromBytes(bad), /tensor optim\.exp_avg\.fc\.bias is F16: expected F32$/);
});

Deno.test({
  name: "PyTorch reads an F16 checkpoint: float16 tensors, torch's own rounding of the weights",
  ignore: !hasTorch,
  async fn() {
    const model = await trained();
    const file = await Deno.makeTempFile({ suffix: ".safetensors" });
    await save(model, file, { dtype: "F16" });
    const f32 = await Deno.makeTempFile({ suffix: ".safetensors" });
    await save({ ...model, trainState: null }, f32);
    // Read as safetensors.torch.load_file would (json + struct, as tests/_torch_load_check.py).
    const script = `
import json, struct, sys, torch
def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n]); header.pop("__metadata__")
    dt = {"F16": torch.float16, "F32": torch.float32}
    return {k: torch.frombuffer(bytearray(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]),
            dtype=dt[v["dtype"]]).reshape(v["shape"]) for k, v in header.items()}
half, full = read(sys.argv[1]), read(sys.argv[2])
assert half.keys() == full.keys()
print(json.dumps({k: [str(half[k].dtype), bool(torch.equal(half[k], full[k].half()))] for k in half}))
`;
    const out = await new Deno.Command(python, {
      args: ["-c", script, file, f32],
      env: { OMP_NUM_THREADS: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const result: Record<string, [string, boolean]> = JSON.parse(
      new TextDecoder().decode(out.stdout),
    );
    assert.equal(Object.keys(result).length, model.layout.tensors.length);
    for (const [name, [dtype, same]] of Object.entries(result)) {
      assert.equal(dtype, "torch.float16", name);
      assert.ok(same, `${name}: torch's .half() of the F32 weights differs from charlstm's F16`);
    }
    await Deno.remove(file);
    await Deno.remove(f32);
  },
});

Deno.test("load by name: an unknown name lists the bundled models; a file of that name wins", async () => {
  assert.deepEqual(BUNDLED_MODELS, ["anna", "shakespeare"]);
  assert.ok(bundledModelUrl("shakespeare").href.endsWith("/models/shakespeare.safetensors"));
  assert.equal(
    new URL("../", bundledModelUrl("anna")).href,
    root.href,
    "models/ lies in the repository's root",
  );
  await assert.rejects(load("nope"), {
    name: "CheckpointError",
    message: 'Cannot load model "nope": not a file or a bundled model (bundled: anna, shakespeare)',
  });
  // A path is not a name: the file error as before.
  await assert.rejects(load("./nope.safetensors"), /Cannot read checkpoint .*: no such file/);
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    const model = await trained();
    await save(model, `${dir}/anna`);
    Deno.chdir(dir);
    assert.deepEqual((await load("anna")).config, model.config);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

for (const name of BUNDLED_MODELS) {
  const file = new URL(`models/${name}.safetensors`, root);
  const present = await Deno.stat(file).then(() => true, () => false);
  Deno.test({
    name: `the bundled model ${name} loads by name, weights only, and writes`,
    // The lead trains and commits the real models; until then there is nothing to load.
    ignore: !present,
    async fn() {
      const model = await load(name);
      assert.equal(model.trainState, null);
      const info = JSON.parse(
        decodeSafetensors(await Deno.readFile(file)).metadata["charlstm.info"],
      );
      assert.equal(info.name, name);
      assert.ok(Number(info.valLoss) > 0);
      assert.ok((await Deno.stat(file)).size < 5e6);
      const r = await run("sample.ts", [name, "--length", "40", "--seed", "1"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length > 40);
    },
  });
}

Deno.test("load by name from a module imported from a URL fetches models/ beside it", async () => {
  const model = await trained();
  const bytes = toBytes(model, { dtype: "F16" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path === "/models/shakespeare.safetensors") return new Response(bytes.slice());
    if (path.includes("..") || path.startsWith("/models/")) {
      return new Response("not found", { status: 404 });
    }
    try {
      const body = await Deno.readFile(new URL("." + path, root));
      const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const denoDir = await Deno.makeTempDir({ prefix: "charlstm-denodir-" });
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `const { load, sample } = await import(Deno.args[0] + "/mod.ts");
const model = await load("shakespeare");
console.log(JSON.stringify(sample(model, { prime: "the ", length: 30, seed: 2 })));
try { await load("anna"); } catch (e) { console.log(e.message); }`,
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, base],
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const [written, missing] = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(
      JSON.parse(written),
      sample(fromBytes(bytes), { prime: "the ", length: 30, seed: 2 }),
    );
    assert.equal(
      missing,
      `Cannot load model "anna": ${base}/models/anna.safetensors cannot be read: HTTP 404 Not Found`,
    );
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(script);
  }
});

for (const embedding of [0, 6]) {
  Deno.test(`widening the vocabulary keeps every old character's logits exactly (embedding ${embedding})`, async () => {
    const base = createModel(text, { cell: "lstm", embedding, hidden: 20, layers: 2, seed: 9 });
    await train(base, text, { steps: 6, batch: 4, seq: 16, threads: 1, valEvery: 0 });
    const mine = "Zebras QUOTE: «hello» — 42 🙂 " + text.slice(0, 200);
    const wide = widenVocab(base, mine);
    const V = base.vocab.size, W = wide.vocab.size;
    assert.deepEqual(wide.vocab.chars.slice(0, V), base.vocab.chars);
    assert.ok(wide.vocab.chars.includes("🙂") && wide.vocab.chars.includes("Z"));
    assert.equal(wide.config.vocabSize, W);
    assert.equal(wide.trainState, null);
    assert.equal(base.config.vocabSize, V, "the model given is unchanged");
    const probe = text.slice(100, 160);
    const before = logits(base, probe), after = logits(wide, probe);
    for (let p = 0; p < probe.length; p++) {
      for (let v = 0; v < V; v++) {
        assert.ok(
          Object.is(after[p * W + v], before[p * V + v]),
          `position ${p}, character ${JSON.stringify(base.vocab.chars[v])}`,
        );
      }
      // A new character's logit is its bias alone: ln(1e-3) + logsumexp of the old biases.
      const bias = wide.layout.fcBias;
      for (let v = V; v < W; v++) assert.equal(after[p * W + v], wide.params[bias.offset + v]);
    }
    const b = base.layout.fcBias;
    const old = [...base.params.subarray(b.offset, b.offset + V)];
    const max = Math.max(...old);
    const lse = max + Math.log(old.reduce((s, x) => s + Math.exp(x - max), 0));
    assert.ok(Math.abs(wide.params[wide.layout.fcBias.offset + V] - (Math.log(1e-3) + lse)) < 1e-5);
    // The checkpoint keeps the state_dict's names with the larger shapes, and reloads.
    const again = fromBytes(toBytes(wide));
    assert.deepEqual(again.params, wide.params);
    const first = embedding ? again.layout.embedding! : again.layout.layers[0].wih;
    assert.deepEqual(first.shape, embedding ? [W, embedding] : [4 * 20, W]);
    assert.deepEqual(again.layout.fcWeight.shape, [W, 20]);
    // It trains on the new text, and writes with its new characters.
    await train(wide, mine.repeat(5), { steps: 3, batch: 2, seq: 16, threads: 1, valEvery: 0 });
    assert.equal(sample(wide, { prime: "Zebras 🙂", length: 5, seed: 1 }).length > 9, true);
    // Nothing to add: the same model.
    assert.equal(widenVocab(base, text), base);
  });
}

Deno.test("prepareFineTune: widened copy, no state, the fine-tuning rule's lr and budget", async () => {
  const base = await trained();
  const mine = "The QUICK fox!\n".repeat(300);
  const ft = await prepareFineTune(base, mine, { charsPerSec: () => 50_000 });
  assert.deepEqual(
    ft.added,
    [...new Set("The QUICK fox!\n")].filter((c) => base.vocab.indexOf(c) < 0).sort(),
  );
  assert.equal(ft.train.lr, 1e-4);
  assert.equal(ft.train.timeBudget, 60);
  assert.equal(ft.model.trainState, null);
  assert.notEqual(ft.model.params, base.params);
  assert.match(ft.summary, /^fine-tuning: for 1m on .*GRU 2×24.*new characters/);
  // Given options win; the validation text's characters are added too.
  const ft2 = await prepareFineTune(base, mine, {
    valText: "@@ the end. ".repeat(20),
    train: { lr: 5e-4, steps: 3 },
  });
  assert.ok(ft2.added.includes("@"));
  assert.equal(ft2.train.lr, 5e-4);
  assert.equal(ft2.train.steps, 3);
  assert.equal(ft2.train.timeBudget, undefined);
  const result = await train(ft2.model, mine, { ...ft2.train, batch: 4, seq: 16, threads: 1 });
  assert.equal(result.steps, 3);
  assert.deepEqual(base.params, (await trained()).params, "the base model is unchanged");
});

Deno.test("train.ts --from: fine-tunes a checkpoint; a flag that conflicts is named, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "charlstm-from-" });
  try {
    const ck = `${dir}/base.safetensors`;
    await save(await trained(), ck, { dtype: "F16" });
    const mine = `${dir}/mine.txt`;
    await Deno.writeTextFile(mine, "ROMEO: What, ho! ¿Qué?\n".repeat(200));
    const common = ["--data", mine, "--from", ck, "--threads", "1", "--batch", "4", "--seq", "16"];
    const r = await run("train.ts", [
      ...common,
      "--steps",
      "4",
      "--out",
      `${dir}/out`,
      "--sample-length",
      "10",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /fine-tuning: for 4 steps .*new characters: /);
    const tuned = await load(`${dir}/out/last.safetensors`);
    assert.ok(tuned.vocab.chars.includes("¿"));
    assert.equal(tuned.trainState?.step, 4);

    const bad: [string[], RegExp][] = [
      [
        ["--hidden", "128"],
        /^error: Invalid --hidden with --from .*: the model has hidden 24, not 128: drop --hidden$/m,
      ],
      [
        ["--cell", "lstm"],
        /^error: Invalid --cell with --from .*: the model has cell "gru", not "lstm"/m,
      ],
      [["--resume", ck], /^error: Invalid --resume with --from: /m],
      [
        ["--preset", "tiny"],
        /^error: Invalid --preset with --from: fine-tuning has its own recipe/m,
      ],
      [["--min-freq", "2"], /^error: Invalid --min-freq with --from: it shapes a new model/m],
    ];
    for (const [flags, message] of bad) {
      const e = await run("train.ts", [...common, ...flags, "--out", `${dir}/bad`]);
      assert.equal(e.code, 2, flags.join(" "));
      assert.match(e.stderr, message);
      assert.equal(await Deno.stat(`${dir}/bad`).then(() => true, () => false), false);
    }
    const unknown = await run("train.ts", [
      "--data",
      mine,
      "--from",
      "nope",
      "--out",
      `${dir}/bad`,
    ]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /^error: Cannot load model "nope": not a file or a bundled model \(bundled: anna, shakespeare\)$/m,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sample.ts NAME: an unknown name lists the bundled models, exit 2", async () => {
  const r = await run("sample.ts", ["nope", "--length", "5"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.split("\n")[0],
    'error: Cannot load model "nope": not a file or a bundled model (bundled: anna, shakespeare)',
  );
  assert.equal(r.stdout, "");
});

Deno.test("the studio serves the bundled models and lists those present in models.json", async () => {
  const { bundledModels, handle, resolvePath } = await import("../studio/server.ts");
  assert.equal(
    resolvePath("/models/shakespeare.safetensors", root)?.href,
    new URL("models/shakespeare.safetensors", root).href,
  );
  assert.equal(resolvePath("/models/nope.safetensors", root), null);
  assert.equal(resolvePath("/models/README.md", root), null);
  const listed = await bundledModels();
  const present = [];
  for (const name of BUNDLED_MODELS) {
    const file = new URL(`models/${name}.safetensors`, root);
    if (await Deno.stat(file).then(() => true, () => false)) present.push(name);
  }
  assert.deepEqual(listed.map((m) => m.name), present);
  const response = await handle(new Request("http://127.0.0.1/studio/models.json"), root);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), listed);
});
