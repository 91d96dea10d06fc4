// The training loop's plan (src/train/_plan.ts): which steps owe the host an event or a snapshot,
// in which order, what the last step adds, and what a step that turns out to be the last under
// a time budget still owes. The loop syncs the engine at these steps and, on WebGPU, never
// runs ahead past one of them (tests/train_sync_test.ts checks that through the API).

import assert from "node:assert/strict";
import { type PlanOptions, StepPlan } from "../src/train/_plan.ts";

// 10 batches per epoch; cosine cycles of 1, 2, 4 epochs end after steps 10, 30 and 70.
const RUN: PlanOptions = {
  batchesPerEpoch: 10,
  totalSteps: 25,
  valEvery: 4,
  valBatches: 3,
  sampleEvery: 6,
  snapshotEvery: 5,
  schedule: { lrSchedule: "cosine", cycleLen: 1, cycleMult: 2 },
  timed: false,
};

// The batch a step ends at in a run from step 0: its epoch's last is batchesPerEpoch.
const batchEnd = (step: number, perEpoch = 10) => (step - 1) % perEpoch + 1;

Deno.test("plan: the steps a run by steps needs the host at, and what for", () => {
  const plan = new StepPlan(RUN);
  const needs = [];
  for (let step = 1; step <= 25; step++) {
    if (plan.needsHost(step, batchEnd(step))) needs.push(step);
  }
  // Validations 4, 8, …; samples 6, 12, …; snapshots 5, 10, …; epochs 10, 20; the cycle at 10;
  // the last step, 25.
  assert.deepEqual(needs, [4, 5, 6, 8, 10, 12, 15, 16, 18, 20, 24, 25]);
  assert.deepEqual(plan.after(7, 7, false), { events: [], snapshot: false, needsHost: false });
  assert.deepEqual(plan.after(10, 10, false), {
    events: [{ type: "epoch" }, { type: "cycle", cycle: 1 }],
    snapshot: true,
    needsHost: true,
  });
  assert.deepEqual(plan.after(24, 4, false).events, [{ type: "validation" }, { type: "sample" }]);
  // The last step validates whatever its number.
  assert.deepEqual(plan.after(25, 5, true), {
    events: [{ type: "validation" }],
    snapshot: true,
    needsHost: true,
  });
  assert.deepEqual(plan.after(23, 3, true).events, [{ type: "validation" }]);
  assert.deepEqual(plan.after(23, 3, false).events, []);
});

Deno.test("plan: a step's events come in one order: epoch, cycle, validation, sample", () => {
  const plan = new StepPlan({ ...RUN, totalSteps: 100, valEvery: 5, sampleEvery: 10 });
  assert.deepEqual(plan.after(30, 10, false).events, [
    { type: "epoch" },
    { type: "cycle", cycle: 2 },
    { type: "validation" },
    { type: "sample" },
  ]);
  assert.deepEqual(plan.after(70, 10, false).events.map((e) => e.type === "cycle" && e.cycle), [
    false,
    3,
    false,
    false,
  ]);
  // The end of an epoch is where the batch says (a resumed run, line mode), not the step.
  assert.deepEqual(plan.after(31, 10, false).events, [{ type: "epoch" }]);
  assert.equal(plan.needsHost(33, 3), false);
  assert.equal(plan.needsHost(33, 10), true);
});

Deno.test("plan: without validation, samples or cosine the host is needed less", () => {
  const plan = new StepPlan({
    ...RUN,
    valBatches: 0,
    sampleEvery: 0,
    snapshotEvery: 100,
    schedule: { lrSchedule: "step" },
  });
  const needs = [];
  for (let step = 1; step <= 25; step++) {
    if (plan.needsHost(step, batchEnd(step))) needs.push(step);
  }
  assert.deepEqual(needs, [10, 20, 25]);
  assert.deepEqual(plan.after(25, 5, true).events, []);
  // valEvery 0: never, not even after the last step.
  const never = new StepPlan({ ...RUN, valEvery: 0 });
  assert.deepEqual(never.after(25, 5, true).events, []);
});

Deno.test("plan: by the clock, the one cosine cycle ends at the last step, known or late", () => {
  const timed = { ...RUN, totalSteps: Infinity, timed: true };
  const plan = new StepPlan(timed);
  // No step is the last by its number: only validations, samples, snapshots and epochs count.
  assert.equal(plan.needsHost(10, 10), true);
  assert.equal(plan.needsHost(30, 10), true);
  assert.equal(plan.needsHost(7, 7), false);
  assert.equal(plan.needsHost(1000001, 1), false);
  assert.deepEqual(plan.after(50, 10, false).events, [{ type: "epoch" }]);
  // A last step known when it went in: the cycle, then the final validation.
  assert.deepEqual(plan.after(23, 3, true).events, [
    { type: "cycle", cycle: 1 },
    { type: "validation" },
  ]);
  // One found to be the last after its events owes what they lacked: the final validation
  // (unless it validated anyway), then the cycle.
  assert.deepEqual(plan.owedAtEnd(23), [{ type: "validation" }, { type: "cycle", cycle: 1 }]);
  assert.deepEqual(plan.owedAtEnd(24), [{ type: "cycle", cycle: 1 }]);
  // Without cosine or validation it owes nothing more.
  const flat = new StepPlan({ ...timed, valBatches: 0, schedule: {} });
  assert.deepEqual(flat.owedAtEnd(23), []);
  assert.deepEqual(flat.after(23, 3, true).events, []);
  // By steps, a cycle ends by its number, last or not: a late last step owes only validation.
  assert.deepEqual(new StepPlan(RUN).owedAtEnd(10), [{ type: "validation" }]);
});
