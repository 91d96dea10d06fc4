// @ts-check
/// <reference lib="dom" />
// The studio page: the panels' controls, and the training Worker (worker.js) that holds the
// text and the model. Everything heavy runs in the Worker; the page only draws.

import { LossChart } from "./chart.js";
import { mountInside } from "./inside.js";

/**
 * @typedef {{ model: import("../mod.ts").ModelOptions, train: import("../mod.ts").TrainOptions }} Preset
 */

// The library's presets (train.ts's), its recipe's time budget, and the library's defaults for
// what neither sets, from the server (studio/server.ts reads them from their one home).
const { presets: PRESETS, recipe: RECIPE, defaults: OTHER_DEFAULTS } =
  /** @type {{ presets: Record<string, Preset>, recipe: { timeBudget: number, lrSchedule: string },
   *   defaults: Record<string, string | number> }} */
  (
    await (await fetch("presets.json")).json()
  );

/** @param {string} id */
function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`The page has no #${id}`);
  return node;
}
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id */
const button = (id) => /** @type {HTMLButtonElement} */ ($(id));

const settings = /** @type {HTMLFormElement} */ ($("settings"));
const writeForm = /** @type {HTMLFormElement} */ ($("write-form"));
const chart = new LossChart(/** @type {SVGSVGElement} */ (/** @type {unknown} */ ($("chart"))));
const fmt = new Intl.NumberFormat("en-US");

/**
 * @typedef {{ cell: string, hidden: number, layers: number, embedding: number, dropout: number,
 *   seed: number, vocabSize: number, weights: number, step: number, epoch: number,
 *   batch: number | null, seq: number | null, optimizer: string | null,
 *   bestValLoss: number | null }} ModelInfo
 * @typedef {{ name: string, chars: number, distinct: number, preview: string,
 *   unknown: string[], unknownCount: number, fineTunes: boolean }} TextInfo
 */

/** What the page knows. */
const state = {
  ready: false,
  /** @type {TextInfo | null} */
  text: null,
  /** @type {ModelInfo | null} */
  model: null,
  training: false,
  paused: false,
  writing: 0,
  /** Characters per step of the current run. */
  charsPerStep: 0,
  totalSteps: 0,
  /** The run's time budget in seconds (the model's training time in all), or null. */
  /** @type {number | null} */
  timeBudget: null,
  /** Recent (time, step) pairs for the speed and the ETA (cleared by a pause). */
  /** @type {[number, number][]} */
  recent: [],
};

// --- The Worker -------------------------------------------------------------------------------

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
/** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>} */
const pending = new Map();

/**
 * Sends a request to the Worker; resolves with its reply's value.
 * @param {string} type
 * @param {Record<string, unknown>} [payload]
 * @returns {Promise<any>}
 */
