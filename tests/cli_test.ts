// The two CLIs as a user runs them, in subprocesses: a short training run with checkpoints,
// log and sample; resume; sampling from the checkpoint; Ctrl-C; every bad input gets a
// one-line error, exit code 2, and nothing written.

import { corpus } from "./_helpers.ts";
import assert from "node:assert/strict";
import { load } from "../mod.ts";
import { RECIPE_RULE } from "../src/train/recipe.ts";

const root = new URL("../", import.meta.url);

async function run(script: string, args: string[], signalAfter?: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  const readErr = (async () => {
    for await (const chunk of child.stderr) {
      stderr += decoder.decode(chunk);
      if (signalAfter?.test(stderr)) {
        signalAfter = undefined;
        child.kill("SIGINT");
      }
    }
  })();
  const stdout = decoder.decode(
    (await new Response(child.stdout).arrayBuffer()) as ArrayBuffer,
  );
  await readErr;
  const { code } = await child.status;
  return { code, stdout, stderr };
}

const dir = await Deno.makeTempDir({ prefix: "charlstm-cli-" });
const data = `${dir}/corpus.txt`;
await Deno.writeTextFile(data, corpus(12000));
const small = ["--data", data, "--hidden", "16", "--layers", "1", "--batch", "4", "--seq", "16"];

Deno.test("train.ts: trains, checkpoints, logs, samples; sample.ts streams from it", async () => {
  const out = `${dir}/run1`;
  const log = `${dir}/run1.jsonl`;
  const r = await run("train.ts", [
    ...small,
    "--cell",
    "lstm", // tfjs holds LSTMs (not PyTorch's GRU)
    "--steps",
    "40",
    "--val-every",
    "20",
    "--checkpoint-every",
    "25",
    "--out",
    out,
    "--log",
    log,
    "--print-every",
    "10",
    "--sample-length",
    "30",
    "--prime",
    "alpha",
    "--export-tfjs",
    `${out}/tfjs`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    [...Deno.readDirSync(`${out}/tfjs`)].map((e) => e.name).sort(),
    ["model.json", "weights.bin"],
  );
  // The recipe fills in what the flags leave open, and says so.
  assert.match(
    r.stderr,
    /recipe for 40 steps on 11k characters: LSTM 1×16, dropout 0; batch 4 × 16, lr 0\.005 \(warm-up 2 steps, cosine to 0\.0005\)/,
  );
  // The last step of one cosine cycle over the 40 steps: the floor, lr × 0.1.
  assert.match(r.stderr, /step 40\/40 loss \d\.\d+ val \d\.\d+ lr 0\.0005\d* \d+ chars\/s/);
  // Once, after the first 20 steps (or 5 seconds): the duration expected at that pace.
  assert.equal(
    r.stderr.match(/expected duration: ~\dm\d\ds \(40 steps at \d+ chars\/s\)/g)?.length,
    1,
  );
  assert.match(r.stdout, /^alpha/);
  assert.equal([...r.stdout.replace(/\n$/, "")].length, 35);
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  assert.deepEqual(names, ["best.safetensors", "last.safetensors", "loss.svg", "tfjs"]);
  const last = await load(`${out}/last.safetensors`);
  assert.equal(last.trainState!.step, 40);
  const events = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.filter((e) => e.type === "step").length, 40);
  assert.equal(events.filter((e) => e.type === "validation").length, 2);

  const resumed = await run("train.ts", [
    ...small,
    "--steps",
    "50",
    "--out",
    out,
    "--resume",
    `${out}/last.safetensors`,
    "--sample-length",
    "0",
  ]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming at step 40/);
  assert.equal((await load(`${out}/last.safetensors`)).trainState!.step, 50);

  const sampleArgs = [`${out}/last.safetensors`, "--prime", "gamma ", "--length", "60"];
  const seeded = [...sampleArgs, "--top-k", "3", "--seed", "2"];
  const s = await run("sample.ts", seeded);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.startsWith("gamma "));
  assert.equal([...s.stdout.replace(/\n$/, "")].length, 66);
  assert.equal((await run("sample.ts", seeded)).stdout, s.stdout);
});

