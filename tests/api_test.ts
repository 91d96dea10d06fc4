// The typed API end to end on a small generated corpus: create, train, save, load, sample,
// evaluate; exact resume; the optimizer against PyTorch's arithmetic; checkpoint rejections.

import assert from "node:assert/strict";
import {
  CheckpointError,
  createModel,
  evaluate,
  fromBytes,
  load,
  sample,
  sampleStream,
  save,
  toBytes,
  train,
} from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { fillUniform, rng, wordLines } from "./_helpers.ts";

/** A corpus with learnable structure: words from a small lexicon, lines of varied length. */
function corpus(chars: number, seed = 1): string {
  const words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away"];
  return wordLines(chars, words, { seed }).slice(0, chars);
}

const TEXT = corpus(20000);
const SMALL = { hidden: 24, layers: 2, dropout: 0.1, seed: 3 };
const RUN = { batch: 8, seq: 20, lr: 0.01, valEvery: 10 };

Deno.test("train, save, load, sample and evaluate end to end", async () => {
  const model = createModel(TEXT, SMALL);
  const before = await evaluate(model, TEXT.slice(-2000));
  assert.ok(Math.abs(before - Math.log(model.vocab.size)) < 0.3, `untrained loss ${before}`);
  const events: string[] = [];
  const result = await train(model, TEXT, {
    ...RUN,
    steps: 60,
    onEvent: (e) => void events.push(e.type),
  });
  assert.equal(result.steps, 60);
  assert.equal(events.filter((t) => t === "step").length, 60);
  assert.equal(events.filter((t) => t === "validation").length, 6);
  assert.ok(result.valLoss! < before - 0.8, `val loss ${result.valLoss} vs untrained ${before}`);

  const dir = await Deno.makeTempDir();
  await save(model, `${dir}/m.safetensors`);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.safetensors"]);
  const loaded = await load(`${dir}/m.safetensors`);
  assert.deepEqual(loaded.params, model.params);
  assert.deepEqual(loaded.vocab.chars, model.vocab.chars);
  assert.equal(loaded.trainState!.step, 60);
  const after = await evaluate(loaded, TEXT.slice(-2000));
  assert.equal(after, await evaluate(model, TEXT.slice(-2000)));
  assert.ok(after < before - 0.8);

  const text = sample(loaded, { prime: "the ", length: 80, topK: 3, seed: 5 });
  assert.ok(text.startsWith("the "));
  assert.equal([...text].length, 84);
  assert.ok(text.split(/[ .\n]+/).filter((w) => w.length > 0).length > 5);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resuming after N steps gives the same weights as 2N steps in one run", async () => {
  const straight = createModel(TEXT, SMALL);
  await train(straight, TEXT, { ...RUN, steps: 30 });

  const first = createModel(TEXT, SMALL);
  await train(first, TEXT, { ...RUN, steps: 15 });
  const resumed = fromBytes(toBytes(first));
  assert.equal(resumed.trainState!.step, 15);
  await train(resumed, TEXT, { ...RUN, steps: 30 });
  assert.deepEqual(resumed.params, straight.params);
  assert.deepEqual(resumed.trainState!.adamV, straight.trainState!.adamV);
  assert.deepEqual(resumed.trainState!.h, straight.trainState!.h);
});

Deno.test("training crosses epochs, resets state per epoch and stops on abort", async () => {
  const model = createModel(TEXT, { ...SMALL, dropout: 0 });
  // 18000 training chars / (8 × 20) = 112 batches per epoch.
  const controller = new AbortController();
  let epochs = 0;
  const result = await train(model, TEXT, {
    ...RUN,
    epochs: 3,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === "epoch") epochs = e.epoch;
      if (e.type === "step" && e.step === 130) controller.abort();
    },
  });
  assert.equal(epochs, 1);
  assert.equal(result.steps, 130);
  assert.equal(result.aborted, true);
  assert.equal(model.trainState!.batchInEpoch, 130 - 112);
});

Deno.test("sampling: seeded, top-k 1 is greedy, stop string, streaming, bad prime", () => {
  const model = createModel(TEXT, SMALL);
  const next = rng(9);
  fillUniform(model.params, next, 0.4);
  const a = sample(model, { prime: "ca", length: 50, seed: 1, temperature: 0.9 });
  assert.equal(sample(model, { prime: "ca", length: 50, seed: 1, temperature: 0.9 }), a);
  assert.notEqual(sample(model, { prime: "ca", length: 50, seed: 2, temperature: 0.9 }), a);
  assert.equal(
    sample(model, { prime: "the", length: 40, topK: 1, seed: 4 }),
    sample(model, { prime: "the", length: 40, greedy: true }),
  );
  assert.equal(
    sample(model, { prime: "the", length: 40, topP: 1e-9, seed: 8 }),
    sample(model, { prime: "the", length: 40, greedy: true }),
  );
  const streamed = [...sampleStream(model, { prime: "ca", length: 50, seed: 1, temperature: 0.9 })];
  assert.equal("ca" + streamed.join(""), a);
  const long = sample(model, { prime: "t", length: 400, seed: 3 });
  const upToStop = sample(model, { prime: "t", length: 400, seed: 3, stop: "." });
  assert.ok(!upToStop.includes("."));
  assert.ok(long.startsWith(upToStop) && long[upToStop.length] === ".");
  assert.throws(
    () => sample(model, { prime: "Zé", length: 5 }),
    (e) => e instanceof RangeError && /"Z", "é"/.test(e.message),
  );
  assert.throws(() => sample(model, { temperature: 0 }), /temperature must be > 0/);
});

