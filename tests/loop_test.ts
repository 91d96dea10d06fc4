// The training loop a person watches, through the API: samples during training (seeded, and
// leaving training bitwise as it was), validation on a text of its own, and training by the
// clock (a budget that stops in time, a cosine schedule that follows it down to zero, a resume
// that continues it), with an injected clock where the test needs it exact.

import assert from "node:assert/strict";
import {
  createModel,
  fromBytes,
  toBytes,
  train,
  type TrainEvent,
  trainEvents,
  type TrainOptions,
} from "../mod.ts";
import { sampleSeed } from "../src/train/_loop.ts";
import { CLOCK, type InternalTrainOptions } from "../src/train/_options.ts";
import { timedCosineLr } from "../src/train/schedule.ts";

const TEXT = "the cat sat on the mat. the dog ran far away.\n".repeat(60);
const MODEL = { hidden: 16, layers: 2, dropout: 0.1, seed: 5 };
const RUN: TrainOptions = { batch: 4, seq: 16, lr: 0.01, valEvery: 10, backend: "wasm" };

async function collect(options: InternalTrainOptions, model = createModel(TEXT, MODEL)) {
  const events: TrainEvent[] = [];
  for await (const e of trainEvents(model, TEXT, { ...RUN, ...options })) events.push(e);
  return { model, events };
}

const ofType = <T extends TrainEvent["type"]>(events: TrainEvent[], type: T) =>
  events.filter((e): e is Extract<TrainEvent, { type: T }> => e.type === type);

Deno.test("sampleEvery: seeded samples, and training bitwise as without them", async () => {
  const plain = await collect({ steps: 24 });
  const sampled = await collect({ steps: 24, sampleEvery: 8, sampleLength: 30, prime: "the " });
  assert.deepEqual(sampled.model.params, plain.model.params);
  const [a, b] = [plain.model.trainState!, sampled.model.trainState!];
  for (const k of ["adamM", "adamV", "h", "c"] as const) assert.deepEqual(b[k], a[k], k);
  assert.deepEqual([b.step, b.epoch, b.batchInEpoch], [a.step, a.epoch, a.batchInEpoch]);
  const losses = (r: { events: TrainEvent[] }) => ofType(r.events, "step").map((e) => e.loss);
  assert.deepEqual(losses(sampled), losses(plain));
  assert.deepEqual(
    ofType(sampled.events, "validation").map((e) => e.valLoss),
    ofType(plain.events, "validation").map((e) => e.valLoss),
  );

  const samples = ofType(sampled.events, "sample");
  assert.deepEqual(samples.map((e) => e.step), [8, 16, 24]);
  for (const s of samples) {
    assert.ok(s.text.startsWith("the "));
    assert.equal([...s.text].length, 34);
    assert.equal(s.seed, sampleSeed(MODEL.seed, s.step));
  }
  // Each sample comes after its step's validation, with the weights of that step.
  const order = sampled.events.map((e) => `${e.type}:${"step" in e ? e.step : ""}`);
  assert.ok(order.indexOf("sample:16") > order.indexOf("step:16"));
  // The same seed and step give the same sample; another seed another one.
  const again = await collect({ steps: 24, sampleEvery: 8, sampleLength: 30, prime: "the " });
  assert.deepEqual(ofType(again.events, "sample"), samples);
  const other = await collect({ steps: 8, sampleEvery: 8, sampleLength: 30, sampleSeed: 99 });
  assert.equal(ofType(other.events, "sample")[0].seed, sampleSeed(99, 8));
});

Deno.test("sampleEvery: what leaves no room for a sample is refused before training", async () => {
  const cases: [InternalTrainOptions, RegExp][] = [
    [{ sampleEvery: -1 }, /Invalid option: sampleEvery must be an integer ≥ 0, got -1/],
    [{ sampleEvery: 2.5 }, /Invalid option: sampleEvery must be an integer ≥ 0/],
    [
      { sampleEvery: 5, sampleLength: 0 },
      /Invalid option: sampleLength must be a positive integer with sampleEvery, got 0/,
    ],
    [{ sampleEvery: 5, prime: "Ωx" }, /Cannot sample: the prime has characters .* "Ω", "x"/],
    [{ sampleEvery: 5, sampleSeed: -1 }, /Invalid option: seed must be an integer/],
  ];
  for (const [options, pattern] of cases) {
    const events = trainEvents(createModel(TEXT, MODEL), TEXT, { ...RUN, steps: 5, ...options });
    await assert.rejects(events.next(), pattern, JSON.stringify(options));
  }
});

Deno.test("valText: the whole text trains, the other text validates", async () => {
  const valText = "the dog sat on the cat. ".repeat(20);
  const { model, events } = await collect({ steps: 20, valText });
  const start = ofType(events, "start")[0];
  assert.equal(start.trainChars, TEXT.length);
  assert.equal(start.valChars, valText.length);
  assert.equal(ofType(events, "validation").length, 2);
  const held = ofType((await collect({ steps: 20 })).events, "validation").map((e) => e.valLoss);
  assert.notDeepEqual(ofType(events, "validation").map((e) => e.valLoss), held);
  assert.equal(model.trainState!.step, 20);

  // Line mode: the other text's lines validate.
  const lines = await collect({ steps: 4, lines: true, valText: "the cat.\nthe dog ran.\n" });
  assert.equal(ofType(lines.events, "start")[0].valChars, 22);
  assert.equal(ofType(lines.events, "validation").length, 1);
});