function request(type, payload = {}) {
  const id = nextId++;
  worker.postMessage({ type, id, ...payload });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

worker.addEventListener("error", (e) => {
  fatal(`The training worker failed to start: ${e.message || "see the console"}`);
});

worker.addEventListener("message", ({ data }) => {
  switch (data.type) {
    case "ready":
      onReady(data);
      break;
    case "fatal":
      fatal(data.message);
      break;
    case "reply": {
      const p = pending.get(data.id);
      pending.delete(data.id);
      if (data.ok) p?.resolve(data.value);
      else p?.reject(Object.assign(new Error(data.error.message), { name: data.error.name }));
      break;
    }
    case "events":
      for (const event of data.events) onTrainEvent(event);
      if (state.model) showModelNote(state.model);
      break;
    case "sample":
      $("sample").textContent = data.text;
      $("sample").classList.remove("muted");
      $("sample-step").textContent = `${data.final ? "after" : "at"} step ${fmt.format(data.step)}`;
      break;
    case "paused":
      state.paused = true;
      state.recent = [];
      setRunStatus(`Paused at step ${fmt.format(data.step)}`);
      updateControls();
      break;
    case "resumed":
      state.paused = false;
      state.recent = [];
      setRunStatus("Training…");
      updateControls();
      break;
    case "chunk":
      if (data.id === state.writing) $("output").append(data.text);
      break;
    case "text-progress":
      // A chosen file is read in the Worker, in pieces: the page shows how far, nothing more.
      setStatus("text-status", readingLine(data.bytes, data.total));
      break;
    case "model":
      setModel(data.info);
      if (data.info.batch) state.charsPerStep = data.info.batch * data.info.seq;
      break;
  }
});

/**
 * @param {number} bytes
 * @param {number | undefined} total
 */
function readingLine(bytes, total) {
  const mb = (/** @type {number} */ n) => fmt.format(Math.round(n / 1e6));
  return total
    ? `Reading… ${Math.floor((100 * bytes) / total)}% (${mb(bytes)} of ${mb(total)} MB)`
    : `Reading… ${mb(bytes)} MB`;
}

/** @param {string} message */
function fatal(message) {
  const engine = $("engine");
  engine.textContent = message;
  engine.classList.add("error");
  setStatus("text-status", message, "error");
}

/** @param {{ isolated: boolean, defaultThreads: number, threadsUnavailable: string | null, webgpu: boolean }} info */
function onReady(info) {
  state.ready = true;
  const threads = info.defaultThreads;
  input("threads-input").placeholder = `auto (${threads})`;
  $("engine").textContent = [
    `WASM: ${threads} thread${threads === 1 ? "" : "s"}`,
    info.isolated ? "isolated" : "not isolated",
    info.webgpu ? "WebGPU" : "no WebGPU",
  ].join(" · ");
  if (info.threadsUnavailable) $("engine").title = info.threadsUnavailable;
  loadText();
  updateControls();
}

// --- 1. Text ----------------------------------------------------------------------------------

/**
 * @param {string} id
 * @param {string} message
 * @param {"ok" | "error" | "warn" | ""} [kind]
 */
function setStatus(id, message, kind = "") {
  const node = $(id);
  node.textContent = message;
  node.className = `status ${kind}`;
}

function sourceKind() {
  const checked = /** @type {HTMLInputElement} */ (
    document.querySelector('input[name="source"]:checked')
  );
  return /** @type {"corpus" | "file" | "paste"} */ (checked.value);
}

/**
 * Reads the chosen text in the Worker and shows what it is, or why it cannot be used.
 * @param {File} [file]
 */
async function loadText(file) {
  const source = sourceKind();
  if (source === "file" && !file) {
    const chosen = input("file").files?.[0];
    if (!chosen) return setStatus("text-status", "Choose or drop a file.");
    file = chosen;
  }
  if (source === "paste" && !/** @type {HTMLTextAreaElement} */ ($("paste")).value) {
    return setStatus("text-status", "Paste a text, then press “Use this text”.");
  }
  setStatus("text-status", "Reading…");
  try {
    const info = await request("text", {
      source,
      file,
      text: /** @type {HTMLTextAreaElement} */ ($("paste")).value,
    });
    showText(info);
  } catch (e) {
    state.text = null;
    $("text-preview").hidden = true;
    setStatus("text-status", /** @type {Error} */ (e).message, "error");
  }
  updateControls();
}

/** @param {TextInfo | null} info */
function showText(info) {
  state.text = info;
  if (!info) return;
  const preview = $("text-preview");
  preview.textContent = info.preview.replace(/\n{3,}/g, "\n\n");
  preview.hidden = false;
  const summary = `${info.name}: ${fmt.format(info.chars)} characters, ${info.distinct} distinct`;
  if (info.unknownCount > 0) {
    const shown = info.unknown.map((c) => JSON.stringify(c)).join(" ");
    setStatus(
      "text-status",
      `${summary}. The model does not know ${info.unknownCount} of its characters (${shown}): ` +
        (info.fineTunes
          ? "training fine-tunes it on this text with them added."
          : "it can write, but training it on this text fails; “New model” starts one for it."),
      info.fineTunes ? "ok" : "warn",
    );
  } else setStatus("text-status", summary, "ok");
}

for (const radio of document.querySelectorAll('input[name="source"]')) {
  radio.addEventListener("change", () => {
    const kind = sourceKind();
    $("file-box").hidden = kind !== "file";
    $("paste-box").hidden = kind !== "paste";
    loadText();
  });
}
input("file").addEventListener("change", () => loadText());
button("use-paste").addEventListener("click", () => loadText());
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer?.files[0];
  if (file) loadText(file);
});
// A file dropped anywhere on the page is the text.
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files[0];
  if (!file || e.target instanceof Node && drop.contains(e.target)) return;
  /** @type {HTMLInputElement} */ (document.querySelector('input[value="file"]')).checked = true;
  $("file-box").hidden = false;
  $("paste-box").hidden = true;
  loadText(file);
});

