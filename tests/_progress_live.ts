// The live bar fed a few events, as on a terminal: the progress test runs this file as a child
// process and reads what it wrote to stderr.
import { Progress } from "../src/cli/_progress.ts";

const progress = new Progress({ live: true, every: 10, log: null, valEvery: 0 });
const step = (n: number) => ({
  type: "step" as const,
  step: n,
  totalSteps: 4,
  epoch: 0,
  loss: 2,
  gradNorm: 1,
  lr: 0.01,
  charsPerSec: 1000,
  elapsedMs: n * 10,
  trainTime: n / 100,
});
progress.event({
  type: "start",
  backend: "wasm",
  step: 0,
  totalSteps: 4,
  batchesPerEpoch: 4,
  trainChars: 100,
  valChars: 0,
  trainTime: 0,
  timeBudget: null,
});
progress.event(step(1));
progress.event(step(2));
progress.event({ type: "sample", step: 2, epoch: 0, seed: 1, text: "the cat\nsat" });
progress.event(step(3));
progress.event({ type: "done", step: 3, epoch: 0, aborted: false, diverged: false, valLoss: null });
