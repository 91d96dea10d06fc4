// `deno run -A train.ts`: train a model on a text file (the bundled Anna Karenina by default),
// show progress (and samples along the way), write checkpoints and loss.svg, print a sample;
// or, with --plot, redraw loss.svg from a log. The flags and presets are in _train_flags.ts;
// this is the run: every input is checked (by the library, as it creates the model and starts
// training) before anything is written.

import { type Corpus, openCorpus } from "../data/corpus.ts";
import { corpusVocab } from "../data/corpus_vocab.ts";
import { readText, TextError } from "../data/text.ts";
import { defaultThreads } from "../engine/threads.ts";
import { isSaveTemporary, load, save } from "../io/checkpoint.ts";
import { exportTfjs, tfjsArtifacts } from "../io/tfjs.ts";
import { type CharModel, createModel, type ModelOptions } from "../model/model.ts";
import { checkSampleOptions, sample, type SampleOptions } from "../sample/sample.ts";
import { type TrainEvent, trainEvents, type TrainOptions } from "../train/train.ts";
import { usage, UsageError } from "./args.ts";
import { runCli } from "./_errors.ts";
import { logHistory, LossPlot, readLog, writeTextAtomic } from "./_loss_plot.ts";
import { lossSvg } from "./_plot.ts";
import { Progress } from "./_progress.ts";
import { FLAGS, parseTrainArgs, runOptions, type TrainArgs } from "./_train_flags.ts";

const COMMAND = "deno run -A train.ts [options]";

function print(text: string) {
  Deno.stdout.writeSync(new TextEncoder().encode(text));
}

async function checkWritable(dir: string, flag: string): Promise<void> {
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
export function main(argv: string[]): Promise<number> {
  return runCli(COMMAND, () => run(argv));
}

async function run(argv: string[]): Promise<number> {
  const args = parseTrainArgs(argv);
  if (args.help) {
    print(usage(COMMAND, FLAGS, "Trains a character-level LSTM, GRU or RNN.") + "\n");
    return 0;
  }
  if (args.plot) return await redraw(args);
  // The text streams into a token file and trains from it by position (bounded memory).
  let streams = true;
  let text: string | Corpus = await openLarge(args.data);
  let valText = args.valData === undefined ? undefined : await readValData(args.valData, streams);
  const resumed = args.resume ? await load(args.resume) : undefined;
  const base = args.from ? await load(args.from) : undefined;
  // Lowercasing maps ids character by character; a text whose lowercase depends on context
  // (a capital sigma) or changes a character's length is read as a string instead.
  const lowercase = args.model.lowercase || resumed?.vocab.lowercase || base?.vocab.lowercase;
  if (streams && lowercase && !lowercasesByChar(text, valText)) {
    streams = false;
    text = await readText(args.data);
    valText = args.valData === undefined ? undefined : await readValData(args.valData, false);
  }
  // The recipe (or the named preset, or fine-tuning's rule) completes what the flags give.
  const chosen = await runOptions(args, text, { valText, resumed, base });
  const model = resumed ?? chosen.fineTune?.model ?? newModel(text, chosen.model);
  const options = chosen.train;
  // The first word: 20 characters are all a match can take.
  const head = typeof text === "string" ? text : text.text(0, 20);
  const prime = args.prime ?? (options.lines ? "\n" : head.match(/^\S{1,20}/)?.[0] ?? "");
  const abort = new AbortController();
  const events = trainEvents(model, text, {
    ...options,
    sampleEvery: args.sampleEvery,
    sampleLength: args.sampleLength,
    prime,
    sampleSeed: args.model.seed,
    snapshotEvery: args.checkpointEvery,
    signal: abort.signal,
  });
  // The first event comes after every check of the text and the training options.
  const first = await events.next();
  let sampling: SampleOptions;
  try {
    sampling = await checkOutputs(args, model, prime, options);
  } catch (e) {
    await events.return(undefined); // stops the worker threads
    throw e;
  }
  let logFile: Deno.FsFile | null = null;
  // The picture draws on from the runs the log already holds (a resumed run's among them).
  const history = args.log ? await logHistory(args.log) : [];
  if (args.log) {
    try {
      logFile = await Deno.open(args.log, { append: true, create: true });
    } catch (e) {
      throw new UsageError(`Invalid --log: cannot open ${args.log}: ${(e as Error).message}`);
    }
  }
  let signalCode = 0;
  const onSignal = (code: number) => () => {
    signalCode = code;
    abort.abort();
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal(130)],
    ["SIGTERM", onSignal(143)],
  ];
  for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
  const progress = new Progress({
    live: Deno.stderr.isTerminal(),
    every: args.printEvery,
    log: logFile,
    valEvery: options.valEvery,
  });
  const plot = new LossPlot(`${args.out}/loss.svg`, history);
  if (chosen.summary) progress.say(chosen.summary);
  const cfg = model.config;
  const state = model.trainState!;
  const engine = !first.done && first.value.type === "start" && first.value.backend === "webgpu"
    ? "WebGPU"
    : `WASM, ${options.threads ?? defaultThreads()} threads`;
  progress.say(
    `model: ${cfg.layers}×${cfg.hidden} ${cfg.cell}` +
      (cfg.embedding ? ` (embedding ${cfg.embedding})` : "") +
      `, vocabulary ${cfg.vocabSize}, ${engine}, ` +
      `dropout ${cfg.dropout}; batch ${state.batch} × seq ${state.seq}, ` +
      `lr ${options.lr}, clip ${options.clip}${options.lines ? ", line mode" : ""}`,
  );

  const lastPath = `${args.out}/last.safetensors`;
  let lastEvent: TrainEvent | null = null;
  try {
    for await (const event of first.done ? events : prepend(first.value, events)) {
      progress.event(event);
      plot.event(event);
      lastEvent = event;
      if (event.type === "validation") await plot.write();
      // The model's arrays are current at these events (see trainEvents).
      if (event.type === "step" && event.step % args.checkpointEvery === 0) {
        await save(model, lastPath);
      }
      if (event.type === "validation" && event.best) {
        await save(model, `${args.out}/best.safetensors`);
      }
      if (event.type === "cycle" && args.saveCycles) {
        const path = `${args.out}/cycle-${event.cycle}.safetensors`;
        await save(model, path);
        progress.say(`cosine cycle ${event.cycle} ended at step ${event.step}: saved ${path}`);
      }
    }
  } catch (e) {
    progress.clear();
    throw e;
  } finally {
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
    logFile?.close();
  }
  await save(model, lastPath);
  await plot.write();
  progress.say(`saved ${lastPath}; the run's picture is ${plot.path}`);
  if (args.exportDir) {
    await exportTfjs(model, args.exportDir);
    progress.say(`exported a TensorFlow.js model to ${args.exportDir}`);
  }
  if (signalCode) return signalCode;
  if (lastEvent?.type === "done" && lastEvent.diverged) return 1;
  if (args.sampleLength === 0) return 0;
  if (options.lines) {
    // One line per sample, each from a zero state: prime with the newline the model reads
    // first, stop at the newline that ends a line.
    for (let i = 0; i < 5; i++) {
      const seed = (sampling.seed! + i) >>> 0;
      const line = sample(model, { prime: "\n", stop: "\n", length: args.sampleLength, seed });
      print(line.slice(1) + "\n");
    }
  } else {
    print(sample(model, sampling) + "\n");
  }
  return 0;
}