Deno.test("valText: empty, too short, unknown characters or with valFraction: one clear error", async () => {
  const cases: [InternalTrainOptions, RegExp][] = [
    [{ valText: "" }, /Cannot validate: the validation text is empty/],
    [
      { valText: "the cat." },
      /Cannot validate: the validation text has 8 characters, but one batch of 4 × 16 needs 64/,
    ],
    [
      { valText: "The Cat sat. ".repeat(20) },
      /Cannot validate: the validation text has characters the training text does not: "T", "C"/,
    ],
    [{ valText: "the cat sat. ".repeat(20), valFraction: 0.2 }, /valFraction and valText/],
    [{ valText: "\n\n", lines: true }, /Cannot validate: the validation text has no non-empty/],
  ];
  for (const [options, pattern] of cases) {
    const events = trainEvents(createModel(TEXT, MODEL), TEXT, { ...RUN, steps: 5, ...options });
    await assert.rejects(events.next(), pattern, JSON.stringify(options));
  }
});

/** A clock for the loop that moves only when the test says: `tick` ms at each step event. */
function manualClock(tick: number) {
  let now = 1000;
  return {
    now: () => now,
    onStep: () => void (now += tick),
  };
}

async function timed(
  budget: number,
  options: InternalTrainOptions = {},
  model = createModel(TEXT, MODEL),
  stopAt = Infinity,
) {
  const clock = manualClock(100);
  const events: TrainEvent[] = [];
  for await (
    const e of trainEvents(model, TEXT, {
      ...RUN,
      valEvery: 0,
      timeBudget: budget,
      [CLOCK]: clock.now,
      ...options,
    } as InternalTrainOptions)
  ) {
    events.push(e);
    if (e.type === "step") {
      clock.onStep();
      if (e.step === stopAt) break;
    }
  }
  return { model, events };
}

Deno.test("timeBudget: training stops at the end of the budget; cosine follows the clock to 0", async () => {
  // Each step takes 100 ms of the injected clock: a 5 s budget holds 50 steps, less one kept
  // to spare.
  const { model, events } = await timed(5, { lrSchedule: "cosine", valEvery: 20 });
  const steps = ofType(events, "step");
  assert.equal(steps.length, 49);
  const start = ofType(events, "start")[0];
  assert.equal(start.totalSteps, Infinity);
  assert.equal(start.timeBudget, 5);
  assert.ok(steps.every((e) => e.trainTime <= 5));
  // The time after the last step (the consumer's) counts too.
  assert.equal(model.trainState!.trainTime, 4.9);
  assert.equal(model.trainState!.timeBudget, 5);
  // The lr of step k is the cosine at the time it began: (k - 1) × 100 ms into 5 s.
  steps.forEach((e, k) => assert.equal(e.lr, timedCosineLr(0.01, k * 100 / 5000), `step ${k + 1}`));
  assert.equal(steps[0].lr, 0.01);
  assert.ok(steps[48].lr < 0.01 * 0.005, `last lr ${steps[48].lr}`);
  assert.equal(timedCosineLr(0.01, 1), 0); // at the end of the budget
  // The last step validates, and ends the one cosine cycle.
  assert.deepEqual(ofType(events, "validation").map((e) => e.step), [20, 40, 49]);
  assert.deepEqual(ofType(events, "cycle"), [{ type: "cycle", step: 49, epoch: 1, cycle: 1 }]);
  assert.equal(ofType(events, "done")[0].step, 49);

  // A constant schedule stays constant; a step schedule still counts steps.
  const constant = ofType((await timed(1)).events, "step");
  assert.equal(constant.length, 9);
  assert.ok(constant.every((e) => e.lr === 0.01));
});

Deno.test("timeBudget: the checkpoint keeps the time trained, and a resume trains what is left", async () => {
  const straight = await timed(5, { lrSchedule: "cosine" });
  const stopped = await timed(5, { lrSchedule: "cosine" }, undefined, 20);
  const saved = fromBytes(toBytes(stopped.model));
  assert.equal(saved.trainState!.trainTime, 2);
  assert.equal(saved.trainState!.timeBudget, 5);
  const resumed = await timed(5, { lrSchedule: "cosine" }, saved);
  const start = ofType(resumed.events, "start")[0];
  assert.equal(start.trainTime, 2);
  const steps = ofType(resumed.events, "step");
  assert.equal(steps[0].step, 21);
  assert.equal(steps[0].lr, timedCosineLr(0.01, 2 / 5));
  // It ends where the straight run did, at the same time, on the same lr.
  assert.equal(saved.trainState!.step, ofType(straight.events, "step").length);
  assert.equal(saved.trainState!.trainTime, straight.model.trainState!.trainTime);
  assert.equal(steps.at(-1)!.lr, ofType(straight.events, "step").at(-1)!.lr);
  // A budget already spent trains nothing more.
  const spent = await timed(4.9, {}, saved);
  assert.equal(ofType(spent.events, "step").length, 0);
  assert.equal(ofType(spent.events, "done")[0].step, saved.trainState!.step);
});