// --- 2. Model and recipe ----------------------------------------------------------------------

/** @param {string} name */
function field(name) {
  return /** @type {HTMLInputElement | HTMLSelectElement} */ (settings.elements.namedItem(name));
}

/** The fields a preset fills; the recipe leaves them empty ("auto": it picks them). */
const RECIPE_FIELDS = [
  "cell",
  "hidden",
  "layers",
  "dropout",
  "batch",
  "seq",
  "lr",
  "clip",
  "valEvery",
  "sampleEvery",
];

/** Fills the form from a preset (the model's fields only while there is no model). */
function applyPreset() {
  const name = field("preset").value;
  /** @type {Record<string, string | number | undefined>} */
  let values;
  if (name === "recipe") {
    values = Object.fromEntries(RECIPE_FIELDS.map((f) => [f, ""]));
    Object.assign(values, {
      lrSchedule: RECIPE.lrSchedule,
      amount: RECIPE.timeBudget / 60,
      unit: "minutes",
    });
  } else {
    const { model, train } = PRESETS[name];
    values = {
      cell: model.cell,
      hidden: model.hidden,
      layers: model.layers,
      dropout: model.dropout,
      batch: train.batch,
      seq: train.seq,
      lr: train.lr,
      clip: train.clip,
      lrSchedule: train.lrSchedule ?? "constant",
      valEvery: train.valEvery,
      amount: train.steps ?? train.epochs ?? 1,
      unit: train.steps ? "steps" : "epochs",
      sampleEvery: train.valEvery,
    };
  }
  for (const [name, value] of Object.entries(values)) {
    const f = field(name);
    if (!f.disabled) f.value = String(value ?? "");
  }
}

// The preset menu: the recipe first (the library's default: the model and run that learn the
// most in the time given), then the named presets.
field("preset").append(
  new Option(`recipe: the best model for ${RECIPE.timeBudget / 60} minutes`, "recipe", true, true),
);
for (const [name, { model, train }] of Object.entries(PRESETS)) {
  const length = train.steps ? `${train.steps} steps` : `${train.epochs} epochs`;
  const cell = String(model.cell).toUpperCase();
  field("preset").append(
    new Option(`${name}: ${model.layers}×${model.hidden} ${cell}, ${length}`, name),
  );
}

function applyDefaults() {
  for (const [name, value] of Object.entries(OTHER_DEFAULTS)) field(name).value = String(value);
  applyPreset();
}

field("preset").addEventListener("change", applyPreset);

/** @param {string} name */
function num(name) {
  const raw = field(name).value.trim();
  return raw === "" ? undefined : Number(raw);
}

/** The model options and the training recipe the form asks for. */
function readSettings() {
  const model = {
    cell: field("cell").value || undefined,
    hidden: num("hidden"),
    layers: num("layers"),
    embedding: num("embedding"),
    dropout: num("dropout"),
    seed: num("seed"),
  };
  const recipe = {
    batch: num("batch"),
    seq: num("seq"),
    lr: num("lr"),
    clip: num("clip"),
    optimizer: field("optimizer").value,
    lrSchedule: field("lrSchedule").value,
    valEvery: num("valEvery"),
    backend: field("backend").value,
    threads: num("threads"),
    amount: num("amount") ?? 1,
    unit: field("unit").value,
    sampleEvery: num("sampleEvery"),
    sampleLength: 200,
  };
  // The recipe picks what the form leaves empty (for a new model).
  return { model, recipe, auto: field("preset").value === "recipe" };
}