Deno.test("Adam and clipping follow PyTorch's arithmetic", () => {
  const net = WasmEngine.create({
    vocabSize: 5,
    hidden: 3,
    layers: 1,
    batch: 1,
    seq: 1,
    dropout: 0,
  });
  const n = net.params.length;
  const next = rng(2);
  fillUniform(net.params, next, 1);
  const p = Float64Array.from(net.params), m = new Float64Array(n), v = new Float64Array(n);
  const [lr, b1, b2, eps] = [0.01, 0.9, 0.999, 1e-8];
  for (let t = 1; t <= 3; t++) {
    fillUniform(net.grads, next, 2);
    const g = Float64Array.from(net.grads);
    const norm = Math.hypot(...g);
    assert.ok(Math.abs(net.clipGradNorm(1.5) - norm) < 1e-4 * norm);
    const coef = 1.5 / (norm + 1e-6);
    for (let i = 0; i < n; i++) {
      const gi = g[i] * Math.min(1, coef);
      assert.ok(Math.abs(net.grads[i] - gi) < 1e-6, "clipped gradient");
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (lr / (1 - b1 ** t)) * m[i] / denom;
    }
    net.adamStep(t, { lr });
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(net.params[i] - p[i]) < 1e-6, `param ${i} at step ${t}`);
      assert.ok(Math.abs(net.secondMoment[i] - v[i]) < 1e-6 * Math.max(1, v[i]));
    }
  }
});

Deno.test("checkpoints: bad files are rejected with a named problem", async () => {
  const model = createModel("abcdef", { cell: "lstm", hidden: 4, layers: 1 });
  const good = toBytes(model);
  const rejects = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => fromBytes(bytes),
      (e) => e instanceof CheckpointError && pattern.test(e.message),
    );
  rejects(good.subarray(0, good.length - 3), /Invalid checkpoint/);
  rejects(good.subarray(0, 5), /Invalid checkpoint/);
  const badHeader = good.slice();
  badHeader[8] = "[".charCodeAt(0);
  rejects(badHeader, /Invalid checkpoint/);

  const edit = (mutate: (header: Record<string, unknown>) => void, data?: Uint8Array) => {
    const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
    mutate(header);
    let json = JSON.stringify(header);
    while ((8 + json.length) % 8) json += " ";
    const body = data ?? good.subarray(8 + n);
    const out = new Uint8Array(8 + json.length + body.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(new TextEncoder().encode(json), 8);
    out.set(body, 8 + json.length);
    return out;
  };
  const meta = (h: Record<string, unknown>) => h.__metadata__ as Record<string, string>;
  rejects(edit((h) => (meta(h)["charlstm.format"] = "2")), /format version "2"/);
  rejects(edit((h) => delete meta(h)["charlstm.config"]), /no "charlstm.config"/);
  rejects(edit((h) => (meta(h)["charlstm.config"] = "{")), /not valid JSON/);
  rejects(
    edit((h) => (meta(h)["charlstm.vocab"] = JSON.stringify(["a", "b"]))),
    /vocabulary has 2 characters but the config says vocabSize 6/,
  );
  rejects(
    edit((h) => {
      const cfg = JSON.parse(meta(h)["charlstm.config"]);
      cfg.hidden = 5;
      meta(h)["charlstm.config"] = JSON.stringify(cfg);
    }),
    /shape \[16,6\]: expected \[20,6\]/,
  );
  rejects(
    edit((h) => (meta(h)["charlstm.vocab_encoding"] = JSON.stringify({ lowercase: "yes" }))),
    /charlstm.vocab_encoding must be \{ lowercase: boolean, unknown: string \| null \}/,
  );
  rejects(
    edit((h) => (meta(h)["charlstm.vocab_encoding"] = JSON.stringify({ unknown: "?" }))),
    /the unknown symbol "\?" is not one of its characters/,
  );
  rejects(
    edit((h) => {
      const cfg = JSON.parse(meta(h)["charlstm.config"]);
      cfg.cell = "lstmx";
      meta(h)["charlstm.config"] = JSON.stringify(cfg);
    }),
    /cell "lstmx" is not supported: expected one of lstm, gru, rnn/,
  );
  rejects(
    edit((h) => {
      const cfg = JSON.parse(meta(h)["charlstm.config"]);
      cfg.cell = "gru";
      meta(h)["charlstm.config"] = JSON.stringify(cfg);
    }),
    /gru\.weight_ih_l0/,
  );
  const bias = model.layout.byName.get("fc.bias")!;
  const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
  const [begin] = header["fc.bias"].data_offsets as number[];
  const data = good.slice(8 + n);
  new DataView(data.buffer).setFloat32(begin + 4, NaN, true);
  rejects(edit(() => {}, data), /tensor fc.bias has a non-finite value \(NaN\) at element 1/);
  assert.equal(bias.size, 6);

  const dir = await Deno.makeTempDir();
  await assert.rejects(
    load(`${dir}/missing.safetensors`),
    (e) => e instanceof CheckpointError && /no such file/.test(e.message),
  );
  await assert.rejects(
    save(model, `${dir}/no/such/dir/m.safetensors`),
    (e) => e instanceof CheckpointError && /Cannot save/.test(e.message),
  );
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  await Deno.remove(dir, { recursive: true });
});
