// Checkpoints: one safetensors file. Weights carry the PyTorch CharRNN state_dict names, so
// `safetensors.torch.load_file` reads them; `__metadata__` holds the config, the vocabulary and
// the training counters; Adam's moments and the carried state are extra tensors under `optim.`
// and `state.`. Writes are atomic: a temporary file in the same folder, then a rename. A
// weights-only file may hold its weights in F16 (the bundled models, models/): they load as F32.

import type { CharModel, TrainState } from "../model/model.ts";
import { paramLayout } from "../model/params.ts";
import { type Fail, parseConfig, parseJson, parseVocab, reason } from "./_metadata.ts";
import { f16Bytes, f16Values } from "./f16.ts";
import { bundledModelUrl, isBundledModel, unknownModel } from "./models.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  f32Values,
  SafetensorsError,
  type TensorEntry,
} from "./safetensors.ts";

/** The checkpoint format version this code writes and reads. */
export const FORMAT_VERSION = "1";

/**
 * A checkpoint that cannot be used: the message names the problem in one line.
 *
 * @example Telling a bad checkpoint from other errors
 * ```ts
 * import { CheckpointError, fromBytes } from "./checkpoint.ts";
 * try {
 *   fromBytes(new Uint8Array(4));
 * } catch (e) {
 *   console.log(e instanceof CheckpointError, (e as Error).message);
 * }
 * ```
 */
export class CheckpointError extends Error {
  /** The error's name. */
  override name = "CheckpointError";
}

const fail: Fail = (message) => {
  throw new CheckpointError(message);
};

interface TrainCounters {
  step: number;
  epoch: number;
  batchInEpoch: number;
  batch: number;
  seq: number;
  bestValLoss: number | null;
  lrScale?: number;
  optimizer?: "adam" | "sgd";
  weightDecay?: number;
  trainTime?: number;
  timeBudget?: number;
}

/** Options for {@linkcode toBytes} and {@linkcode save}. */
export interface SaveOptions {
  /**
   * `F32` (default): the weights and, when trained, the state to resume from. `F16`: the
   * weights alone (no optimizer state, no carried state: Adam's second moments would underflow
   * in half precision), each rounded to the nearest float16: half the size, for a model that
   * is only sampled or fine-tuned (the bundled models). Any charlstm, and PyTorch, reads both.
   */
  dtype?: "F32" | "F16";
  /** Strings about the model (its corpus, validation loss, recipe), kept as `charlstm.info`. */
  info?: Record<string, string>;
}

/**
 * The checkpoint bytes of `model` (weights, config, vocabulary and, when trained, the state
 * to resume from; with `dtype: "F16"`, the weights alone in half precision).
 *
 * @example Catching a bad checkpoint
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { fromBytes, toBytes } from "./checkpoint.ts";
 * const model = createModel("abc", { hidden: 8, layers: 1 });
 * const copy = fromBytes(toBytes(model));
 * console.log(copy.vocab.chars);
 * ```
 *
 * @example Weights only, in half precision
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { fromBytes, toBytes } from "./checkpoint.ts";
 * const model = createModel("abcd", { hidden: 64, layers: 2 });
 * const half = toBytes(model, { dtype: "F16", info: { corpus: "none" } });
 * console.log(half.length < toBytes(model).length * 0.6, fromBytes(half).trainState); // true null
 * ```
 */