Deno.test("train.ts: a GRU with an embedding, lowercase, min-freq and cycle saves", async () => {
  const out = `${dir}/cells`;
  const r = await run("train.ts", [
    ...small,
    "--cell",
    "gru",
    "--embedding",
    "6",
    "--lowercase",
    "--min-freq",
    "3",
    "--lr-schedule",
    "cosine",
    "--cycle-len",
    "0.05", // 168 batches per epoch: cycles end after steps 9 and 26
    "--cycle-mult",
    "2",
    "--save-cycles",
    "--steps",
    "30",
    "--val-every",
    "0",
    "--out",
    out,
    "--sample-length",
    "20",
    "--prime",
    "ALPHA",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /model: 1×16 gru \(embedding 6\)/);
  const cycles = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.startsWith("cycle"));
  assert.ok(cycles.length >= 2, `cycle files: ${cycles.join(", ")}`);
  assert.match(r.stderr, /cosine cycle 1 ended at step \d+: saved .*cycle-1\.safetensors/);
  const first = await load(`${out}/cycle-1.safetensors`);
  assert.equal(first.config.cell, "gru");
  assert.equal(first.config.embedding, 6);
  assert.ok(first.vocab.lowercase);
  assert.ok(first.trainState!.step < 30);
  assert.match(r.stdout, /^ALPHA/);
});

Deno.test("train.ts --time, --sample-every, --val-data: the run a person watches; --plot", async () => {
  const out = `${dir}/watched`;
  const log = `${dir}/watched.jsonl`;
  const val = `${dir}/val.txt`;
  await Deno.writeTextFile(val, corpus(3000));
  const r = await run("train.ts", [
    ...small,
    "--time",
    "2s",
    "--lr-schedule",
    "cosine",
    "--sample-every",
    "10",
    "--sample-length",
    "20",
    "--prime",
    "alpha",
    "--val-data",
    val,
    "--val-every",
    "15",
    // The run's clock, not its best validation, ends it (patience has its own tests).
    "--patience",
    "0",
    "--out",
    out,
    "--log",
    log,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /training on 12000 characters, validating on 3000; .* for 0m02s/);
  assert.match(
    r.stderr,
    /expected duration: 0m02s \(the time budget; about \d+ steps at \d+ chars\/s\)/,
  );
  assert.match(r.stderr, /sample at step 10:\nalpha.{20}\n/s);
  assert.match(r.stdout, /^alpha/);
  const events = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
  const steps = events.filter((e) => e.type === "step");
  const samples = events.filter((e) => e.type === "sample");
  assert.equal(samples.length, Math.floor(steps.length / 10));
  assert.ok(samples.every((e) => e.text.startsWith("alpha") && [...e.text].length === 25));
  const lastStep = steps.at(-1);
  assert.ok(lastStep.trainTime <= 2.3, `trained ${lastStep.trainTime} s`);
  // The cosine follows the budget: most of the way down to its floor, a tenth of the recipe's
  // lr, by the last step (which leaves the final validation and a step's margin in the budget).
  assert.ok(lastStep.lr < RECIPE_RULE.lr * (0.1 + 0.9 * 0.25), `last lr ${lastStep.lr}`);
  assert.equal(events.filter((e) => e.type === "cycle").length, 1);
  const model = await load(`${out}/last.safetensors`);
  assert.equal(model.trainState!.timeBudget, 2);
  assert.ok(model.trainState!.trainTime! > 1 && model.trainState!.trainTime! < 3);
  // loss.svg: a point per step and per validation.
  const svg = await Deno.readTextFile(`${out}/loss.svg`);
  const count = (id: string) => {
    const d = new RegExp(`<path id="${id}" d="([^"]*)"`).exec(svg)![1];
    return d.split(" ").filter((c) => c !== "").length;
  };
  assert.equal(count("train-loss"), steps.length);
  assert.equal(count("lr"), steps.length);
  assert.equal(count("val-loss"), events.filter((e) => e.type === "validation").length);
  assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name).sort(), [
    "best.safetensors",
    "last.safetensors",
    "loss.svg",
  ]);

  // --plot: the same picture from the log, beside it or in --out.
  const p = await run("train.ts", ["--plot", log]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout, `${dir}/loss.svg\n`);
  assert.equal(await Deno.readTextFile(`${dir}/loss.svg`), svg);
  const q = await run("train.ts", ["--plot", log, "--out", `${dir}/plots`]);
  assert.equal(q.stdout, `${dir}/plots/loss.svg\n`);

  // --resume with a longer budget trains what is left of it.
  const resumed = await run("train.ts", [
    ...small,
    "--resume",
    `${out}/last.safetensors`,
    "--time",
    "3s",
    "--patience",
    "0",
    "--out",
    out,
    "--log",
    log,
    "--sample-length",
    "0",
  ]);
  assert.equal(resumed.code, 0, resumed.stderr);
  // Its picture draws on from the first run's steps, which its log holds.
  const all = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
  const svgAfter = await Deno.readTextFile(`${out}/loss.svg`);
  const trainPoints = /<path id="train-loss" d="([^"]*)"/.exec(svgAfter)![1].split(" ").length;
  // One point a step of the timeline: steps 1 to the last. (A run that went back to its best
  // validation, patience, leaves steps in the log past the one the next run continues from; the
  // picture draws over them, so the log can hold more step events than the picture has points.)
  const stepEvents = all.filter((e) => e.type === "step");
  assert.equal(trainPoints, stepEvents.at(-1).step);
  assert.ok(trainPoints <= stepEvents.length);
  assert.ok(trainPoints > steps.length);
  assert.match(resumed.stderr, /for 0m03s \(0m0\ds of it done\) \(resuming at step \d+\)/);
  const after = (await load(`${out}/last.safetensors`)).trainState!;
  assert.ok(after.step > model.trainState!.step);
  assert.ok(after.trainTime! > 2.5 && after.trainTime! < 3.8, `trained ${after.trainTime} s`);
  assert.equal(after.timeBudget, 3);
});

