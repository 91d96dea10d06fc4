// @ts-check
/// <reference lib="dom" />
// The studio's Worker: it holds the text and the model, trains with the browser build's
// trainEvents (pausing between steps, stopping through an AbortSignal), samples, and reads
// and writes checkpoints. The page (app.js) talks to it in messages:
//
//   page → worker: { type: "text", id, source: "corpus" | "file" | "paste", file?, text? }
//                  { type: "train", id, model, recipe, auto }   { type: "pause" | "resume" | "stop" }
//                  { type: "write", id, options (beam: the "Most likely" switch) }
//                  { type: "write-stop" }
//                  { type: "save", id }   { type: "load", id, file }   { type: "discard", id }
//                  { type: "load-bundled", id, name, url }   (a trained model of models/)
//                  { type: "load-own", id, file }   (the user's checkpoint, to fine-tune or write)
//   worker → page: { type: "ready", ... } | { type: "fatal", message }
//                  { type: "reply", id, ok, value?, error? }   (one per request with an id)
//                  { type: "events", events }  { type: "sample", step, text }
//                  { type: "paused" | "resumed" }  { type: "chunk", id, text }  { type: "model", info }
//                  { type: "text-progress", id, bytes, total }   (while a chosen file is read)
//
// A chosen or dropped file is never one string: openCorpus streams the File once (the same
// UTF-8 errors as decodeText) into ids in an Origin Private File System file (1, 2 or 4 bytes a
// character, out of memory), and training, the recipe and fine-tuning read them by position; so
// a 1 GB file trains, and neither the page nor this Worker holds its text. The bundled corpus
// and a pasted text stay strings.

/**
 * The browser build's API (the `.` entry point's, with decodeText).
 * @typedef {typeof import("../mod.ts") & { decodeText: typeof import("../src/data/text.ts").decodeText }} Lib
 */
/** @typedef {import("../mod.ts").CharModel} CharModel */
/** @typedef {import("../mod.ts").TrainOptions} TrainOptions */
/** @typedef {import("../mod.ts").TrainEvent} TrainEvent */
/** @typedef {import("../mod.ts").Corpus} Corpus */

import { insideHandlers } from "./inside_worker.js";

/** The browser build, where the server maps it (`deno task build` writes it). */
const BUNDLE = new URL("../build/browser/charlstm.js", import.meta.url);

/** @param {any} message @param {Transferable[]} [transfer] */
function post(message, transfer = []) {
  self.postMessage(message, { transfer });
}

/** @type {Promise<Lib>} */
const ready = import(BUNDLE.href).then(
  (
    /** @type {Lib & Partial<{ defaultThreads(): number, threadsUnavailable(): string | null }>} */ lib,
  ) => {
    post({
      type: "ready",
      isolated: self.crossOriginIsolated,
      defaultThreads: lib.defaultThreads?.() ?? 1,
      threadsUnavailable: lib.threadsUnavailable?.() ?? null,
      webgpu: "gpu" in navigator,
    });
    return lib;
  },
  (e) => {
    post({
      type: "fatal",
      message: `Cannot load the browser build ${BUNDLE.pathname} (${errorText(e)}): ` +
        "run `deno task build`, then reload",
    });
    throw e;
  },
);

/**
 * The entries of `o` that are set (the form's empty fields are left to the library).
 * @template {object} T
 * @param {T} o
 * @returns {Partial<T>}
 */
function defined(o) {
  return /** @type {Partial<T>} */ (
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ""))
  );
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

/** The training text (a string, or a chosen file's corpus), and what to call it. */
let text = "";
/** @type {Corpus | null} */
let corpus = null;
let textName = "";
/** The latest text request: an older one that ends later is dropped. */
let textRequest = 0;
/** Characters of a corpus's validation tail the Inside panel traces at most. */
const TRACE_LIMIT = 200_000;

/** What training reads: the corpus, else the string. */
function trainingText() {
  return corpus ?? text;
}

/** A corpus no longer chosen: closed (its OPFS file removed) once no run reads it. */
function retire(/** @type {Corpus | null} */ old) {
  if (old && run?.corpus !== old) old.close();
}
/** @type {CharModel | null} */
let model = null;
/**
 * The run in progress, and the engine it trains on (once started).
 * @typedef {{ controller: AbortController, paused: boolean, resume: (() => void) | null,
 *   backend: string, corpus: Corpus | null }} Run
 * @type {Run | null}
 */
let run = null;
/** The write in progress (its id), stopped when another starts or on write-stop. */
let writing = 0;