export function toBytes(model: CharModel, options: SaveOptions = {}): Uint8Array {
  const dtype = options.dtype ?? "F32";
  if (dtype !== "F32" && dtype !== "F16") {
    throw new CheckpointError(
      `Cannot save: dtype ${JSON.stringify(dtype)} is not supported: expected F32 or F16`,
    );
  }
  const tensors: Record<string, { shape: number[]; data: Float32Array } | TensorEntry> = {};
  const bad = model.params.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const t = model.layout.tensors.find((t) => bad >= t.offset && bad < t.offset + t.size);
    throw new CheckpointError(
      `Cannot save: ${t?.name ?? "a parameter"} has a non-finite value ` +
        `(${model.params[bad]}) at element ${bad - (t?.offset ?? 0)}: the weights diverged`,
    );
  }
  for (const t of model.layout.tensors) {
    const data = model.params.subarray(t.offset, t.offset + t.size);
    tensors[t.name] = dtype === "F16"
      ? { dtype, shape: t.shape, bytes: f16Bytes(data) }
      : { shape: t.shape, data };
  }
  const metadata: Record<string, string> = {
    "charlstm.format": FORMAT_VERSION,
    "charlstm.config": JSON.stringify(model.config),
    "charlstm.vocab": JSON.stringify(model.vocab.chars),
  };
  const { lowercase, unknown } = model.vocab;
  if (lowercase || unknown !== null) {
    metadata["charlstm.vocab_encoding"] = JSON.stringify({ lowercase, unknown });
  }
  if (options.info) metadata["charlstm.info"] = JSON.stringify(options.info);
  const s = dtype === "F32" ? model.trainState : null;
  if (s) {
    const counters: TrainCounters = {
      step: s.step,
      epoch: s.epoch,
      batchInEpoch: s.batchInEpoch,
      batch: s.batch,
      seq: s.seq,
      bestValLoss: Number.isFinite(s.bestValLoss) ? s.bestValLoss : null,
      lrScale: s.lrScale,
      optimizer: s.optimizer ?? "adam",
      weightDecay: s.weightDecay ?? 0,
      trainTime: s.trainTime ?? 0,
      timeBudget: s.timeBudget,
    };
    metadata["charlstm.train"] = JSON.stringify(counters);
    for (const t of model.layout.tensors) {
      const at = (a: Float32Array) => a.subarray(t.offset, t.offset + t.size);
      if (s.optimizer === "sgd") {
        tensors[`optim.momentum_buffer.${t.name}`] = { shape: t.shape, data: at(s.adamM) };
      } else {
        tensors[`optim.exp_avg.${t.name}`] = { shape: t.shape, data: at(s.adamM) };
        tensors[`optim.exp_avg_sq.${t.name}`] = { shape: t.shape, data: at(s.adamV) };
      }
    }
    const stateShape = [model.config.layers, s.batch, model.config.hidden];
    tensors["state.h"] = { shape: stateShape, data: s.h };
    if (model.config.cell === "lstm") tensors["state.c"] = { shape: stateShape, data: s.c };
  }
  return encodeSafetensors(tensors, metadata);
}

/**
 * Reads a model from checkpoint bytes, validating everything before using it: format version,
 * config, vocabulary, every tensor's presence, dtype and shape, finite weights.
 *
 * @example Checkpoint bytes
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { fromBytes, toBytes } from "./checkpoint.ts";
 * const bytes = toBytes(createModel("hello", { hidden: 8, layers: 1 }));
 * console.log(fromBytes(bytes).config.hidden); // 8
 * ```
 */