Deno.test("train.ts --lines: one example per line, samples whole lines", async () => {
  const names = `${dir}/names.txt`;
  const syllables = ["sau", "rus", "tyr", "an", "no", "dac"];
  const list = Array.from(
    { length: 300 },
    (_, i) => syllables[i % 6] + syllables[(i * 5 + 1) % 6] + syllables[(i * 7 + 2) % 6],
  );
  await Deno.writeTextFile(names, list.join("\n") + "\n");
  const r = await run("train.ts", [
    "--data",
    names,
    "--lines",
    "--hidden",
    "16",
    "--layers",
    "1",
    "--batch",
    "8",
    "--steps",
    "30",
    "--sample-length",
    "20",
    "--out",
    `${dir}/lines`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /line mode/);
  assert.match(r.stderr, /batch 8 × seq 10/);
  const printed = r.stdout.split("\n");
  assert.equal(printed.length, 6); // five lines and the final newline
  assert.ok(printed.slice(0, 5).every((l) => [...l].length <= 20));
});

Deno.test("train.ts: Ctrl-C saves last.safetensors and exits 130", async () => {
  const out = `${dir}/interrupted`;
  const r = await run(
    "train.ts",
    [...small, "--steps", "100000", "--out", out, "--print-every", "5"],
    /step 5\//,
  );
  assert.equal(r.code, 130, r.stderr);
  const model = await load(`${out}/last.safetensors`);
  assert.ok(model.trainState!.step >= 5 && model.trainState!.step < 100000);
});

Deno.test("train.ts and sample.ts: bad inputs give one clear line and exit 2", async () => {
  const empty = `${dir}/empty.txt`;
  await Deno.writeTextFile(empty, "");
  const short = `${dir}/short.txt`;
  await Deno.writeTextFile(short, "abc def\n");
  const badUtf8 = `${dir}/bad.txt`;
  await Deno.writeFile(badUtf8, new Uint8Array([0x61, 0x62, 0x0a, 0x63, 0xc3, 0x28]));
  const readOnly = `${dir}/readonly`;
  await Deno.mkdir(readOnly);
  await Deno.writeTextFile(`${readOnly}/file`, "x");
  const omega = `${dir}/omega.txt`;
  await Deno.writeTextFile(omega, corpus(2000) + "Ω");
  const truncated = `${dir}/truncated.safetensors`;
  const good = await Deno.readFile(`${dir}/run1/last.safetensors`);
  await Deno.writeFile(truncated, good.subarray(0, good.length - 100));

  const cases: [string, string[], RegExp][] = [
    ["train.ts", ["--data", `${dir}/nope.txt`], /Cannot read .*nope\.txt: no such file/],
    ["train.ts", ["--data", empty], /Cannot read .*empty\.txt: the file has no characters/],
    ["train.ts", ["--data", short, "--batch", "4", "--seq", "16"], /needs 64/],
    ["train.ts", ["--data", badUtf8], /Invalid UTF-8 .* offset 4 \(line 2, column 2\)/],
    ["train.ts", ["--bogus"], /Unknown option '--bogus'/],
    ["train.ts", ["--hidden", "abc"], /Invalid --hidden: "abc" is not an integer/],
    ["train.ts", ["--dropout", "1.5"], /Invalid config: dropout must be in \[0, 1\), got 1.5/],
    ["train.ts", ["--hidden", "0"], /Invalid config: hidden must be a positive integer, got 0/],
    ["train.ts", ["--lr", "abc"], /Invalid --lr: "abc" is not a number/],
    ["train.ts", ["--backend", "gpu"], /Invalid option: backend must be auto, wasm, webgpu/],
    ["train.ts", ["--preset", "huge"], /Invalid --preset: "huge"/],
    ["train.ts", ["--preset", "toString"], /Invalid --preset: "toString"/],
    [
      "train.ts",
      ["--optimizer", "rmsprop"],
      /Invalid option: optimizer must be adam or sgd, got "rmsprop"/,
    ],
    [
      "train.ts",
      ["--cycle-len", "0", "--epochs", "1"],
      /Invalid option: cycleLen must be a positive number/,
    ],
    ["train.ts", ["--cycle-len", "2"], /Invalid --cycle-len: cosine cycles are counted in epochs/],
    [
      "train.ts",
      [...small, "--prime", "Ω"],
      /Cannot sample: the prime has characters the model does not know: "Ω"/,
    ],
    [
      "train.ts",
      [...small, "--cell", "lstm", "--export-tfjs", `${readOnly}/file/x`],
      /Invalid --export-tfjs/,
    ],
    ["train.ts", [...small, "--export-tfjs", `${dir}/x`], /Cannot export a gru to TensorFlow\.js/],
    ["train.ts", [...small, "--out", `${readOnly}/file/sub`], /Invalid --out: cannot write/],
    ["train.ts", [...small, "--resume", truncated], /Invalid checkpoint/],
    [
      "train.ts",
      ["--cell", "lstmx"],
      /Invalid config: cell must be one of lstm, gru, rnn, got "lstmx"/,
    ],
    ["train.ts", ["--init", "identity"], /Invalid option: init identity needs cell rnn/],
    ["train.ts", ["--init", "ones"], /Invalid option: init must be default or identity/],
    ["train.ts", ["--embedding", "2.5"], /Invalid --embedding: "2.5" is not an integer/],
    ["train.ts", ["--min-freq", "0"], /Invalid option: minFreq must be a positive integer/],
    [
      "train.ts",
      ["--save-cycles", "--lr-schedule", "constant"],
      /Invalid --save-cycles: cycles exist only with --lr-schedule cosine/,
    ],
    [
      "train.ts",
      ["--save-cycles", "--preset", "tiny"],
      /Invalid --save-cycles: cycles exist only with --lr-schedule cosine/,
    ],
    [
      "train.ts",
      [...small, "--cell", "gru", "--export-tfjs", `${dir}/unused-tfjs`],
      /Cannot export a gru to TensorFlow.js/,
    ],
    [
      "train.ts",
      [...small, "--resume", `${dir}/run1/last.safetensors`, "--cell", "gru"],
      /Invalid --cell with --resume: the checkpoint has cell "lstm", not "gru"/,
    ],
    [
      "train.ts",
      [...small, "--resume", `${dir}/run1/last.safetensors`, "--min-freq", "2"],
      /Invalid --min-freq with --resume/,
    ],
    [
      "train.ts",
      ["--data", omega, "--resume", `${dir}/run1/last.safetensors`],
      /Cannot encode the text: "Ω" is not in the model's vocabulary/,
    ],
    ["train.ts", ["--time", "10"], /Invalid --time: "10" is not a duration: write it like 90s/],
    ["train.ts", ["--time=-5m"], /Invalid --time: "-5m" is not a duration/],
    ["train.ts", ["--time", "0m"], /Invalid --time: "0m" is zero/],
    ["train.ts", ["--time", "5m", "--steps", "10"], /Invalid --time with --steps/],
    [
      "train.ts",
      [...small, "--val-data", `${dir}/nope-val.txt`],
      /Invalid --val-data: cannot read .*nope-val\.txt: no such file/,
    ],
    [
      "train.ts",
      [...small, "--val-data", empty],
      /Invalid --val-data: cannot read .*empty\.txt: the file has no characters/,
    ],
    [
      "train.ts",
      [...small, "--val-data", omega],
      /Cannot validate: the validation text has characters the training text does not: "Ω"/,
    ],
    ["train.ts", ["--val", "0.2", "--val-data", data], /Invalid --val with --val-data/],
    [
      "train.ts",
      [...small, "--sample-every", "10", "--sample-length", "0"],
      /Invalid --sample-every: --sample-length is 0/,
    ],
    [
      "train.ts",
      [...small, "--sample-every=-5"],
      /Invalid option: sampleEvery must be an integer ≥ 0, got -5/,
    ],
    [
      "train.ts",
      [...small, "--sample-every", "10", "--prime", "Ω"],
      /Cannot sample: the prime has characters the model does not know: "Ω"/,
    ],
    ["train.ts", ["--plot", `${dir}/nope.jsonl`], /Invalid --plot: cannot read .*: no such file/],
    ["train.ts", ["--plot", data], /Invalid --plot: .*corpus\.txt line 1 is not a training event/],
    ["sample.ts", [], /Invalid command line: no checkpoint given/],
    ["sample.ts", [truncated], /Invalid checkpoint/],
    ["sample.ts", [`${dir}/run1/last.safetensors`, "--prime", "XYZ"], /"X", "Y", "Z"/],
    [
      "sample.ts",
      [`${dir}/run1/last.safetensors`, "--temperature", "0"],
      /Invalid option: temperature must be > 0, got 0/,
    ],
  ];
  for (const [script, given, pattern] of cases) {
    const args = script === "train.ts" && !given.includes("--out")
      ? [...given, "--out", `${dir}/unused`]
      : given;
    const r = await run(script, args);
    const what = `${script} ${args.join(" ")}`;
    assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("usage:"));
    assert.equal(lines.length, 1, `${what}: expected one error line, got:\n${r.stderr}`);
    assert.match(lines[0], pattern, what);
    assert.equal(r.stdout, "", `${what}: printed to stdout`);
  }
  assert.deepEqual([...Deno.readDirSync(readOnly)].map((e) => e.name), ["file"]);
  // No bad input got as far as writing anything: not even the --out folder exists.
  assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name.startsWith("unused")));
});

Deno.test("sample.ts piped into a reader that stops early exits quietly", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sample.ts", `${dir}/run1/last.safetensors`, "--length", "100000"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  await reader.cancel();
  const { code } = await child.status;
  const stderr = new TextDecoder().decode(
    (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
  );
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
});