const MODEL_FIELDS = ["cell", "hidden", "layers", "embedding", "dropout", "seed"];
const STATE_FIELDS = ["batch", "seq", "optimizer"];

/**
 * Shows the model the Worker holds (or none): its fields are then fixed.
 * @param {ModelInfo | null} info
 */
function setModel(info) {
  state.model = info;
  const note = $("model-note");
  if (info) {
    /** @type {Record<string, unknown>} */
    const values = { ...info };
    for (const name of MODEL_FIELDS) {
      field(name).value = String(values[name]);
      field(name).disabled = true;
    }
    for (const name of STATE_FIELDS) {
      const f = field(name);
      if (values[name] !== null) f.value = String(values[name]);
      f.disabled = values[name] !== null;
    }
    showModelNote(info);
    button("train").textContent = info.step > 0 ? "Continue training" : "Train";
  } else {
    for (const name of [...MODEL_FIELDS, ...STATE_FIELDS]) field(name).disabled = false;
    note.hidden = true;
    button("train").textContent = "Train";
  }
  updateControls();
}

/** @param {ModelInfo} info */
function showModelNote(info) {
  const note = $("model-note");
  note.hidden = false;
  note.textContent = `${describe(info)}. Training continues this model` +
    (info.batch ? ` (with its batch, seq and optimizer)` : "") + "; “New model” starts over.";
}

/** @param {ModelInfo} info */
function describe(info) {
  const cell = info.cell === "rnn" ? "RNN" : info.cell.toUpperCase();
  const parts = [
    `${cell} ${info.layers}×${info.hidden}`,
    `${info.vocabSize} characters`,
    `${fmt.format(info.weights)} weights`,
    `step ${fmt.format(info.step)}`,
  ];
  if (info.bestValLoss !== null) parts.push(`best validation ${info.bestValLoss.toFixed(3)}`);
  return parts.join(" · ");
}

// --- 3. Training ------------------------------------------------------------------------------

/** @param {string} message */
function setRunStatus(message) {
  $("run-status").textContent = message;
}

/** @param {string} message @param {boolean} [error] */
function addNote(message, error = false) {
  const li = document.createElement("li");
  li.textContent = message;
  if (error) li.className = "error";
  $("notes").append(li);
}

