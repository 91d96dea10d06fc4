// The lessons' other models through the whole API: GRU and tanh RNN cells, a learned embedding,
// identity init, lowercase and min-freq vocabularies. Each trains, checkpoints, resumes
// bitwise, samples and evaluates; each bad option is refused by name.

import assert from "node:assert/strict";
import {
  type Cell,
  createModel,
  evaluate,
  fromBytes,
  sample,
  toBytes,
  train,
  type TrainEvent,
  trainEvents,
  Vocab,
} from "../mod.ts";
import { cosineCycle } from "../src/train/schedule.ts";

const TEXT = "The quick brown fox jumps over the lazy dog.\n".repeat(100);
const RUN = { batch: 4, seq: 16, lr: 0.01, valEvery: 0, threads: 1 };

for (const [cell, embedding] of [["gru", 0], ["rnn", 0], ["gru", 8], ["rnn", 8]] as const) {
  const input = embedding ? `, embedding ${embedding}` : "";
  Deno.test(`${cell}${input}: learns, and resumes bitwise from a checkpoint`, async () => {
    const options = { cell, embedding, hidden: 24, layers: 2, dropout: 0.1, seed: 3 };
    const losses: number[] = [];
    const straight = createModel(TEXT, options);
    await train(straight, TEXT, {
      ...RUN,
      steps: 40,
      onEvent: (e: TrainEvent) => {
        if (e.type === "step") losses.push(e.loss);
      },
    });
    const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(tail < head - 0.5, `loss ${head} → ${tail}`);

    const half = createModel(TEXT, options);
    await train(half, TEXT, { ...RUN, steps: 20 });
    const resumed = fromBytes(toBytes(half));
    assert.deepEqual(resumed.config, half.config);
    await train(resumed, TEXT, { ...RUN, steps: 40 });
    assert.deepEqual(resumed.params, straight.params);
    assert.deepEqual(resumed.trainState!.h, straight.trainState!.h);

    const text = sample(resumed, { prime: "The", length: 30, seed: 1, threads: 1 });
    assert.equal(text.length, 33);
    assert.ok(text.startsWith("The"));
    const loss = await evaluate(resumed, TEXT.slice(0, 400), { seq: 16, threads: 1 });
    assert.ok(Number.isFinite(loss) && loss < head, `eval loss ${loss}`);
  });
}

Deno.test("checkpoint tensor names follow PyTorch for every cell", () => {
  const names = (
    cell: Cell,
    embedding = 0,
  ) => [
    ...fromBytes(toBytes(createModel("abc", { cell, embedding, hidden: 4, layers: 2 })))
      .layout.byName.keys(),
  ];
  assert.deepEqual(names("gru", 3), [
    "encoder.weight",
    ...[0, 1].flatMap((l) =>
      ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map((w) => `gru.${w}_l${l}`)
    ),
    "fc.weight",
    "fc.bias",
  ]);
  const rnn = createModel("abc", { cell: "rnn", hidden: 4, layers: 1 }).layout.byName;
  assert.deepEqual(rnn.get("rnn.weight_ih_l0")!.shape, [4, 3]);
  assert.deepEqual(rnn.get("rnn.weight_hh_l0")!.shape, [4, 4]);
  const gru = createModel("abc", { cell: "gru", embedding: 5, hidden: 4, layers: 1 }).layout;
  assert.deepEqual(gru.byName.get("gru.weight_ih_l0")!.shape, [12, 5]);
  assert.deepEqual(gru.byName.get("encoder.weight")!.shape, [3, 5]);
  assert.ok(!names("rnn").some((n) => n.startsWith("lstm")));
});

Deno.test("init: PyTorch's ranges, a standard normal embedding, identity W_hh for rnn", () => {
  const H = 32;
  const model = createModel(TEXT, { cell: "rnn", embedding: 64, hidden: H, layers: 2 });
  const tensor = (name: string) => {
    const t = model.layout.byName.get(name)!;
    return model.params.subarray(t.offset, t.offset + t.size);
  };
  const e = tensor("encoder.weight");
  const mean = e.reduce((a, b) => a + b) / e.length;
  const std = Math.sqrt(e.reduce((a, b) => a + (b - mean) ** 2, 0) / e.length);
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(std - 1) < 0.1, `embedding mean ${mean} std ${std}`);
  const k = 1 / Math.sqrt(H);
  for (const name of ["rnn.weight_hh_l1", "rnn.bias_ih_l0", "fc.weight"]) {
    assert.ok(tensor(name).every((v) => Math.abs(v) <= k), name);
    assert.ok(tensor(name).some((v) => Math.abs(v) > k / 2), name);
  }

  const irnn = createModel(TEXT, { cell: "rnn", init: "identity", hidden: H, layers: 2 });
  for (const l of [0, 1]) {
    const t = irnn.layout.byName.get(`rnn.weight_hh_l${l}`)!;
    const w = irnn.params.subarray(t.offset, t.offset + t.size);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) assert.equal(w[i * H + j], i === j ? 1 : 0);
    }
  }
  assert.throws(
    () => createModel(TEXT, { cell: "gru", init: "identity" }),
    /Invalid option: init identity needs cell rnn, got gru: the gru's W_hh is not square/,
  );
  assert.throws(
    () => createModel(TEXT, { cell: "lstmx" as Cell }),
    /Invalid config: cell must be one of lstm, gru, rnn, got "lstmx"/,
  );
  assert.throws(() => createModel(""), /Cannot create a model: the text has no characters/);
  assert.throws(
    () => createModel(TEXT, { embedding: 1.5 }),
    /Invalid config: embedding must be 0 \(one-hot\) or a width/,
  );
});