export function fromBytes(bytes: Uint8Array): CharModel {
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) {
      throw new CheckpointError(`Invalid checkpoint: ${reason(e)}`, { cause: e });
    }
    throw e;
  }
  const { tensors, metadata } = file;
  const version = metadata["charlstm.format"];
  if (version === undefined) parseJson(metadata, "charlstm.format", fail);
  if (version !== FORMAT_VERSION) {
    throw new CheckpointError(
      `Cannot read checkpoint: format version ${JSON.stringify(version)} is not supported ` +
        `(this charlstm reads version ${FORMAT_VERSION}): upgrade charlstm`,
    );
  }
  const config = parseConfig(parseJson(metadata, "charlstm.config", fail), fail);
  const encoding = metadata["charlstm.vocab_encoding"] === undefined
    ? undefined
    : parseJson(metadata, "charlstm.vocab_encoding", fail);
  const vocab = parseVocab(parseJson(metadata, "charlstm.vocab", fail), encoding, config, fail);
  const layout = paramLayout(config);
  // The config alone decides what is allocated: refuse one that claims more weights than the
  // file holds, before allocating anything.
  const least = layout.tensors.reduce((n, t) => n + t.size, 0) * 2; // all of them F16
  if (least > bytes.length) {
    throw new CheckpointError(
      `Invalid checkpoint: the config (${config.layers}×${config.hidden}, vocabulary ` +
        `${config.vocabSize}) needs at least ${least} bytes of weights but the file has ` +
        `${bytes.length}`,
    );
  }

  const take = (name: string, shape: number[]): Float32Array => {
    const entry = tensors.get(name);
    if (!entry) {
      const expected = layout.tensors.map((t) => `${t.name} [${t.shape}]`).join(", ");
      const found = [...tensors.keys()].join(", ") || "none";
      throw new CheckpointError(
        `Invalid checkpoint: tensor ${name} is missing: expected ${expected}; found ${found}`,
      );
    }
    // Weights may be F16 (a bundled model's); the training state is always F32.
    if (entry.dtype !== "F32" && !(entry.dtype === "F16" && layout.byName.has(name))) {
      throw new CheckpointError(
        `Invalid checkpoint: tensor ${name} is ${entry.dtype}: expected F32` +
          (layout.byName.has(name) ? " or F16" : ""),
      );
    }
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(
        `Invalid checkpoint: tensor ${name} has shape [${entry.shape}]: expected [${shape}]`,
      );
    }
    const values = entry.dtype === "F16" ? f16Values(entry.bytes) : f32Values(entry, name);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new CheckpointError(
        `Invalid checkpoint: tensor ${name} has a non-finite value (${values[bad]}) at ` +
          `element ${bad}`,
      );
    }
    return values;
  };

  const params = new Float32Array(layout.size);
  const known = new Set<string>();
  for (const t of layout.tensors) {
    params.set(take(t.name, t.shape), t.offset);
    known.add(t.name);
  }

  let trainState: TrainState | null = null;
  if (metadata["charlstm.train"] !== undefined) {
    const c = parseJson(metadata, "charlstm.train", fail) as Partial<TrainCounters> | null;
    const ints = ["step", "epoch", "batchInEpoch", "batch", "seq"] as const;
    if (c === null || typeof c !== "object") {
      throw new CheckpointError("Invalid checkpoint: charlstm.train is not an object");
    }
    for (const k of ints) {
      const v = c[k];
      if (
        !Number.isInteger(v) || (v as number) < 0 || ((k === "batch" || k === "seq") && v === 0)
      ) {
        throw new CheckpointError(
          `Invalid checkpoint: charlstm.train.${k} must be a non-negative integer, got ${v}`,
        );
      }
    }
    const adamM = new Float32Array(layout.size);
    const adamV = new Float32Array(layout.size);
    const optimizer = c.optimizer ?? "adam";
    if (optimizer !== "adam" && optimizer !== "sgd") {
      throw new CheckpointError(
        `Invalid checkpoint: charlstm.train.optimizer ${JSON.stringify(optimizer)}: ` +
          "expected adam or sgd",
      );
    }
    const weightDecay = c.weightDecay === undefined ? 0 : c.weightDecay;
    if (typeof weightDecay !== "number" || !(weightDecay >= 0) || !Number.isFinite(weightDecay)) {
      throw new CheckpointError(
        `Invalid checkpoint: charlstm.train.weightDecay must be a number ≥ 0, got ${
          JSON.stringify(weightDecay)
        }`,
      );
    }
    const moments: [string, Float32Array][] = optimizer === "sgd"
      ? [["optim.momentum_buffer.", adamM]]
      : [["optim.exp_avg.", adamM], ["optim.exp_avg_sq.", adamV]];
    for (const t of layout.tensors) {
      for (const [prefix, into] of moments) {
        into.set(take(prefix + t.name, t.shape), t.offset);
        known.add(prefix + t.name);
      }
    }
    const stateShape = [config.layers, c.batch!, config.hidden];
    const h = take("state.h", stateShape);
    const lstm = config.cell === "lstm";
    const cc = lstm ? take("state.c", stateShape) : new Float32Array(h.length);
    known.add("state.h");
    if (lstm) known.add("state.c");
    trainState = {
      step: c.step!,
      epoch: c.epoch!,
      batchInEpoch: c.batchInEpoch!,
      batch: c.batch!,
      seq: c.seq!,
      bestValLoss: typeof c.bestValLoss === "number" ? c.bestValLoss : Infinity,
      lrScale: typeof c.lrScale === "number" && c.lrScale > 0 && c.lrScale <= 1 ? c.lrScale : 1,
      optimizer,
      weightDecay,
      trainTime: seconds(c.trainTime),
      timeBudget: c.timeBudget === undefined ? undefined : seconds(c.timeBudget) || undefined,
      adamM,
      adamV,
      h,
      c: cc,
    };
  }
  const unexpected = [...tensors.keys()].filter((n) => !known.has(n));
  if (unexpected.length > 0) {
    throw new CheckpointError(
      `Invalid checkpoint: unexpected tensors ${unexpected.join(", ")}: expected ` +
        `${layout.tensors.map((t) => t.name).join(", ")} (and optim.*, state.* when trained)`,
    );
  }
  return { config, vocab, layout, params, trainState };
}