/** @param {number} ms */
function duration(ms) {
  if (!Number.isFinite(ms)) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`;
}

/** The step counter: "step / total", or the step alone when the clock decides. */
/** @param {number} step */
function stepText(step) {
  return Number.isFinite(state.totalSteps)
    ? `${fmt.format(step)} / ${fmt.format(state.totalSteps)}`
    : fmt.format(step);
}

/** @param {import("../mod.ts").TrainEvent} e */
function onTrainEvent(e) {
  switch (e.type) {
    case "start":
      state.totalSteps = e.totalSteps;
      state.timeBudget = e.timeBudget;
      state.recent = [];
      chart.total = e.totalSteps;
      chart.update();
      setRunStatus(`Training on ${e.backend === "webgpu" ? "WebGPU" : "WASM"}…`);
      $("stat-step").textContent = stepText(e.step);
      break;
    case "step": {
      const now = performance.now();
      state.recent.push([now, e.step]);
      while (state.recent.length > 2 && now - state.recent[0][0] > 5000) state.recent.shift();
      const [t0, s0] = state.recent[0];
      const perMs = state.recent.length > 1 ? (e.step - s0) / (now - t0) : NaN;
      $("stat-step").textContent = stepText(e.step);
      $("stat-epoch").textContent = String(e.epoch + 1);
      $("stat-loss").textContent = e.loss.toFixed(3);
      $("stat-lr").textContent = String(+e.lr.toPrecision(3));
      if (perMs > 0) {
        $("stat-speed").textContent = fmt.format(Math.round(perMs * 1000 * state.charsPerStep));
      }
      // By the clock, the budget says how far along the run is; by steps, the step count.
      const budget = state.timeBudget;
      const done = budget !== null ? e.trainTime / budget : e.step / e.totalSteps;
      const left = budget !== null
        ? (budget - e.trainTime) * 1000
        : (e.totalSteps - e.step) / perMs;
      if (budget !== null || perMs > 0) $("stat-eta").textContent = duration(Math.max(0, left));
      $("progress-bar").style.width = `${Math.min(100, done * 100)}%`;
      if (state.model) state.model.step = e.step;
      chart.addStep(e.step, e.loss, e.lr);
      break;
    }
    case "validation":
      $("stat-val").textContent = `${e.valLoss.toFixed(3)}${e.best ? " ★" : ""}`;
      if (state.model && e.best) state.model.bestValLoss = e.valLoss;
      chart.addValidation(e.step, e.valLoss);
      break;
    case "note":
      addNote(e.message);
      break;
    case "diverged":
      addNote(
        `Step ${e.step}: the loss or gradient was not finite; ` +
          (e.action === "restored"
            ? `back to step ${e.restoredStep} with the learning rate ×${e.lrScale}`
            : "training stopped"),
        e.action === "stopped",
      );
      break;
    case "done":
      $("stat-eta").textContent = "—";
      chart.total = 0; // the x axis ends at the last step taken
      chart.update();
      setRunStatus(
        e.aborted
          ? `Stopped at step ${fmt.format(e.step)}`
          : e.diverged
          ? `Stopped: diverged at step ${fmt.format(e.step)}`
          : `Done: step ${fmt.format(e.step)}` +
            (e.valLoss !== null ? `, validation loss ${e.valLoss.toFixed(3)}` : ""),
      );
      break;
  }
}

/** Clears the training view for another model. */
function resetTrainingView() {
  chart.clear();
  for (const id of ["step", "epoch", "loss", "val", "lr", "speed", "eta"]) {
    $(`stat-${id}`).textContent = "—";
  }
  $("progress-bar").style.width = "0";
  $("sample").textContent = "A sample of the model's writing appears here every few steps.";
  $("sample").classList.add("muted");
  $("sample-step").textContent = "";
  $("notes").replaceChildren();
  setRunStatus("");
}

async function startTraining() {
  const { model, recipe, auto } = readSettings();
  state.training = true;
  state.paused = false;
  state.charsPerStep = (recipe.batch ?? 0) * (recipe.seq ?? 0);
  $("notes").replaceChildren();
  if (!state.model) chart.clear();
  setRunStatus("Starting…");
  updateControls();
  try {
    await request("train", { model, recipe, auto });
  } catch (e) {
    const error = /** @type {Error} */ (e);
    setRunStatus("");
    addNote(error.message, true);
  } finally {
    state.training = false;
    state.paused = false;
    updateControls();
  }
}

button("train").addEventListener("click", startTraining);
button("pause").addEventListener("click", () => {
  worker.postMessage({ type: state.paused ? "resume" : "pause" });
  button("pause").disabled = true; // until the Worker says it has paused or resumed
});
button("stop").addEventListener("click", () => {
  worker.postMessage({ type: "stop" });
  setRunStatus("Stopping…");
  button("stop").disabled = true;
});

// --- 4. Write ---------------------------------------------------------------------------------

/** `\n`, `\t` and `\\` in the stop field are a newline, a tab and a backslash. */
/** @param {string} s */
function unescape(s) {
  return s.replace(/\\([nt\\])/g, (_, c) => c === "n" ? "\n" : c === "t" ? "\t" : "\\");
}

/** @param {string} name */
function writeNum(name) {
  const f = /** @type {HTMLInputElement} */ (writeForm.elements.namedItem(name));
  return f.value.trim() === "" ? undefined : Number(f.value);
}

/** The beams of the "Most likely" switch (beamSearch's default width). */
const BEAMS = 5;
/** The fields of a random draw, which beam search does not use. */
const DRAW_FIELDS = ["temperature", "topK", "topP"];

/** The "Most likely" switch: checked, the draw's fields are off. */
function likely() {
  return /** @type {HTMLInputElement} */ (writeForm.elements.namedItem("likely")).checked;
}
function updateDrawFields() {
  for (const name of DRAW_FIELDS) {
    /** @type {HTMLInputElement} */ (writeForm.elements.namedItem(name)).disabled = likely();
  }
}

async function write() {
  const prompt = /** @type {HTMLTextAreaElement} */ ($("prompt")).value;
  const stopField = /** @type {HTMLInputElement} */ (writeForm.elements.namedItem("stop"));
  const beam = likely();
  const options = {
    prime: prompt || undefined,
    length: writeNum("length"),
    // Beam search rejects the draw's options: they are left out, not sent as defaults.
    temperature: beam ? undefined : writeNum("temperature"),
    topK: beam ? undefined : writeNum("topK"),
    topP: beam ? undefined : writeNum("topP"),
    beam: beam ? BEAMS : undefined,
    seed: writeNum("seed"),
    stop: stopField.value ? unescape(stopField.value) : undefined,
  };
  const output = $("output");
  const shown = document.createElement("span");
  shown.className = "prompt";
  shown.textContent = prompt;
  output.replaceChildren(shown);
  delete output.dataset.done;
  setStatus("write-status", "");
  const id = nextId; // the request's id: its chunks carry it
  state.writing = id;
  updateControls();
  try {
    const { count, score } = await request("write", { options });
    const likeliness = score === undefined
      ? ""
      : ` · the most likely of ${BEAMS} beams: ${score.toFixed(3)} nats per character`;
    setStatus("write-status", `${fmt.format(count)} characters${likeliness}`, "ok");
    output.dataset.done = String(id);
  } catch (e) {
    setStatus("write-status", /** @type {Error} */ (e).message, "error");
  } finally {
    if (state.writing === id) state.writing = 0;
    updateControls();
  }
}

/** @type {HTMLInputElement} */ (writeForm.elements.namedItem("likely")).addEventListener(
  "change",
  updateDrawFields,
);
writeForm.addEventListener("submit", (e) => {
  e.preventDefault();
  write();
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) writeForm.requestSubmit();
});
button("write-stop").addEventListener("click", () => {
  worker.postMessage({ type: "write-stop" });
});

// --- 5. Checkpoint ----------------------------------------------------------------------------

/**
 * The checkpoint's bytes: the model and its optimizer state, as the CLI writes them.
 * @returns {Promise<Uint8Array>}
 */
async function checkpointBytes() {
  const { bytes } = await request("save");
  return bytes;
}

async function download() {
  try {
    const bytes = await checkpointBytes();
    const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (bytes)]));
    const a = document.createElement("a");
    a.href = url;
    a.download = "model.safetensors";
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    setStatus("checkpoint-status", `model.safetensors: ${fmt.format(bytes.length)} bytes`, "ok");
  } catch (e) {
    setStatus("checkpoint-status", /** @type {Error} */ (e).message, "error");
  }
}

/** @param {File} file */
async function openCheckpoint(file) {
  setStatus("checkpoint-status", `Opening ${file.name}…`);
  try {
    const { model, text } = await request("load", { file });
    resetTrainingView();
    setModel(model);
    showText(text);
    setStatus("checkpoint-status", `Opened ${file.name}: ${describe(model)}`, "ok");
  } catch (e) {
    setStatus("checkpoint-status", /** @type {Error} */ (e).message, "error");
  }
  updateControls();
}

button("download").addEventListener("click", download);
input("open").addEventListener("change", () => {
  const file = input("open").files?.[0];
  input("open").value = "";
  if (file) openCheckpoint(file);
});
button("discard").addEventListener("click", async () => {
  const { text } = await request("discard");
  resetTrainingView();
  setModel(null);
  showText(text);
  applyPreset();
  setStatus("checkpoint-status", "The next training run starts a new model.");
});

// --- 4. Write: the bundled models, or one's own -----------------------------------------------

/** A prompt for each bundled model, when the prompt box is empty. */
const BUNDLED_PROMPTS = /** @type {Record<string, string>} */ ({
  anna: "Anna",
  shakespeare: "ROMEO:",
});

/**
 * Starts from a trained model: loads it in the Worker without its training state, shows it,
 * and writes with it at once; training then fine-tunes it on the text.
 * @param {string} name What the status calls it.
 * @param {string} type The Worker's request: "load-bundled" or "load-own".
 * @param {Record<string, unknown>} payload
 */
async function startFrom(name, type, payload) {
  setStatus("bundled-status", `Loading ${name}…`);
  try {
    const { model, text, steps } = await request(type, payload);
    resetTrainingView();
    setModel(model);
    showText(text);
    // A checkpoint's own run is not continued here ("Open a checkpoint" does that).
    const from = steps ? ` (its ${fmt.format(steps)} steps' optimizer state left out)` : "";
    setStatus("bundled-status", `${name}: ${describe(model)}${from}`, "ok");
    const prompt = /** @type {HTMLTextAreaElement} */ ($("prompt"));
    if (!prompt.value) prompt.value = BUNDLED_PROMPTS[name] ?? "";
    await write();
  } catch (e) {
    setStatus("bundled-status", /** @type {Error} */ (e).message, "error");
  }
}

