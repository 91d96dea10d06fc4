// `deno run -A train.ts`: train a model on a text file (the bundled Anna Karenina by default),
// show progress, write checkpoints, print a sample.

import { readText, TextError } from "../data/text.ts";
import { VocabError } from "../data/vocab.ts";
import { CheckpointError, isSaveTemporary, load, save } from "../io/checkpoint.ts";
import { exportTfjs } from "../io/tfjs.ts";
import { type CharModel, createModel } from "../model/model.ts";
import { CELLS } from "../model/config.ts";
import { sample } from "../sample/sample.ts";
import { type TrainEvent, trainEvents } from "../train/train.ts";
import { type FlagSpec, numberFlag, parseFlags, usage, UsageError } from "./_args.ts";
import { Progress } from "./_progress.ts";
import { defaultThreads } from "../engine/threads.ts";
import { WebGpuUnavailableError } from "../engine/webgpu_core.ts";

/** Named sets of defaults; explicit flags override them. */
export const PRESETS = {
  default: {
    hidden: 128,
    layers: 2,
    batch: 32,
    seq: 100,
    dropout: 0.1,
    lr: 0.002,
    clip: 5,
    epochs: 12,
    "val-every": 200,
  },
  tiny: {
    hidden: 64,
    layers: 2,
    batch: 16,
    seq: 50,
    dropout: 0,
    lr: 0.003,
    clip: 5,
    steps: 300,
    "val-every": 100,
  },
  udacity: {
    hidden: 512,
    layers: 2,
    batch: 128,
    seq: 100,
    dropout: 0.5,
    lr: 0.001,
    clip: 5,
    epochs: 20,
    "val-every": 100,
  },
} as const;

const DEFAULT_DATA = new URL("../../data/anna.txt", import.meta.url);

