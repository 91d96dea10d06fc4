/**
 * Fine-tuning's parts, for people who build their own run around a trained model: the rule
 * {@linkcode prepareFineTune} follows ({@linkcode FINE_TUNE_RULE}: its learning rate and
 * budget), the vocabulary widening it does first ({@linkcode widenVocab}, with
 * {@linkcode missingChars} and {@linkcode WIDEN_DEFAULTS}), and where the bundled models lie
 * ({@linkcode bundledModelUrl}, {@linkcode isBundledModel}). `prepareFineTune` itself,
 * `BUNDLED_MODELS` and `load(name)` are in the `.` entry point too: most people need nothing
 * else (`train.ts --from NAME` in the CLI).
 *
 * @example Widening a bundled model's vocabulary by hand
 * ```ts
 * import { load } from "../../mod.ts";
 * import { FINE_TUNE_RULE, missingChars, widenVocab } from "./fine_tune_mod.ts";
 *
 * const base = await load("shakespeare");
 * const mine = "Café au lait — ½ price!";
 * console.log(missingChars(base, mine)); // the characters Shakespeare never wrote
 * const wider = widenVocab(base, mine);
 * console.log(wider.vocab.size - base.vocab.size, FINE_TUNE_RULE.lr);
 * ```
 *
 * @module
 */

export {
  FINE_TUNE_RULE,
  type FineTune,
  type FineTuneOptions,
  prepareFineTune,
} from "./fine_tune.ts";
export { missingChars, WIDEN_DEFAULTS, type WidenOptions, widenVocab } from "../model/widen.ts";
export { BUNDLED_MODELS, bundledModelUrl, isBundledModel } from "../io/models.ts";