// Checks what the run will sample, export and write, before training: the sample's options
// and prime (the library's checks), whether the model exports to tfjs, and the output folders.
async function checkOutputs(
  args: TrainArgs,
  model: CharModel,
  prime: string,
  options: TrainOptions,
): Promise<SampleOptions> {
  const sampling = {
    prime,
    length: args.sampleLength,
    topK: 5,
    seed: args.model.seed,
    threads: options.threads,
  };
  checkSampleOptions(model, sampling);
  if (args.exportDir) {
    tfjsArtifacts(model); // throws for a model tfjs cannot hold
    await checkWritable(args.exportDir, "--export-tfjs");
  }
  await checkWritable(args.out, "--out");
  return sampling;
}

// A text as a corpus (see openCorpus; the token file is cached by the text's identity), saying
// so when reading it takes a while.
async function openLarge(path: string | URL): Promise<Corpus> {
  const large = await Deno.stat(path).then((s) => s.size >= 64 << 20, () => false);
  return await openCorpus(path, { onNote: large ? (m) => console.error(m) : undefined });
}

// Whether every character of the text (and of the validation text) lowercases to one character
// whatever its neighbours.
function lowercasesByChar(...texts: (string | Corpus | undefined)[]): boolean {
  try {
    for (const t of texts) if (t !== undefined && typeof t !== "string") corpusVocab(t, LOWER);
    return true;
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
}
const LOWER = { lowercase: true } as const;

// A new model for the text: a corpus's vocabulary is lowercased and its rare characters made
// unknown from its counts, as Vocab.fromText does for a string.
function newModel(text: string | Corpus, options: ModelOptions): CharModel {
  const { lowercase, minFreq, ...rest } = options;
  if (typeof text === "string" || (!lowercase && (minFreq ?? 1) === 1)) {
    return createModel(text, options);
  }
  return createModel(corpusVocab(text, { lowercase, minFreq }), rest);
}

// --val-data: the validation text, or one line naming the flag and what is wrong with the file.
async function readValData(path: string, streams: boolean): Promise<string | Corpus> {
  try {
    return streams ? await openLarge(path) : await readText(path);
  } catch (e) {
    if (!(e instanceof TextError)) throw e;
    throw new UsageError(`Invalid --val-data: ${e.message.replace(/^C/, "c")}`);
  }
}

// --plot LOG: loss.svg from the log's events, beside the log or in --out; prints its path.
async function redraw(args: TrainArgs): Promise<number> {
  const log = args.plot!;
  const events = await readLog(log);
  const slash = log.lastIndexOf("/");
  const dir = args.given.has("out") ? args.out : slash >= 0 ? log.slice(0, slash) || "/" : ".";
  const path = `${dir}/loss.svg`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await writeTextAtomic(path, lossSvg(events));
  } catch (e) {
    const flag = args.given.has("out") ? "--out" : "--plot";
    throw new UsageError(`Invalid ${flag}: cannot write ${path}: ${(e as Error).message}`);
  }
  print(path + "\n");
  return 0;
}
