// The trained models that ship in the repository's models/ folder, found by name: beside this
// module on disk, or, when charlstm is imported from a URL, fetched from beside it (the browser
// build lies as deep in build/browser/ as this file in src/io/, so the same relative URL finds
// the studio server's /models/). models/README.md has each one's corpus, recipe and loss.

/**
 * The names of the bundled models: `load(name)` and `sample.ts NAME` find them, and
 * `train.ts --from NAME` fine-tunes one.
 *
 * @example Listing the bundled models
 * ```ts
 * import { BUNDLED_MODELS } from "./models.ts";
 * console.log(BUNDLED_MODELS.join(", ")); // anna, shakespeare
 * ```
 */
export const BUNDLED_MODELS: readonly string[] = ["anna", "shakespeare"];

const MODELS_URL = new URL("../../models/", import.meta.url);

/**
 * Whether `source` names a bundled model rather than a path: one of {@linkcode BUNDLED_MODELS}.
 *
 * @example A name, not a path
 * ```ts
 * import { isBundledModel } from "./models.ts";
 * console.log(isBundledModel("shakespeare"), isBundledModel("./shakespeare")); // true false
 * ```
 */
export function isBundledModel(source: string): boolean {
  return BUNDLED_MODELS.includes(source);
}

/**
 * Where the bundled model `name` lies: `models/NAME.safetensors` beside the module (a `file:`
 * URL from a clone, `https:` when imported from the web).
 *
 * @example The file of a bundled model
 * ```ts
 * import { bundledModelUrl } from "./models.ts";
 * console.log(bundledModelUrl("anna").pathname.endsWith("/models/anna.safetensors")); // true
 * ```
 *
 * @throws {RangeError} If `name` is not a bundled model (the message lists them).
 */
export function bundledModelUrl(name: string): URL {
  if (!isBundledModel(name)) throw new RangeError(unknownModel(name));
  return new URL(`${name}.safetensors`, MODELS_URL);
}

/**
 * The message for a name that is neither a file nor a bundled model: `Cannot load model "x":
 * not a file or a bundled model (bundled: anna, shakespeare)`.
 */
export function unknownModel(name: string): string {
  return `Cannot load model ${JSON.stringify(name)}: not a file or a bundled model ` +
    `(bundled: ${BUNDLED_MODELS.join(", ")})`;
}