/** @param {CharModel} m */
function modelInfo(m) {
  const t = m.trainState;
  return {
    cell: m.config.cell,
    hidden: m.config.hidden,
    layers: m.config.layers,
    embedding: m.config.embedding,
    dropout: m.config.dropout,
    seed: m.config.seed,
    vocabSize: m.vocab.size,
    weights: m.params.length,
    step: t?.step ?? 0,
    epoch: t?.epoch ?? 0,
    batch: t?.batch ?? null,
    seq: t?.seq ?? null,
    optimizer: t ? t.optimizer ?? "adam" : null,
    bestValLoss: t && Number.isFinite(t.bestValLoss) ? t.bestValLoss : null,
  };
}

/** Characters of the text the model does not know (training would stop on them). */
function unknownChars() {
  if (!model) return [];
  if (corpus) return model.vocab.unknownChars(corpus.vocab.chars.join(""));
  return text ? model.vocab.unknownChars(text) : [];
}

/** The first word of the text, where the model knows it: the prime of the samples. */
function samplePrime() {
  const word = /^\S{1,16}/.exec(corpus ? corpus.text(0, 17) : text)?.[0] ?? "";
  return model && word && model.vocab.unknownChars(word).length === 0 ? word : "";
}

const handlers = {
  /** @param {{ id: number, source: "corpus" | "file" | "paste", file?: File, text?: string }} m */
  async text(m) {
    const lib = await ready;
    const request = ++textRequest;
    let t, name;
    if (m.source === "file") {
      if (!m.file) throw new Error("No file chosen");
      let last = 0;
      const opened = await lib.openCorpus(m.file, {
        onProgress(bytes, total) {
          // A line a tenth of a second at most: the page redraws it, nothing more.
          if (performance.now() - last < 100) return;
          last = performance.now();
          post({ type: "text-progress", id: m.id, bytes, total });
        },
      });
      if (request !== textRequest) {
        opened.close();
        throw new Error(`${m.file.name}: another text was chosen meanwhile`);
      }
      retire(corpus);
      corpus = opened;
      text = "";
      textName = m.file.name;
      return textInfo();
    }
    if (m.source === "paste") {
      name = "the pasted text";
      t = (m.text ?? "").replace(/\r\n?/g, "\n");
      if (t.length === 0) {
        throw new Error(`Cannot use ${name}: it has no characters: paste some text`);
      }
    } else {
      const source = m.source === "corpus" ? new URL("../data/anna.txt", import.meta.url) : m.file;
      if (!source) throw new Error("No file chosen");
      name = source instanceof URL ? "anna.txt" : source.name;
      const bytes = source instanceof URL
        ? await fetchBytes(source)
        : new Uint8Array(await source.arrayBuffer());
      t = lib.decodeText(bytes, name);
      if (t.length === 0) {
        throw new lib.TextError(
          `Cannot read ${name}: the file has no characters: give a non-empty text`,
        );
      }
    }
    if (request !== textRequest) throw new Error(`${name}: another text was chosen meanwhile`);
    retire(corpus);
    corpus = null;
    text = t;
    textName = name;
    return textInfo();
  },

  /**
   * @param {{ model: import("../mod.ts").ModelOptions, auto?: boolean,
   *   recipe: TrainOptions & { amount: number, unit: "minutes" | "steps" | "epochs",
   *   sampleEvery?: number, sampleLength: number } }} m
   */
  async train(m) {
    const lib = await ready;
    if (run) throw new Error("Training is already running");
    if (!text && !corpus) throw new Error("Choose a text first");
    const source = trainingText();
    const fresh = model === null;
    const { amount, unit, sampleLength, ...given } = m.recipe;
    let sampleEvery = given.sampleEvery;
    delete given.sampleEvery;
    const state = model?.trainState;
    // "Train for N more": the library counts steps, epochs and seconds in all.
    /** @type {TrainOptions} */
    const length = unit === "minutes"
      ? { timeBudget: (state?.trainTime ?? 0) + amount * 60 }
      : unit === "steps"
      ? { steps: (state?.step ?? 0) + amount }
      : { epochs: (state?.epoch ?? 0) + amount };
    /** @type {TrainOptions} */
    let options = { ...defined(given), ...length };
    let current = model;
    if (!current && m.auto) {
      // The recipe picks what the form left empty, for this text, time and machine.
      const r = await lib.recipe(source, { model: defined(m.model), train: options });
      current = lib.createModel(source, r.model);
      options = r.train;
      sampleEvery ??= r.train.valEvery;
      post({ type: "events", events: [{ type: "note", message: r.summary }] });
    }
    if (current && !current.trainState) {
      // A trained model without its training state (a bundled one): fine-tune it on the text,
      // with the characters it lacks added (train.ts --from); the form's settings are kept.
      const ft = await lib.prepareFineTune(current, source, { train: options });
      current = ft.model;
      options = ft.train;
      sampleEvery ??= ft.train.valEvery;
      post({ type: "events", events: [{ type: "note", message: ft.summary }] });
    }
    current ??= lib.createModel(source, m.model);
    sampleEvery ??= 0;
    if (sampleEvery > 0) options.snapshotEvery = sampleEvery; // arrays current at those steps
    const controller = new AbortController();
    options.signal = controller.signal;
    // The budget's clock stops while the run is paused: "Train for N minutes" means trained ones.
    let pausedMs = 0;
    options.clock = () => performance.now() - pausedMs;
    /** @type {Run} */
    const thisRun = {
      controller,
      paused: false,
      resume: null,
      backend: "",
      corpus: typeof source === "string" ? null : source,
    };
    run = thisRun;
    model = current;
    /** @type {TrainEvent[]} */
    let pending = [];
    let flushed = performance.now();
    const flush = () => {
      if (pending.length) post({ type: "events", events: pending });
      pending = [];
      flushed = performance.now();
    };
    let started = false;
    try {
      for await (const event of lib.trainEvents(current, source, options)) {
        started = true;
        pending.push(event);
        // Steps come in batches (every 50 ms); anything else at once.
        if (event.type !== "step" || performance.now() - flushed > 50) flush();
        if (event.type === "start") {
          thisRun.backend = event.backend;
          post({ type: "model", info: modelInfo(current) });
        }
        if (event.type === "step" && sampleEvery > 0 && event.step % sampleEvery === 0) {
          flush();
          post({ type: "sample", step: event.step, text: drawSample(lib, sampleLength) });
        }
        if (thisRun.paused) {
          flush();
          post({ type: "paused", step: current.trainState?.step ?? 0 });
          const pausedAt = performance.now();
          await new Promise((resolve) => {
            thisRun.resume = () => resolve(undefined);
          });
          pausedMs += performance.now() - pausedAt;
          post({ type: "resumed" });
        }
      }
      flush();
      post({
        type: "sample",
        step: current.trainState?.step ?? 0,
        text: drawSample(lib, sampleLength),
        final: true,
      });
    } catch (e) {
      flush();
      // A model that never trained keeps no settings that failed: the next try makes a new one.
      if (fresh && !started) model = null;
      throw e;
    } finally {
      run = null;
      if (thisRun.corpus && thisRun.corpus !== corpus) thisRun.corpus.close(); // chosen away
    }
    post({ type: "model", info: modelInfo(current) });
    return modelInfo(current);
  },

  pause() {
    if (run) run.paused = true;
  },

  resume() {
    if (!run) return;
    run.paused = false;
    run.resume?.();
    run.resume = null;
  },

  stop() {
    if (!run) return;
    run.controller.abort();
    handlers.resume();
  },

  /** @param {{ id: number, options: import("../mod.ts").SampleOptions }} m */
  async write(m) {
    const lib = await ready;
    if (!model) throw new Error("Train a model or open a checkpoint first");
    if (m.options.beam !== undefined) {
      // The "Most likely" switch: the best beam is known only when the search ends, so it
      // comes in one piece, with its score (mean log-probability per character).
      const [best] = lib.beamSearch(model, defined(m.options));
      if (best.text) post({ type: "chunk", id: m.id, text: best.text });
      return { count: [...best.text].length, score: best.score };
    }
    writing = m.id;
    const stream = lib.sampleStream(model, m.options);
    let chunk = "", last = performance.now(), count = 0;
    for (const ch of stream) {
      chunk += ch;
      count++;
      if (performance.now() - last > 30) {
        post({ type: "chunk", id: m.id, text: chunk });
        chunk = "";
        // Let a stop (or a pause of training) in between.
        await new Promise((resolve) => setTimeout(resolve, 0));
        last = performance.now();
        if (writing !== m.id) break;
      }
    }
    if (chunk) post({ type: "chunk", id: m.id, text: chunk });
    if (writing === m.id) writing = 0;
    return { count };
  },

  "write-stop"() {
    writing = 0;
  },

  async save() {
    const lib = await ready;
    if (!model) throw new Error("There is no model yet: train one or open a checkpoint");
    if (run && !run.paused) throw new Error("Pause or stop training first");
    // On WebGPU the arrays are current between steps only now and then; once stopped, always.
    if (run && run.backend !== "wasm") throw new Error("Stop training first (it runs on WebGPU)");
    const bytes = lib.toBytes(model);
    return { bytes, transfer: [bytes.buffer] };
  },

  /** @param {{ file: File }} m */
  async load(m) {
    const lib = await ready;
    if (run) throw new Error("Stop training first");
    let loaded;
    try {
      loaded = lib.fromBytes(new Uint8Array(await m.file.arrayBuffer()));
    } catch (e) {
      throw new Error(`${m.file.name}: ${errorText(e)}`);
    }
    model = loaded;
    return { model: modelInfo(loaded), text: textInfo() };
  },

  /** @param {{ name: string, url: string }} m */
  async "load-bundled"(m) {
    const lib = await ready;
    if (run) throw new Error("Stop training first");
    const bytes = await fetchBytes(new URL(m.url, self.location.href));
    try {
      model = lib.fromBytes(bytes);
    } catch (e) {
      throw new Error(`${m.name}: ${errorText(e)}`);
    }
    return { model: modelInfo(model), text: textInfo() };
  },

  /**
   * "Start from a trained model" with a checkpoint of the user's: like a bundled one, its
   * weights without its training state, so that training fine-tunes it on the text (the same
   * rule as `train.ts --from FILE`); "Open a checkpoint" keeps the state and continues the run.
   * @param {{ file: File }} m
   */
  async "load-own"(m) {
    const lib = await ready;
    if (run) throw new Error("Stop training first");
    let loaded;
    try {
      loaded = lib.fromBytes(new Uint8Array(await m.file.arrayBuffer()));
    } catch (e) {
      throw new Error(`Cannot load ${m.file.name}: ${errorText(e)}`);
    }
    model = { ...loaded, trainState: null };
    return { model: modelInfo(model), text: textInfo(), steps: loaded.trainState?.step ?? 0 };
  },

  discard() {
    if (run) throw new Error("Stop training first");
    model = null;
    return { text: textInfo() };
  },
};

