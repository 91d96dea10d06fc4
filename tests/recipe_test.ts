// The recipe: its rule (width by characters per parameter, dropout by epochs, validation by
// its share of the time, warm-up, the floor), what it keeps of the options given, its speed
// measurement and the budget it leaves; the schedule's warm-up and floor; the LSTM's
// forget-gate bias; and train.ts saying what the recipe picked.

import assert from "node:assert/strict";
import { createModel, PRESETS, recipe } from "../mod.ts";
import { RECIPE_RULE } from "../src/train/recipe.ts";
import { VALIDATION_BATCH_IN_STEPS } from "../src/train/budget.ts";
import { scheduledLr, timedCosineLr, warmupFactor } from "../src/train/schedule.ts";
import { corpus } from "./_helpers.ts";

const R = RECIPE_RULE;
const TEXT = corpus(200_000);

// The rule by hand: the widest width whose run still takes the minimum of steps.
function widest(chars: (hidden: number) => number) {
  let best: number = R.widths[0];
  for (const h of R.widths.slice(1)) {
    if (chars(h) / (R.batch * R.seq) < R.minSteps) break;
    best = h;
  }
  return best;
}

// A machine where a model of H units trains at 4e9 / (H²) characters per second.
const speed = ({ hidden }: { hidden: number }) => 4e9 / hidden ** 2;
const budgetChars = (seconds: number) => (h: number) =>
  seconds * speed({ hidden: h }) * (1 - R.valShare);

Deno.test("recipe: the width, dropout, validation and schedule follow the rule", async () => {
  for (const seconds of [30, 150, 600, 3600]) {
    const r = await recipe(TEXT, { timeBudget: seconds, charsPerSec: speed });
    const hidden = widest(budgetChars(seconds));
    assert.equal(r.model.hidden, hidden, `${seconds} s`);
    assert.equal(r.model.cell, R.cell);
    assert.equal(r.model.layers, R.layers);
    assert.equal(r.charsPerSec, speed({ hidden }));
    const epochs = r.plannedChars / (TEXT.length * 0.9);
    assert.ok(Math.abs(epochs - budgetChars(seconds)(hidden) / (TEXT.length * 0.9)) < 1e-9);
    assert.equal(r.model.dropout, R.dropout.find((d) => epochs <= d.epochs)!.dropout);
    assert.equal(r.train.timeBudget, seconds);
    assert.equal(r.train.steps, undefined);
    assert.equal(r.train.lrSchedule, "cosine");
    assert.equal(r.train.lr, R.lr);
    assert.equal(r.train.lrFloor, R.lrFloor);
    assert.equal(r.train.batch, R.batch);
    assert.equal(r.train.seq, R.seq);
    const steps = Math.round(r.plannedChars / (R.batch * R.seq));
    assert.equal(r.train.warmup, Math.min(R.warmup, Math.floor(steps * R.warmupShare)));
    // Validation: at most its share of the time (a validation batch ≈ 0.4 of a step).
    const valBatches = Math.floor(TEXT.length * 0.1 / (R.batch * R.seq));
    assert.ok(r.train.valEvery! >= R.minValEvery);
    assert.ok(valBatches * VALIDATION_BATCH_IN_STEPS / r.train.valEvery! <= R.valShare);
    assert.match(r.summary, new RegExp(`^recipe for .* GRU 2×${hidden}, dropout `));
  }
  // A longer budget never picks a narrower model.
  const widths = [];
  for (const s of [10, 60, 300, 1200, 7200]) {
    widths.push((await recipe(TEXT, { timeBudget: s, charsPerSec: speed })).model.hidden!);
  }
  assert.deepEqual(widths, [...widths].sort((a, b) => a - b));
});