/**
 * Offers the trained models that models/ holds (the server lists them) and the user's own
 * checkpoint: choosing one loads it and writes with it at once.
 */
async function offerBundled() {
  /** @type {{ name: string, url: string, info: Record<string, string> }[]} */
  let models = [];
  try {
    const response = await fetch("models.json");
    if (response.ok) models = await response.json();
  } catch {
    // A server without models.json (an older one): only one's own to offer.
  }
  const select = /** @type {HTMLSelectElement} */ ($("bundled"));
  for (const { name, url, info } of models) {
    const option = document.createElement("option");
    option.value = url;
    option.dataset.name = name;
    const loss = info.valLoss ? `, validation loss ${info.valLoss}` : "";
    option.textContent = `${name} (${info.corpus ?? "trained"}${loss})`;
    select.append(option);
  }
  select.hidden = models.length === 0;
  $("bundled-row").hidden = false;
  select.addEventListener("change", async () => {
    const option = select.selectedOptions[0];
    if (!option?.value) return;
    await startFrom(option.dataset.name ?? "", "load-bundled", {
      name: option.dataset.name,
      url: option.value,
    });
    select.value = "";
  });
}

input("own").addEventListener("change", () => {
  const file = input("own").files?.[0];
  input("own").value = "";
  if (file) startFrom(file.name, "load-own", { file });
});

// --- Controls ---------------------------------------------------------------------------------

function updateControls() {
  const busy = state.training;
  button("train").disabled = !state.ready || busy || !state.text;
  button("pause").disabled = !busy;
  button("pause").textContent = state.paused ? "Resume" : "Pause";
  button("stop").disabled = !busy;
  button("write").disabled = !state.model || state.writing !== 0;
  button("write-stop").disabled = state.writing === 0;
  button("download").disabled = !state.model || (busy && !state.paused);
  button("discard").disabled = !state.model || busy;
  $("open-label").classList.toggle("disabled", busy);
  input("open").disabled = busy;
  $("own-label").classList.toggle("disabled", busy);
  input("own").disabled = busy;
  /** @type {HTMLSelectElement} */ ($("bundled")).disabled = busy;
  settings.querySelectorAll("fieldset, select#preset").forEach((node) => {
    /** @type {HTMLFieldSetElement} */ (node).disabled = busy;
  });
}

applyDefaults();
updateControls();
updateDrawFields(); // a reload may keep the switch on
offerBundled();

const inside = mountInside(request);

/** For scripts and tests: the page's state and what its buttons call. */
Object.assign(globalThis, { studio: { state, chart, checkpointBytes, request, inside } });