Deno.test("lowercase and min-freq: one unknown symbol, kept by checkpoints and sampling", async () => {
  const text = "Anna Karenina. ANNA! anna? Жж\n".repeat(30) + "Q";
  const model = createModel(text, { lowercase: true, minFreq: 2, hidden: 8, layers: 1 });
  const { chars } = model.vocab;
  assert.ok(!chars.some((c) => c !== c.toLowerCase()), `uppercase kept: ${chars.join("")}`);
  assert.equal(chars.at(-1), "\uFFFD");
  assert.ok(!chars.includes("q"), "a character seen once is rare at min-freq 2");
  assert.ok(chars.includes("ж"));
  assert.equal(model.vocab.decode(model.vocab.encode("ANNA Q")), "anna \uFFFD");
  assert.deepEqual(model.vocab.unknownChars("anything ✓"), []);

  await train(model, text, { ...RUN, steps: 3 });
  const loaded = fromBytes(toBytes(model));
  assert.equal(loaded.vocab.lowercase, true);
  assert.equal(loaded.vocab.unknown, "\uFFFD");
  assert.deepEqual(loaded.vocab.chars, chars);
  // The prime is encoded as "anna \uFFFD" and echoed as given; what follows is the model's.
  const out = sample(loaded, { prime: "ANNA ✓", length: 5, seed: 2, threads: 1 });
  assert.ok(out.startsWith("ANNA ✓"), out);
  assert.ok([...out.slice(6)].every((c) => chars.includes(c)), out);

  // Without the options the vocabulary is the plain one, and an unknown character is an error.
  const plain = createModel(text, { hidden: 8, layers: 1 });
  assert.ok(plain.vocab.chars.includes("Q") && plain.vocab.unknown === null);
  assert.throws(() => plain.vocab.encode("✓"), /Cannot encode the text: "✓" is not in/);
  assert.throws(
    () => createModel(new Vocab(["a"]), { lowercase: true }),
    /Invalid option: lowercase and minFreq need a text, got a vocabulary/,
  );
  assert.throws(
    () => Vocab.fromText("abc", { minFreq: 0 }),
    /Invalid option: minFreq must be a positive integer/,
  );
});

Deno.test("cosine cycles end where the schedule restarts, with one event each", async () => {
  const recipe = { lrSchedule: "cosine", cycleLen: 0.5, cycleMult: 2 } as const;
  assert.deepEqual(cosineCycle(0, 10, recipe), { index: 0, start: 0, len: 0.5 });
  assert.deepEqual(cosineCycle(5, 10, recipe), { index: 1, start: 0.5, len: 1 });
  assert.deepEqual(cosineCycle(15, 10, recipe), { index: 2, start: 1.5, len: 2 });
  const model = createModel(TEXT, { hidden: 8, layers: 1 });
  const cycles: { step: number; cycle: number }[] = [];
  let perEpoch = 0;
  for await (const e of trainEvents(model, TEXT, { ...RUN, ...recipe, steps: 200 })) {
    if (e.type === "start") perEpoch = e.batchesPerEpoch;
    if (e.type === "cycle") cycles.push({ step: e.step, cycle: e.cycle });
  }
  // Cycle k (from 1) ends after 0.5·(2^k − 1) epochs.
  const expected = [1, 2, 3, 4].map((k) => ({
    cycle: k,
    step: Math.ceil(0.5 * (2 ** k - 1) * perEpoch - 1e-9),
  }))
    .filter((c) => c.step <= 200);
  assert.ok(expected.length >= 2, `only ${expected.length} cycles in 200 steps`);
  assert.deepEqual(cycles, expected);
});
