// Training that survives faults: kill -9 at random moments never leaves a broken checkpoint,
// resuming gives bitwise the uninterrupted run, a non-finite step is never applied (restore with
// the lr halved, or stop), SIGTERM saves and exits 143, and hostile checkpoint bytes only ever
// load or raise CheckpointError, never allocating more than the file implies.

import assert from "node:assert/strict";
import {
  CheckpointError,
  createModel,
  fromBytes,
  load,
  toBytes,
  train,
  type TrainEvent,
  trainEvents,
} from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { rng } from "./_helpers.ts";

const TEXT = "the quick brown fox jumps over the lazy dog.\n".repeat(120);
const SMALL = { cell: "lstm" as const, hidden: 16, layers: 2, dropout: 0.1, seed: 5 };
const RUN = { batch: 4, seq: 16, lr: 0.01, valEvery: 0, threads: 1 };

Deno.test("resume: N steps, save, load, N more = 2N straight, loss by loss", async () => {
  const losses = (into: number[]) => (e: TrainEvent) => {
    if (e.type === "step") into.push(e.loss);
  };
  const straightLosses: number[] = [];
  const straight = createModel(TEXT, SMALL);
  await train(straight, TEXT, { ...RUN, steps: 24, onEvent: losses(straightLosses) });

  const resumedLosses: number[] = [];
  const first = createModel(TEXT, SMALL);
  await train(first, TEXT, { ...RUN, steps: 12, onEvent: losses(resumedLosses) });
  const resumed = fromBytes(toBytes(first));
  await train(resumed, TEXT, { ...RUN, steps: 24, onEvent: losses(resumedLosses) });
  assert.deepEqual(resumedLosses, straightLosses);
  assert.deepEqual(resumed.params, straight.params);
  assert.deepEqual(resumed.trainState!.adamM, straight.trainState!.adamM);
  assert.deepEqual(resumed.trainState!.c, straight.trainState!.c);
  assert.equal(resumed.trainState!.batchInEpoch, straight.trainState!.batchInEpoch);
});

Deno.test("divergence: the bad step is not applied; restore halves the lr, stop stops", async () => {
  for (const onDivergence of ["restore", "stop"] as const) {
    const model = createModel(TEXT, SMALL);
    const events: TrainEvent[] = [];
    const result = await train(model, TEXT, {
      ...RUN,
      steps: 30,
      snapshotEvery: 10,
      onDivergence,
      onEvent: (e) => {
        events.push(e);
        // Corrupt the weights after step 14 (the params are the core's live view).
        if (e.type === "step" && e.step === 14 && !events.some((x) => x.type === "diverged")) {
          model.params[3] = NaN;
        }
      },
    });
    const diverged = events.filter((e) => e.type === "diverged");
    assert.equal(diverged.length, 1);
    const d = diverged[0] as Extract<TrainEvent, { type: "diverged" }>;
    assert.equal(d.step, 15);
    assert.ok(Number.isNaN(d.loss));
    assert.ok(model.params.every(Number.isFinite), "non-finite weights survived");
    if (onDivergence === "restore") {
      assert.deepEqual([d.action, d.restoredStep, d.lrScale], ["restored", 10, 0.5]);
      assert.equal(result.steps, 30);
      assert.equal(model.trainState!.lrScale, 0.5);
      assert.equal(fromBytes(toBytes(model)).trainState!.lrScale, 0.5);
    } else {
      assert.deepEqual([d.action, d.restoredStep, result.steps], ["stopped", 10, 10]);
      const done = events.at(-1) as Extract<TrainEvent, { type: "done" }>;
      assert.equal(done.diverged, true);
      // The weights still hold the NaN written by the test: nothing may save them.
      model.params[3] = NaN;
      assert.throws(
        () => toBytes(model),
        (e) => e instanceof CheckpointError && /Cannot save: lstm.weight_ih_l0/.test(e.message),
      );
    }
  }
});

const root = new URL("../", import.meta.url);

/** train.ts on `dir`/corpus.txt (batch 4 × seq 16, endless steps) plus `extra` flags. */
function spawnTrain(dir: string, extra: string[], stderr: "null" | "piped") {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "train.ts",
      "--data",
      `${dir}/corpus.txt`,
      "--batch",
      "4",
      "--seq",
      "16",
      "--steps",
      "100000",
      ...extra,
    ],
    cwd: root,
    stdout: "null",
    stderr,
  }).spawn();
}