const FLAGS: Record<string, FlagSpec> = {
  data: { type: "string", help: "UTF-8 text file to train on", default: "data/anna.txt" },
  preset: {
    type: "string",
    help: "default | tiny (one-minute smoke run) | udacity (2×512, 20 epochs)",
    default: "default",
  },
  hidden: { type: "string", help: "hidden units per layer", default: "128" },
  layers: { type: "string", help: "stacked recurrent layers", default: "2" },
  cell: {
    type: "string",
    help: "recurrent cell: lstm | gru | rnn (tanh), PyTorch's equations",
    default: "lstm",
  },
  embedding: {
    type: "string",
    help: "learn an N-wide character embedding (encoder.weight) instead of one-hot input",
    default: "0 (one-hot)",
  },
  init: {
    type: "string",
    help: "default (PyTorch's) | identity (W_hh = I, with --cell rnn)",
    default: "default",
  },
  lowercase: { type: "boolean", help: "lowercase the text (and the vocabulary, and --prime)" },
  "min-freq": {
    type: "string",
    help: "characters seen fewer than N times share one unknown symbol (U+FFFD)",
    default: "1",
  },
  batch: { type: "string", help: "sequences per batch", default: "32" },
  seq: { type: "string", help: "characters per sequence (BPTT length)", default: "100" },
  epochs: { type: "string", help: "passes over the training text", default: "12" },
  steps: { type: "string", help: "stop after N optimizer steps in all (overrides --epochs)" },
  lr: { type: "string", help: "learning rate (the schedule starts from it)", default: "0.002" },
  clip: { type: "string", help: "clip gradients to this global L2 norm (0 = off)", default: "5" },
  dropout: { type: "string", help: "dropout between layers and before the output", default: "0.1" },
  val: { type: "string", help: "fraction of the text held out for validation", default: "0.1" },
  "val-every": { type: "string", help: "validate every N steps (0 = never)", default: "200" },
  out: {
    type: "string",
    help: "folder for last.safetensors and best.safetensors",
    default: "checkpoints",
  },
  "checkpoint-every": {
    type: "string",
    help: "write last.safetensors every N steps",
    default: "100",
  },
  lines: {
    type: "boolean",
    help: "line mode: each line one example from a zero state, shuffled each epoch; " +
      "--seq defaults to the longest line + 1",
  },
  optimizer: { type: "string", help: "adam | sgd", default: "adam" },
  momentum: { type: "string", help: "SGD momentum", default: "0" },
  "clip-mode": {
    type: "string",
    help: "norm (global L2 norm) | value (clamp each to ±clip)",
    default: "norm",
  },
  "lr-schedule": {
    type: "string",
    help: "constant | step | cosine (with warm restarts)",
    default: "constant",
  },
  "lr-step-every": {
    type: "string",
    help: "steps between decays (step schedule)",
    default: "1000",
  },
  "lr-gamma": { type: "string", help: "decay factor (step schedule)", default: "0.5" },
  "cycle-len": { type: "string", help: "first cosine cycle, in epochs", default: "1" },
  "cycle-mult": {
    type: "string",
    help: "each cosine cycle this many times the last",
    default: "1",
  },
  "save-cycles": {
    type: "boolean",
    help: "write cycle-N.safetensors at the end of each cosine cycle",
  },
  "on-divergence": {
    type: "string",
    help: "a non-finite loss or gradient: go back to the last snapshot (taken every " +
      "--checkpoint-every steps) with lr halved, or stop there",
    default: "restore",
  },
  "export-tfjs": {
    type: "string",
    help: "also write a TensorFlow.js LayersModel to DIR at the end",
  },
  resume: { type: "string", help: "continue training from this checkpoint" },
  seed: { type: "string", help: "seed for initialisation, dropout and sampling", default: "0" },
  threads: {
    type: "string",
    help: "threads for the WASM core (results do not depend on it)",
    default: "number of cores",
  },
  backend: {
    type: "string",
    help: "wasm (CPU) | webgpu (GPU; an error when no adapter exists) | auto (WebGPU on a " +
      "hardware GPU for large batches, else WASM); checkpoints resume on either",
    default: "auto",
  },
  log: { type: "string", help: "append every progress event to FILE as JSON lines" },
  "print-every": {
    type: "string",
    help: "progress line interval when not on a terminal",
    default: "10",
  },
  "sample-length": {
    type: "string",
    help: "characters to sample at the end (0 = none)",
    default: "300",
  },
  prime: {
    type: "string",
    help: "text that starts the final sample",
    default: "first word of the text",
  },
  help: { type: "boolean", short: "h", help: "show this help" },
};

function print(text: string) {
  Deno.stdout.writeSync(new TextEncoder().encode(text));
}