Deno.test("recipe: options given are kept; steps and epochs plan one cosine cycle", async () => {
  const r = await recipe(TEXT, {
    timeBudget: 600,
    charsPerSec: speed,
    model: { cell: "lstm", hidden: 48, dropout: 0.3, seed: 7 },
    train: { lr: 0.01, batch: 8, seq: 20, valEvery: 5, warmup: 0, lrSchedule: "constant" },
  });
  assert.deepEqual(
    { ...r.model },
    { cell: "lstm", hidden: 48, layers: R.layers, dropout: 0.3, seed: 7 },
  );
  assert.equal(r.train.lr, 0.01);
  assert.equal(r.train.batch, 8);
  assert.equal(r.train.seq, 20);
  assert.equal(r.train.valEvery, 5);
  assert.equal(r.train.warmup, 0);
  assert.equal(r.train.lrSchedule, "constant");
  assert.match(r.summary, /LSTM 2×48, dropout 0.3; batch 8 × 20, lr 0.01 .*constant\)/);

  // By steps: the cosine is one cycle over them, counted in epochs.
  const bySteps = await recipe(TEXT, { steps: 500, model: { hidden: 32 } });
  assert.equal(bySteps.train.steps, 500);
  assert.equal(bySteps.train.timeBudget, undefined);
  const perEpoch = Math.floor(TEXT.length * 0.9 / (R.batch * R.seq));
  assert.ok(Math.abs(bySteps.train.cycleLen! - 500 / perEpoch) < 1e-9);
  assert.equal(bySteps.plannedChars, 500 * R.batch * R.seq);
  assert.match(bySteps.summary, /^recipe for 500 steps on 180k characters: GRU 2×32/);
  const byEpochs = await recipe(TEXT, { epochs: 3, model: { hidden: 32 } });
  assert.equal(byEpochs.train.epochs, 3);
  assert.ok(Math.abs(byEpochs.plannedChars - 3 * (TEXT.length - 20_000)) < 1e-6);
  // Line mode keeps seq open (the longest line's).
  const lines = await recipe(TEXT, { steps: 10, model: { hidden: 32 }, train: { lines: true } });
  assert.equal(lines.train.seq, undefined);
  // A bad option is reported before anything is measured.
  await assert.rejects(
    () => recipe(TEXT, { timeBudget: 60, model: { dropout: 1.5 } }),
    /dropout must be in \[0, 1\)/,
  );
});

Deno.test("recipe: a probe just short of the line is taken again, the faster reading counts", async () => {
  // At 600 s the line for a width is this many characters per second.
  const line = R.minSteps * R.batch * R.seq / (600 * (1 - R.valShare));
  for (const [first, expected, calls] of [[0.9, 384, 2], [0.5, 256, 1], [1.1, 384, 1]]) {
    const probes = new Map<number, number>();
    const r = await recipe(TEXT, {
      timeBudget: 600,
      charsPerSec: ({ hidden }) => {
        probes.set(hidden, (probes.get(hidden) ?? 0) + 1);
        // Every width up to 256 clears the line; 384 reads `first` of it, then just over it;
        // 512 is far under.
        if (hidden <= 256) return 4 * line;
        if (hidden === 384) return (probes.get(384) === 1 ? first : 1.05) * line;
        return line / 4;
      },
    });
    assert.equal(r.model.hidden, expected, `first reading ${first}`);
    assert.equal(probes.get(384), calls, `first reading ${first}`);
  }
});

Deno.test("recipe: measures this machine's speed before the budget starts", async () => {
  const small = corpus(20_000);
  const r = await recipe(small, { timeBudget: 5, threads: 1, model: { layers: 1 } });
  assert.ok(r.charsPerSec > 0 && Number.isFinite(r.charsPerSec));
  assert.ok(r.measureSeconds > 0);
  assert.equal(r.train.timeBudget, 5);
  assert.match(r.summary, /\(speeds measured in \d+\.\d s\)$/);
  assert.match(r.summary, /^recipe for 5s on 18k characters at \d+k? chars\/s: GRU 1×\d+/);
});

Deno.test("presets are keyed by the API's option names and create models", () => {
  for (const [name, p] of Object.entries(PRESETS)) {
    const model = createModel("abcdef ".repeat(10), { ...p.model, hidden: 8 });
    assert.equal(model.config.cell, p.model.cell, name);
    assert.ok((p.train.steps ?? p.train.epochs)! > 0, name);
  }
});