Deno.test("kill -9 at random moments never leaves a checkpoint that does not load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "charlstm-kill-" });
  await Deno.writeTextFile(`${dir}/corpus.txt`, TEXT.repeat(4));
  const next = rng(2024);
  const KILLS = 12;
  let loaded = 0;
  for (let k = 0; k < KILLS; k++) {
    const child = spawnTrain(dir, [
      "--hidden",
      "32",
      "--checkpoint-every",
      "1",
      "--val-every",
      "5",
      "--threads",
      "1",
      "--out",
      `${dir}/out`,
      ...(k > 0 ? ["--resume", `${dir}/out/last.safetensors`] : []),
    ], "null");
    // Up to 0.9 s: from start-up (nothing written yet) to mid-write of a checkpoint.
    await new Promise((r) => setTimeout(r, 150 + next() * 750));
    child.kill("SIGKILL");
    await child.status;
    for (const entry of Deno.readDirSync(`${dir}/out`)) {
      if (!entry.name.endsWith(".safetensors")) continue;
      const model = await load(`${dir}/out/${entry.name}`);
      assert.ok(model.params.every(Number.isFinite));
      loaded++;
    }
  }
  // Each start removes what interrupted saves left; at most the last kill's remains.
  const temporaries = [...Deno.readDirSync(`${dir}/out`)].filter((e) => e.name.endsWith(".tmp"));
  assert.ok(temporaries.length <= 2, `${temporaries.length} temporary files left`);
  const last = await load(`${dir}/out/last.safetensors`);
  assert.ok(last.trainState!.step > 0);
  assert.ok(loaded >= KILLS, `only ${loaded} checkpoints loaded after ${KILLS} kills`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SIGTERM finishes the step, saves last.safetensors and exits 143", async () => {
  const dir = await Deno.makeTempDir({ prefix: "charlstm-term-" });
  await Deno.writeTextFile(`${dir}/corpus.txt`, TEXT.repeat(4));
  const child = spawnTrain(dir, ["--hidden", "16", "--print-every", "1", "--out", dir], "piped");
  let stderr = "", sent = false;
  for await (const chunk of child.stderr) {
    stderr += new TextDecoder().decode(chunk);
    if (!sent && /step 3\//.test(stderr)) {
      child.kill("SIGTERM");
      sent = true;
    }
  }
  const { code } = await child.status;
  assert.equal(code, 143);
  assert.ok((await load(`${dir}/last.safetensors`)).trainState!.step >= 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fuzz: mutated and truncated checkpoints load or throw CheckpointError", () => {
  const model = createModel("abcdefgh\n", { hidden: 8, layers: 2, seed: 1 });
  model.trainState = {
    step: 3,
    epoch: 0,
    batchInEpoch: 3,
    batch: 2,
    seq: 4,
    bestValLoss: 2.5,
    lrScale: 1,
    adamM: new Float32Array(model.params.length).fill(0.1),
    adamV: new Float32Array(model.params.length).fill(0.01),
    h: new Float32Array(2 * 2 * 8),
    c: new Float32Array(2 * 2 * 8),
  };
  const good = toBytes(model);
  const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
  const next = rng(99);
  const counts = { cases: 0, loaded: 0, rejected: 0 };
  const attempt = (bytes: Uint8Array) => {
    counts.cases++;
    try {
      const m = fromBytes(bytes);
      assert.ok(m.params.length * 4 <= bytes.length, "allocated more than the file holds");
      counts.loaded++;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      assert.ok(!e.message.includes("\n"), `multi-line message: ${e.message}`);
      counts.rejected++;
    }
  };
  for (let i = 0; i < 1500; i++) {
    const bytes = good.slice();
    const flips = 1 + Math.floor(next() * 4);
    // Mostly in the header, where a flip changes meaning rather than a weight's value.
    for (let f = 0; f < flips; f++) {
      const inHeader = next() < 0.8;
      const at = inHeader
        ? 8 + Math.floor(next() * headerLength)
        : Math.floor(next() * bytes.length);
      bytes[at] = Math.floor(next() * 256);
    }
    attempt(bytes);
  }
  for (let i = 0; i < 500; i++) attempt(good.subarray(0, Math.floor(next() * good.length)));
  // Header edits that keep it valid JSON: numbers in the config and the shapes.
  const header = new TextDecoder().decode(good.subarray(8, 8 + headerLength));
  for (let i = 0; i < 500; i++) {
    const edited = header.replace(
      /\d+/g,
      (d) => (next() < 0.05 ? String(Math.floor(next() * 1e6)) : d),
    );
    const h = new TextEncoder().encode(edited);
    const out = new Uint8Array(8 + h.length + good.length - 8 - headerLength);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    out.set(good.subarray(8 + headerLength), 8 + h.length);
    attempt(out);
  }
  assert.equal(counts.cases, 2500);
  assert.ok(counts.rejected > 1000, JSON.stringify(counts));
  console.log(`checkpoint fuzz: ${JSON.stringify(counts)}`);
});

Deno.test("a checkpoint taken at an epoch boundary resumes (stream and line mode)", async () => {
  for (const lines of [false, true]) {
    const text = lines ? "alpha\nbeta\ngamma\ndelta\n".repeat(20) : TEXT;
    const model = createModel(text, SMALL);
    let perEpoch = 0;
    const saved: Uint8Array[] = [];
    await train(model, text, {
      ...RUN,
      lines,
      epochs: 1,
      onEvent: (e) => {
        if (e.type === "start") perEpoch = e.batchesPerEpoch;
        if (e.type === "step" && e.step === perEpoch) saved.push(toBytes(model));
      },
    });
    const resumed = fromBytes(saved[0]);
    assert.deepEqual([resumed.trainState!.epoch, resumed.trainState!.batchInEpoch], [1, 0]);
    const events: TrainEvent[] = [];
    const result = await train(resumed, text, {
      ...RUN,
      lines,
      steps: perEpoch + 3,
      onEvent: (e) => void events.push(e),
    });
    assert.equal(result.steps, perEpoch + 3);
    assert.ok(!events.some((e) => e.type === "diverged"));
  }
});

Deno.test("a consumer that stops at the first event leaves no threads or shared views", async () => {
  const model = createModel(TEXT, SMALL);
  for await (const _ of trainEvents(model, TEXT, { ...RUN, threads: 2, steps: 5 })) break;
  assert.ok(!(model.params.buffer instanceof SharedArrayBuffer));
});

Deno.test("a disposed core throws instead of waiting; weightsChanged repacks", () => {
  const config = { vocabSize: 5, hidden: 8, layers: 1, batch: 1, seq: 1, dropout: 0 };
  const net = WasmEngine.create(config);
  net.params.fill(0.1);
  net.sampleStep(1);
  const before = net.logits.slice();
  net.params.fill(0);
  net.weightsChanged();
  net.sampleStep(1);
  assert.ok(net.logits.every((v) => v === 0));
  assert.ok(before.some((v) => v !== 0));
  net.dispose();
  assert.throws(() => net.sampleStep(1), /Core disposed/);
});