async function checkWritable(dir: string, flag = "--out"): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    // Temporary files of saves that a kill -9 interrupted: the checkpoints beside them are whole.
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isFile && isSaveTemporary(entry.name)) await Deno.remove(`${dir}/${entry.name}`);
    }
    const probe = `${dir}/.write-test-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeFile(probe, new Uint8Array(1));
    await Deno.remove(probe);
  } catch (e) {
    throw new UsageError(
      `Invalid ${flag}: cannot write to ${dir}: ${(e as Error).message}: choose a writable folder`,
    );
  }
}

async function* prepend<T>(head: T, rest: AsyncIterable<T>): AsyncGenerator<T> {
  yield head;
  yield* rest;
}

/** Runs the CLI with `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let progress: Progress | null = null;
  try {
    const { values } = parseFlags(argv, FLAGS);
    if (values.help) {
      print(
        usage(
          "deno run -A train.ts [options]",
          FLAGS,
          "Trains a character-level LSTM, GRU or RNN.",
        ) + "\n",
      );
      return 0;
    }
    const presetName = (values.preset as string | undefined) ?? "default";
    if (!Object.hasOwn(PRESETS, presetName)) {
      throw new UsageError(
        `Invalid --preset: ${JSON.stringify(presetName)}: expected ${
          Object.keys(PRESETS).join(", ")
        }`,
      );
    }
    const preset: Record<string, number> = PRESETS[presetName as keyof typeof PRESETS];
    const pick = (name: string, opts: Parameters<typeof numberFlag>[2]) =>
      numberFlag(name, values[name], opts) ?? preset[name];
    const hidden = pick("hidden", { integer: true, min: 1, max: 16384 })!;
    const layers = pick("layers", { integer: true, min: 1, max: 64 })!;
    const batch = pick("batch", { integer: true, min: 1, max: 65536 })!;
    const seq = pick("seq", { integer: true, min: 1, max: 65536 })!;
    const dropout = pick("dropout", { min: 0, max: 0.99 })!;
    const lr = pick("lr", { min: 0, max: 10 })!;
    const clip = pick("clip", { min: 0 })!;
    const stepsFlag = numberFlag("steps", values.steps, { integer: true, min: 1 });
    const epochsFlag = numberFlag("epochs", values.epochs, { integer: true, min: 1 });
    const steps = stepsFlag ?? (epochsFlag !== undefined ? undefined : preset.steps);
    const epochs = epochsFlag ?? preset.epochs ?? 1;
    const valEvery = pick("val-every", { integer: true, min: 0 })!;
    const valFraction = numberFlag("val", values.val, { min: 0, max: 0.99 }) ?? 0.1;
    const checkpointEvery = numberFlag("checkpoint-every", values["checkpoint-every"], {
      integer: true,
      min: 1,
    }) ?? 100;
    const seed = numberFlag("seed", values.seed, { integer: true, min: 0, max: 2 ** 32 - 1 }) ?? 0;
    const printEvery =
      numberFlag("print-every", values["print-every"], { integer: true, min: 1 }) ??
        10;
    const sampleLength = numberFlag("sample-length", values["sample-length"], {
      integer: true,
      min: 0,
    }) ?? 300;
    const threads = numberFlag("threads", values.threads, { integer: true, min: 1, max: 64 });
    const choice = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
      const v = values[name] as string | undefined;
      if (v !== undefined && !allowed.includes(v as T)) {
        throw new UsageError(
          `Invalid --${name}: ${JSON.stringify(v)}: expected ${allowed.join(" or ")}`,
        );
      }
      return v as T | undefined;
    };
    const recipe = {
      optimizer: choice("optimizer", ["adam", "sgd"] as const),
      momentum: numberFlag("momentum", values.momentum, { min: 0, max: 0.999 }),
      clipMode: choice("clip-mode", ["norm", "value"] as const),
      lrSchedule: choice("lr-schedule", ["constant", "step", "cosine"] as const),
      lrStepEvery: numberFlag("lr-step-every", values["lr-step-every"], { integer: true, min: 1 }),
      lrGamma: numberFlag("lr-gamma", values["lr-gamma"], { min: 0, max: 1, exclusiveMin: true }),
      cycleLen: numberFlag("cycle-len", values["cycle-len"], { min: 0, exclusiveMin: true }),
      cycleMult: numberFlag("cycle-mult", values["cycle-mult"], { min: 1 }),
    };
    const backend = choice("backend", ["auto", "wasm", "webgpu"] as const);
    const onDivergence = (values["on-divergence"] as string | undefined) ?? "restore";
    if (onDivergence !== "restore" && onDivergence !== "stop") {
      throw new UsageError(
        `Invalid --on-divergence: ${JSON.stringify(onDivergence)}: expected restore or stop`,
      );
    }
    const cell = choice("cell", CELLS) ?? "lstm";
    const init = choice("init", ["default", "identity"] as const) ?? "default";
    if (init === "identity" && cell !== "rnn") {
      throw new UsageError(
        `Invalid --init: identity needs --cell rnn: the ${cell}'s W_hh is not square`,
      );
    }
    const embedding = numberFlag("embedding", values.embedding, {
      integer: true,
      min: 0,
      max: 16384,
    }) ?? 0;
    const lowercase = Boolean(values.lowercase);
    const minFreq = numberFlag("min-freq", values["min-freq"], { integer: true, min: 1 }) ?? 1;
    const saveCycles = Boolean(values["save-cycles"]);
    if (saveCycles && recipe.lrSchedule !== "cosine") {
      throw new UsageError(
        "Invalid --save-cycles: cycles exist only with --lr-schedule cosine: add it, or drop " +
          "--save-cycles",
      );
    }
    const newModelOnly = ["init", "min-freq"].find((f) => values[f] !== undefined);
    if (values.resume && newModelOnly) {
      throw new UsageError(
        `Invalid --${newModelOnly} with --resume: it shapes a new model, and the checkpoint ` +
          "already has one: drop it",
      );
    }
    const out = (values.out as string | undefined) ?? "checkpoints";

    const dataPath = (values.data as string | undefined) ?? DEFAULT_DATA;
    const text = await readText(dataPath);

    let model: CharModel;
    if (values.resume) {
      model = await load(values.resume as string);
      const saved: Record<string, unknown> = { ...model.config, lowercase: model.vocab.lowercase };
      const given: Record<string, unknown> = { cell, embedding, hidden, layers, lowercase };
      const clash = Object.keys(given).find((k) =>
        values[k] !== undefined && values[k] !== false && given[k] !== saved[k]
      );
      if (clash) {
        throw new UsageError(
          `Invalid --${clash} with --resume: the checkpoint has ${clash} ` +
            `${JSON.stringify(saved[clash])}, not ${JSON.stringify(given[clash])}: drop --${clash}`,
        );
      }
      const unknown = model.vocab.unknownChars(text);
      if (unknown.length > 0) {
        throw new VocabError(
          `Cannot resume on this text: it has characters the checkpoint's vocabulary lacks: ${
            unknown.slice(0, 10).map((c) => JSON.stringify(c)).join(", ")
          }`,
        );
      }
    } else {
      model = createModel(text, {
        cell,
        embedding,
        init,
        lowercase,
        minFreq,
        hidden,
        layers,
        dropout,
        seed,
      });
    }
    const runBatch = model.trainState && numberFlag("batch", values.batch, {}) === undefined
      ? model.trainState.batch
      : batch;
    const lines = Boolean(values.lines);
    const seqGiven = numberFlag("seq", values.seq, {}) !== undefined;
    const runSeq = model.trainState && !seqGiven
      ? model.trainState.seq
      : lines && !seqGiven
      ? undefined
      : seq;

    const abort = new AbortController();
    const lastPath = `${out}/last.safetensors`;
    let lastEvent: TrainEvent | null = null;
    const events = trainEvents(model, text, {
      batch: runBatch,
      seq: runSeq,
      lr,
      clip,
      epochs,
      steps,
      valFraction,
      valEvery,
      lines,
      threads,
      backend,
      ...recipe,
      onDivergence,
      snapshotEvery: checkpointEvery,
      signal: abort.signal,
    });
    // The first event comes after every check of the corpus and options: report a bad input
    // before printing anything else.
    const first = await events.next();
    // The corpus and options are good: now check what will be written, still before training.
    const primeFlag = values.prime as string | undefined;
    const prime = primeFlag ?? text.match(/^\S{1,20}/)?.[0] ?? "";
    const badPrime = model.vocab.unknownChars(prime);
    const exportDir = values["export-tfjs"] as string | undefined;
    try {
      if (badPrime.length > 0) {
        throw new UsageError(
          `Invalid --prime: characters not in the vocabulary: ${
            badPrime.map((c) => JSON.stringify(c)).join(", ")
          }: use characters of the training text`,
        );
      }
      if (exportDir && model.config.cell === "gru") {
        throw new UsageError(
          "Invalid --export-tfjs with --cell gru: tfjs has no reset-after GRU, so no exact " +
            "export exists: drop --export-tfjs (the .safetensors checkpoint loads in PyTorch)",
        );
      }
      if (exportDir) await checkWritable(exportDir, "--export-tfjs");
      await checkWritable(out);
    } catch (e) {
      await events.return(undefined); // stops the worker threads
      throw e;
    }
    let logFile: Deno.FsFile | null = null;
    if (values.log) {
      try {
        logFile = await Deno.open(values.log as string, { append: true, create: true });
      } catch (e) {
        throw new UsageError(`Invalid --log: cannot open ${values.log}: ${(e as Error).message}`);
      }
    }
    let signalCode = 0;
    const onSignal = (code: number) => () => {
      signalCode = code;
      abort.abort();
    };
    const handlers: [Deno.Signal, () => void][] = [["SIGINT", onSignal(130)], [
      "SIGTERM",
      onSignal(143),
    ]];
    for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
    progress = new Progress({ live: Deno.stderr.isTerminal(), every: printEvery, log: logFile });
    const cfg = model.config;
    const engine = !first.done && first.value.type === "start" && first.value.backend === "webgpu"
      ? "WebGPU"
      : `WASM, ${threads ?? defaultThreads()} threads`;
    progress.say(
      `model: ${cfg.layers}×${cfg.hidden} ${cfg.cell}` +
        (cfg.embedding ? ` (embedding ${cfg.embedding})` : "") +
        `, vocabulary ${cfg.vocabSize}, ${engine}, ` +
        `dropout ${cfg.dropout}; batch ${runBatch} × seq ${model.trainState?.seq ?? runSeq}, ` +
        `lr ${lr}, clip ${clip}${lines ? ", line mode" : ""}`,
    );

    try {
      for await (const event of first.done ? events : prepend(first.value, events)) {
        progress.event(event);
        lastEvent = event;
        if (event.type === "step" && event.step % checkpointEvery === 0) {
          await save(model, lastPath);
        }
        if (event.type === "validation" && event.best) {
          await save(model, `${out}/best.safetensors`);
        }
        if (event.type === "cycle" && saveCycles) {
          const path = `${out}/cycle-${event.cycle}.safetensors`;
          await save(model, path);
          progress.say(`cosine cycle ${event.cycle} ended at step ${event.step}: saved ${path}`);
        }
      }
    } finally {
      for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
      logFile?.close();
    }
    await save(model, lastPath);
    progress.say(`saved ${lastPath}`);
    if (exportDir) {
      await exportTfjs(model, exportDir);
      progress.say(`exported a TensorFlow.js model to ${exportDir}`);
    }
    if (signalCode) return signalCode;
    if (lastEvent?.type === "done" && lastEvent.diverged) return 1;
    if (lastEvent?.type === "done" && sampleLength > 0 && lines) {
      // One line per sample, each from a zero state: prime with the newline the model reads
      // first, stop at the newline that ends a line.
      for (let i = 0; i < 5; i++) {
        const line = sample(model, {
          prime: "\n",
          stop: "\n",
          length: sampleLength,
          seed: seed + i,
        });
        print(line.slice(1) + "\n");
      }
    } else if (lastEvent?.type === "done" && sampleLength > 0) {
      print(sample(model, { prime, length: sampleLength, topK: 5, seed, threads }) + "\n");
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    const usageError = e instanceof UsageError;
    const known = usageError || e instanceof TextError || e instanceof VocabError ||
      e instanceof WebGpuUnavailableError ||
      e instanceof CheckpointError || e instanceof RangeError;
    const line = `error: ${err.message}`;
    if (progress) progress.say(line);
    else console.error(line);
    if (usageError) console.error("usage: deno run -A train.ts [options]; --help lists them");
    if (!known) console.error(err.stack);
    return known ? 2 : 1;
  }
}