Deno.test("schedule: warm-up and the cosine's floor", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((s) => warmupFactor(s, 4)), [0.25, 0.5, 0.75, 1, 1, 1]);
  assert.equal(warmupFactor(0, 0), 1);
  assert.equal(timedCosineLr(0.01, 0, 0.1), 0.01);
  assert.ok(Math.abs(timedCosineLr(0.01, 0.5, 0.1) - 0.0055) < 1e-15);
  assert.equal(timedCosineLr(0.01, 1, 0.1), 0.001);
  assert.equal(timedCosineLr(0.01, 1), 0);
  const o = { lrSchedule: "cosine" as const, lrFloor: 0.2 };
  assert.equal(scheduledLr(1, 0, 10, o), 1);
  assert.ok(Math.abs(scheduledLr(1, 5, 10, o) - 0.6) < 1e-12);
  assert.equal(scheduledLr(1, 10, 10, o), 1); // a restart
});

Deno.test("LSTM forget-gate bias: b_ih's forget slice set, b_hh's zero; 0 keeps PyTorch's", () => {
  const H = 8;
  const text = "hello world";
  const model = createModel(text, { cell: "lstm", hidden: H, layers: 2, forgetBias: 1 });
  const plain = createModel(text, { cell: "lstm", hidden: H, layers: 2, forgetBias: 0 });
  const k = 1 / Math.sqrt(H);
  for (let l = 0; l < 2; l++) {
    const { bih, bhh, wih } = model.layout.layers[l];
    const slice = (m: typeof model, o: number) => [...m.params.subarray(o + H, o + 2 * H)];
    assert.deepEqual(slice(model, bih.offset), new Array(H).fill(1));
    assert.deepEqual(slice(model, bhh.offset), new Array(H).fill(0));
    // PyTorch's uniform everywhere else, the same draws as without the bias.
    const pb = slice(plain, bih.offset);
    assert.ok(pb.every((v) => Math.abs(v) <= k) && new Set(pb).size === H);
    assert.deepEqual(
      [...model.params.subarray(wih.offset, wih.offset + wih.size)],
      [...plain.params.subarray(wih.offset, wih.offset + wih.size)],
    );
    assert.deepEqual(
      [...model.params.subarray(bih.offset, bih.offset + H)],
      [...plain.params.subarray(bih.offset, bih.offset + H)],
    );
  }
  // Other cells have no forget gate: the option changes nothing.
  const a = createModel(text, { cell: "gru", hidden: H, forgetBias: 1 });
  const b = createModel(text, { cell: "gru", hidden: H, forgetBias: 0 });
  assert.deepEqual([...a.params], [...b.params]);
  assert.throws(() => createModel(text, { forgetBias: NaN }), /forgetBias must be a finite/);
});

Deno.test("recipe: a run stops at its best, validating at least every few passes", async () => {
  // 180k characters train, 112 batches of 16 × 100 a pass; 20k validate, 12 batches: the
  // time's share validates every 12 × 0.4 / 0.03 = 160 steps, rounded up to 200.
  const big = await recipe(TEXT, { timeBudget: 600, charsPerSec: speed });
  assert.equal(R.batch * R.seq, 1600);
  assert.equal(big.train.patience, R.patience);
  assert.equal(big.train.valEvery, 200);
  assert.match(big.summary, /validation every 200 steps \(patience 3\)/);
  // 40k characters held out beside 40k training: 25 batches a pass, validated every 3 passes
  // (75, rounded up to 80) though the time's share would allow every 340.
  const small = corpus(40_000);
  const r = await recipe(small, {
    timeBudget: 600,
    charsPerSec: speed,
    train: { valText: corpus(40_000) },
  });
  assert.equal(r.train.valEvery, 80);
  // 10k beside 10k: 6 batches a pass, 3 passes are 18 steps, and 50 are the least.
  const tiny = await recipe(corpus(10_000), {
    timeBudget: 600,
    charsPerSec: speed,
    train: { valText: corpus(10_000) },
  });
  assert.equal(tiny.train.valEvery, R.minValEvery);
  const r2 = await recipe(corpus(300_000), {
    timeBudget: 600,
    charsPerSec: speed,
    train: { valText: corpus(300_000), patience: 0 },
  });
  // 187 batches a pass: every 3 passes is 561, rounded up to 600.
  assert.equal(r2.train.valEvery, 600);
  assert.equal(r2.train.patience, 0);
});
