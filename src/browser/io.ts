// Checkpoints and texts in a web page: from bytes, a Blob or File, or a URL (fetched); never
// a file path, and no Deno API.

import {
  CheckpointError,
  fromBytes,
  load as loadSource,
  type SaveOptions,
  toBytes,
} from "../io/checkpoint.ts";
import { bundledModelUrl, isBundledModel } from "../io/models.ts";
import type { CharModel } from "../model/model.ts";
import { decodeText, TextError } from "../data/text.ts";

/** What {@linkcode load} reads: checkpoint bytes, a Blob or File, or a URL (fetched). */
export type CheckpointSource = Uint8Array | ArrayBuffer | Blob | URL | string;

/**
 * Loads a model from checkpoint bytes, a Blob or File (an `<input type="file">`'s), a URL
 * fetched relative to the page (a string is a URL, never a file path), or the name of a bundled
 * model (`"shakespeare"`), fetched from the `models/` folder beside the module.
 *
 * @example
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { load, save } from "./io.ts";
 * const blob = new Blob([save(createModel("abc", { hidden: 8, layers: 1 }))]);
 * console.log((await load(blob)).vocab.size); // 3
 * ```
 */
export async function load(source: CheckpointSource): Promise<CharModel> {
  if (source instanceof ArrayBuffer) return fromBytes(new Uint8Array(source));
  if (source instanceof Blob) {
    const name = (source as Partial<File>).name ?? "blob";
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await source.arrayBuffer());
    } catch (e) {
      throw new CheckpointError(`Cannot read checkpoint ${name}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return fromBytes(bytes);
  }
  if (typeof source === "string") {
    source = isBundledModel(source)
      ? bundledModelUrl(source)
      : new URL(source, globalThis.location?.href);
  }
  return await loadSource(source);
}

/**
 * The model's checkpoint bytes (safetensors, as the CLI writes them; `dtype: "F16"` for the
 * weights alone in half precision): a page offers them as a download (`new Blob([bytes])`) or stores them; {@linkcode load} reads them back.
 *
 * @example
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { save } from "./io.ts";
 * console.log(save(createModel("abc", { hidden: 8, layers: 1 })).length > 0); // true
 * ```
 */
export function save(model: CharModel, options: SaveOptions = {}): Uint8Array<ArrayBuffer> {
  return toBytes(model, options) as Uint8Array<ArrayBuffer>; // a new buffer: what a Blob takes
}

/**
 * Reads a UTF-8 text from a Blob or File, or fetches it from a URL (a string is a URL relative
 * to the page), and decodes it like the CLI reads a file.
 *
 * @example
 * ```ts
 * import { readText } from "./io.ts";
 * console.log(await readText(new Blob(["hello\r\nworld"]))); // "hello\nworld"
 * ```
 *
 * @throws {TextError} If it cannot be read, is not valid UTF-8, or has no characters.
 */
export async function readText(source: Blob | URL | string): Promise<string> {
  const name = source instanceof Blob ? (source as Partial<File>).name ?? "blob" : String(source);
  let bytes: Uint8Array;
  try {
    if (source instanceof Blob) bytes = new Uint8Array(await source.arrayBuffer());
    else {
      const response = await fetch(new URL(source, globalThis.location?.href));
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      bytes = new Uint8Array(await response.arrayBuffer());
    }
  } catch (e) {
    throw new TextError(`Cannot read ${name}: ${(e as Error).message}`);
  }
  const text = decodeText(bytes, name);
  if (text.length === 0) {
    throw new TextError(`Cannot read ${name}: it has no characters: give a non-empty text`);
  }
  return text;
}