// A recorded time in seconds: a finite number ≥ 0, anything else (absent: older files) 0.
function seconds(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * Writes `model` to `path` atomically: a temporary file in the same folder, flushed, then
 * renamed over `path`, so a crash leaves either the old file or the new one.
 *
 * @example Saving to a file
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { load, save } from "./checkpoint.ts";
 * const model = createModel("abc", { hidden: 8, layers: 1 });
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await save(model, path);
 * console.log((await load(path)).config.hidden);
 * ```
 */
export async function save(
  model: CharModel,
  path: string | URL,
  options: SaveOptions = {},
): Promise<void> {
  const bytes = toBytes(model, options);
  const target = path instanceof URL ? path.pathname : path;
  if (!globalThis.Deno) {
    throw new CheckpointError(`Cannot save ${target}: files need Deno: toBytes gives the bytes`);
  }
  const slash = target.lastIndexOf("/");
  const dir = slash >= 0 ? target.slice(0, slash + 1) : "";
  const tmp = `${dir}.${target.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, target);
    await syncDirectory(dir || ".");
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new CheckpointError(`Cannot save ${target}: ${(e as Error).message}`, { cause: e });
  }
}

// Makes the rename itself durable (Linux: fsync on the folder); best effort elsewhere.
async function syncDirectory(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some systems cannot open or sync a folder; the rename is still atomic.
  } finally {
    handle?.close();
  }
}

/** True for the temporary files `save` writes before renaming (left behind by a kill -9). */
export function isSaveTemporary(name: string): boolean {
  return /^\..+\.[0-9a-f]{8}\.tmp$/.test(name);
}

/**
 * Loads a model from a file path, a `file:`/`http(s):` URL, checkpoint bytes, or the name of a
 * bundled model (`"shakespeare"`: `models/shakespeare.safetensors` beside the module, fetched
 * when the module was imported from a URL; a file of that name wins). A checkpoint is the same
 * whichever engine wrote it: `train`'s `backend` option picks the one that trains next.
 *
 * @example Loading checkpoint bytes
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { load, toBytes } from "./checkpoint.ts";
 * const model = await load(toBytes(createModel("abc", { hidden: 8, layers: 1 })));
 * console.log(model.vocab.size); // 3
 * ```
 */
export async function load(source: string | URL | Uint8Array): Promise<CharModel> {
  if (source instanceof Uint8Array) return fromBytes(source);
  let bytes: Uint8Array;
  // Without Deno (a web page) every string is a URL, relative to the page.
  const url = source instanceof URL
    ? source
    : !globalThis.Deno
    ? new URL(source, globalThis.location?.href)
    : /^https?:\/\//.test(source)
    ? new URL(source)
    : null;
  try {
    if (url && (url.protocol !== "file:" || !globalThis.Deno)) {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      bytes = new Uint8Array(await response.arrayBuffer());
    } else {
      bytes = await Deno.readFile(url ?? (source as string));
    }
  } catch (e) {
    const missing = (e as Error).name === "NotFound";
    // A name (no slash, no extension) that is not a file: a bundled model, or a list of them.
    if (missing && typeof source === "string" && /^[\w-]+$/.test(source)) {
      return await loadBundled(source);
    }
    const reason = missing ? "no such file" : (e as Error).message;
    throw new CheckpointError(`Cannot read checkpoint ${String(source)}: ${reason}`, { cause: e });
  }
  try {
    return fromBytes(bytes);
  } catch (e) {
    if (e instanceof CheckpointError) {
      // "Invalid checkpoint: …" becomes "Invalid checkpoint <source>: …".
      const message = e.message.replace(/^([^:]*):/, (_, head) => `${head} ${String(source)}:`);
      throw new CheckpointError(message, { cause: e.cause });
    }
    throw e;
  }
}

async function loadBundled(name: string): Promise<CharModel> {
  if (!isBundledModel(name)) throw new CheckpointError(unknownModel(name));
  const url = bundledModelUrl(name);
  try {
    return await load(url);
  } catch (e) {
    if (!(e instanceof CheckpointError) || !/^Cannot read checkpoint/.test(e.message)) throw e;
    throw new CheckpointError(
      `Cannot load model "${name}": ${url.href} cannot be read: ${reason(e).split(": ").pop()}`,
      { cause: e },
    );
  }
}