Deno.test("timeBudget: a real second's budget stops within it", async () => {
  const model = createModel(TEXT, MODEL);
  const t0 = performance.now();
  let last: TrainEvent | null = null;
  for await (const e of trainEvents(model, TEXT, { ...RUN, timeBudget: 1 })) {
    if (e.type === "step") last = e;
  }
  const wall = (performance.now() - t0) / 1000;
  assert.ok(last?.type === "step" && last.step > 5, "it trained");
  // Stops before a step the budget has no time left for (at the mean pace: allow a slow step).
  assert.ok(last.trainTime <= 1.1, `trained ${last.trainTime} s`);
  assert.ok(last.trainTime > 0.5, `trained ${last.trainTime} s`);
  assert.ok(wall < 3, `took ${wall} s in all`);
});

Deno.test("timeBudget: bad budgets and clashes are refused before training", async () => {
  const cases: [InternalTrainOptions, RegExp][] = [
    [{ timeBudget: 0 }, /Invalid option: timeBudget must be a positive number of seconds, got 0/],
    [{ timeBudget: -3 }, /timeBudget must be a positive number/],
    [{ timeBudget: NaN }, /timeBudget must be a positive number/],
    [{ timeBudget: Infinity }, /timeBudget must be a positive number/],
    [{ timeBudget: 5, steps: 10 }, /timeBudget and steps both say when to stop/],
    [
      { timeBudget: 5, lrSchedule: "cosine", cycleMult: 2 },
      /cycleLen and cycleMult do not apply with timeBudget/,
    ],
  ];
  for (const [options, pattern] of cases) {
    const events = trainEvents(createModel(TEXT, MODEL), TEXT, { ...RUN, ...options });
    await assert.rejects(events.next(), pattern, JSON.stringify(options));
  }
});

Deno.test("timeBudget: the clock option (a page's pause stops it) is the time the budget counts", async () => {
  // A consumer that pauses 10 s of real time after step 10 on a clock that stops while paused:
  // the run still holds 49 steps of 100 ms in 5 s, as without the pause.
  let now = 0, paused = 0;
  const model = createModel(TEXT, MODEL);
  const steps: number[] = [];
  for await (
    const e of trainEvents(model, TEXT, {
      ...RUN,
      valEvery: 0,
      timeBudget: 5,
      clock: () => now - paused,
    })
  ) {
    if (e.type !== "step") continue;
    steps.push(e.step);
    now += 100;
    if (e.step === 10) {
      now += 10_000;
      paused += 10_000;
    }
  }
  assert.equal(steps.length, 49);
  assert.equal(model.trainState!.trainTime, 4.9);
  await assert.rejects(
    () => train(createModel(TEXT, MODEL), TEXT, { ...RUN, clock: 5 as unknown as () => number }),
    /Invalid option: clock must be a function that returns milliseconds, got number/,
  );
});

Deno.test("patience: the run stops at its best validation and ends with that step's state", async () => {
  // The same characters in another order: the val loss falls while the model learns which
  // characters are common, then rises as it learns this text's order.
  const valText = [...TEXT.slice(0, 400)].reverse().join("");
  const run = { steps: 600, valText, lr: 0.02 };
  const stopped = await collect({ ...run, patience: 2 });
  const vals = ofType(stopped.events, "validation");
  const bestAt = vals.reduce((b, v) => (v.valLoss < b.valLoss ? v : b));
  // Two validations without a better one after the best, then the end.
  assert.deepEqual(vals.slice(-3).map((v) => v.step), [
    bestAt.step,
    bestAt.step + 10,
    bestAt.step + 20,
  ]);
  assert.ok(vals.at(-1)!.step < 600, "it stopped early");
  const note = ofType(stopped.events, "note").at(-1)!;
  assert.match(note.message, new RegExp(`^stopped at the best validation: step ${bestAt.step}'s`));
  const done = ofType(stopped.events, "done")[0];
  assert.equal(done.step, bestAt.step);
  assert.equal(done.valLoss, bestAt.valLoss);
  // The state it ends with is, bit for bit, that of a run that stopped at the best step.
  const plain = await collect({ ...run, steps: bestAt.step });
  assert.deepEqual(stopped.model.params, plain.model.params);
  const [a, b] = [plain.model.trainState!, stopped.model.trainState!];
  for (const k of ["adamM", "adamV", "h", "c"] as const) assert.deepEqual(b[k], a[k], k);
  assert.deepEqual([b.step, b.epoch, b.batchInEpoch], [a.step, a.epoch, a.batchInEpoch]);
  // Without patience the same run goes on to its last step.
  const on = await collect({ ...run, steps: bestAt.step + 40 });
  assert.equal(ofType(on.events, "done")[0].step, bestAt.step + 40);
  await assert.rejects(
    () => collect({ steps: 5, patience: -1 }),
    /patience must be an integer ≥ 0/,
  );
});
