// Widening a trained model's vocabulary for a text with characters it has never seen, so that
// it can be fine-tuned on that text. The new characters take the ids after the old ones, so
// every old id, weight and logit stays what it was.

import { Random } from "../_random.ts";
import { Vocab } from "../data/vocab.ts";
import { type CharModel, type CharModelConfig, MODEL_DEFAULTS } from "./model.ts";
import { paramLayout } from "./params.ts";

/** The defaults of {@linkcode WidenOptions}: their one home. */
export const WIDEN_DEFAULTS = {
  /** A new character's probability where the state says nothing (see WidenOptions). */
  newCharProbability: 1e-3,
  /** A new one-hot input column is drawn as a new model's (±inputScale, 1 by default). */
  inputScale: MODEL_DEFAULTS.inputScale,
} as const;

/** Options for {@linkcode widenVocab}. */
export interface WidenOptions {
  /**
   * The probability a new character starts with, where the hidden state says nothing (default
   * 1e-3). Its output row starts at zero, so its logit is its bias alone whatever the state;
   * the bias is `ln(p)` plus the log-sum-exp of the old output biases, the log normaliser of
   * the softmax when the state adds nothing: the character starts about as likely as `p`
   * (more where the state makes the known characters less likely, less where it makes one
   * sure). Small, so that the known characters' log-probabilities move by about `ln(1 - k·p)`
   * (k new characters): the model predicts its old text as before. Not vanishing, so
   * that the first time the character comes, its cross-entropy gradient (`p - 1` on its logit)
   * moves its row and bias right away; a bias near −∞ would keep it unreachable for many
   * steps.
   */
  newCharProbability?: number;
  /**
   * With one-hot input, the new input columns of `weight_ih_l0` are uniform in ±inputScale,
   * drawn as a new model's (default 1, createModel's; 0: PyTorch's ±1/√hidden). An embedding
   * gets new rows drawn standard normal, as `nn.Embedding`'s.
   */
  inputScale?: number;
  /** Seed of the new columns' draws (default: the model's seed). */
  seed?: number;
}

/**
 * The characters of `text` that `model` cannot encode, in code-point order (after lowercasing,
 * for a lowercasing model; none for a model with an unknown symbol, which encodes every one).
 *
 * @example What a text adds
 * ```ts
 * import { createModel } from "./model.ts";
 * import { missingChars } from "./widen.ts";
 * console.log(missingChars(createModel("abc", { hidden: 8 }), "abcXYZa")); // [ "X", "Y", "Z" ]
 * ```
 */
export function missingChars(model: CharModel, text: string): string[] {
  if (model.vocab.unknown !== null) return [];
  const own = Vocab.fromText(text, { lowercase: model.vocab.lowercase });
  return own.chars.filter((c) => model.vocab.indexOf(c) < 0);
}

/**
 * A copy of `model` whose vocabulary also has the characters of `text` it lacks (see
 * {@linkcode missingChars}), appended after the old ones, ready to be fine-tuned on `text`.
 * Every old weight is kept; each new character gets a new input column (or embedding row),
 * drawn as a new model's, and a new output row of zero weights with a bias that makes it
 * start at a small probability (see {@linkcode WidenOptions}). So, before any training step,
 * every old character's logit is exactly what it was, for any input of old characters. The
 * checkpoint keeps PyTorch's state_dict names, with the larger shapes. The copy has no
 * training state: its optimizer starts afresh. With nothing to add it is `model` itself.
 *
 * @example Fine-tuning on a text with new characters
 * ```ts
 * import { createModel } from "./model.ts";
 * import { widenVocab } from "./widen.ts";
 * const model = createModel("the cat sat", { hidden: 16, layers: 1 });
 * const wider = widenVocab(model, "THE CAT SAT!");
 * console.log(wider.vocab.size - model.vocab.size); // 7: !, A, C, E, H, S and T
 * ```
 *
 * @throws {RangeError} If an option is out of range.
 */
export function widenVocab(
  model: CharModel,
  text: string,
  options: WidenOptions = {},
): CharModel {
  const p = options.newCharProbability ?? WIDEN_DEFAULTS.newCharProbability;
  if (typeof p !== "number" || !(p > 0 && p < 1)) {
    throw new RangeError(`Invalid option: newCharProbability must be in (0, 1), got ${p}`);
  }
  const scale = options.inputScale ?? WIDEN_DEFAULTS.inputScale;
  if (typeof scale !== "number" || !(scale >= 0) || !Number.isFinite(scale)) {
    throw new RangeError(`Invalid option: inputScale must be a finite number ≥ 0, got ${scale}`);
  }
  const added = missingChars(model, text);
  if (added.length === 0) return model;
  const old = model.config;
  const V = old.vocabSize, W = V + added.length, H = old.hidden;
  const { lowercase, unknown } = model.vocab;
  const vocab = new Vocab([...model.vocab.chars, ...added], { lowercase, unknown });
  const config: CharModelConfig = { ...old, vocabSize: W };
  const layout = paramLayout(config);
  const params = new Float32Array(layout.size);
  const random = new Random(((options.seed ?? old.seed) ^ 0x71de5) >>> 0);
  const from = (name: string) => {
    const t = model.layout.byName.get(name)!;
    return model.params.subarray(t.offset, t.offset + t.size);
  };
  for (const t of layout.tensors) {
    const before = from(t.name);
    const at = params.subarray(t.offset, t.offset + t.size);
    if (t.size === before.length) at.set(before);
    else if (t === layout.embedding) {
      at.set(before);
      for (let i = before.length; i < t.size; i++) at[i] = random.normal();
    } else if (t === layout.layers[0].wih) {
      // One-hot input: [gates·H, V] becomes [gates·H, W], each row's old columns first.
      const k = scale === 0 ? 1 / Math.sqrt(H) : scale;
      const rows = t.shape[0];
      for (let r = 0; r < rows; r++) {
        at.set(before.subarray(r * V, (r + 1) * V), r * W);
        for (let j = V; j < W; j++) at[r * W + j] = random.uniform(-k, k);
      }
    } else if (t === layout.fcWeight) {
      at.set(before); // the new rows stay zero
    } else if (t === layout.fcBias) {
      at.set(before);
      let max = -Infinity, sum = 0;
      for (const b of before) max = Math.max(max, b);
      for (const b of before) sum += Math.exp(b - max);
      at.fill(Math.log(p) + max + Math.log(sum), V);
    }
  }
  return { config, vocab, layout, params, trainState: null };
}