// The Inside panel's requests (inside_worker.js): a trace reads the model's arrays, current
// when no run is going or a WASM run is paused (as for a checkpoint).
Object.assign(
  handlers,
  insideHandlers(() => ({
    lib: /** @type {any} */ (ready),
    model,
    text,
    validation: corpus ? corpusValidation(corpus) : null,
    busy: run && !(run.paused && run.backend === "wasm")
      ? "training is running: pause it (on WASM) or stop it first"
      : null,
  })),
);

/** @param {URL} url */
async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Cannot read ${url.pathname}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * A sample for the training view (the model's arrays are current where it is drawn).
 * @param {Lib} lib
 * @param {number} length
 */
function drawSample(lib, length) {
  if (!model || length <= 0) return "";
  return lib.sample(model, { prime: samplePrime(), length, temperature: 0.8, seed: 1 });
}

/**
 * A corpus's validation text for the Inside panel: the last 10% (evaluate's and the string's
 * cut), its first TRACE_LIMIT characters where it is longer (a trace holds every step's state).
 * @param {Corpus} c
 */
function corpusValidation(c) {
  return () => {
    const cut = Math.trunc(c.length * 0.9);
    const n = Math.min(c.length - cut, TRACE_LIMIT);
    return {
      chars: [...c.text(cut, n)],
      name: n < c.length - cut
        ? `the first ${n.toLocaleString("en-US")} characters of the validation text (the last ` +
          "10% of the training text)"
        : "the validation text (the last 10% of the training text)",
    };
  };
}

/** @param {string} s */
function codePoints(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = s.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) n--;
    }
  }
  return n;
}

function textInfo() {
  if (!text && !corpus) return null;
  const unknown = unknownChars();
  return {
    name: textName,
    // Characters are code points, as a corpus counts them (a string's length counts UTF-16 units).
    chars: corpus ? corpus.length : codePoints(text),
    distinct: corpus ? corpus.vocab.size : new Set(text).size,
    preview: corpus ? corpus.text(0, 400) : text.slice(0, 400),
    unknown: unknown.slice(0, 12),
    unknownCount: unknown.length,
    // A model with no training state fine-tunes: its training adds the characters it lacks.
    fineTunes: model !== null && !model.trainState,
  };
}

self.onmessage = async (/** @type {MessageEvent} */ { data }) => {
  const handler = /** @type {Record<string, (m: any) => any>} */ (handlers)[data.type];
  if (!handler) return;
  try {
    const value = await handler(data);
    if (data.id === undefined) return;
    const transfer = value?.transfer ?? [];
    if (value?.transfer) delete value.transfer;
    post({ type: "reply", id: data.id, ok: true, value }, transfer);
  } catch (e) {
    const error = { name: e instanceof Error ? e.name : "Error", message: errorText(e) };
    if (data.id !== undefined) post({ type: "reply", id: data.id, ok: false, error });
  }
};
