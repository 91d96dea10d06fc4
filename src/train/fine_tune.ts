// Fine-tuning: a trained model (a bundled one, or any checkpoint) goes on learning from a text
// of one's own, with the characters it lacks added (../model/widen.ts) and a short, gentle run:
// the recipe's rule (recipe.ts) for the model's own shape, with a lower learning rate and a
// budget of a minute unless told otherwise.

import type { Corpus } from "../data/corpus.ts";
import type { CharModel } from "../model/model.ts";
import { missingChars, type WidenOptions, widenVocab } from "../model/widen.ts";
import { recipe, type RecipeOptions } from "./recipe.ts";
import type { TrainOptions } from "./train.ts";

/**
 * The fine-tuning rule's own numbers; the rest (seq, warm-up, cosine floor, dropout by
 * the epochs the run reads, validation cadence) is the recipe's (`RECIPE_RULE`).
 *
 * @example The budget and learning rate of a fine-tuning run
 * ```ts
 * import { FINE_TUNE_RULE } from "./fine_tune.ts";
 * console.log(FINE_TUNE_RULE.timeBudget, FINE_TUNE_RULE.lr); // 60 0.0001
 * ```
 */
export const FINE_TUNE_RULE = {
  /**
   * A minute: the promise (a minute of fine-tuning beats ten of training from
   * scratch), which `bench/finetune.ts` measures with the bundled models.
   */
  timeBudget: 60,
  /**
   * A thirtieth of the recipe's 3e-3 of the time it was measured: Adam's first steps move every weight by about the lr
   * whatever its gradient, and a trained model is already near a good point. Measured
   * (`bench/finetune.ts --finetune-steps 98`, bench/README.md) on the unseen tenth of each
   * bundled model's text: shakespeare 1.5420 as it is, 1.5443 / 1.5249 / 1.5252 at lr 1e-3 /
   * 3e-4 / 1e-4; anna 1.4988 as it is, 1.5162 / 1.5021 / 1.4981. 1e-4 is best on average and
   * the only one that never made a model worse.
   */
  lr: 1e-4,
  /**
   * The batch the learning rate was measured at (the recipe's batch then; the recipe's own
   * became 16 with its higher lr).
   */
  batch: 32,
} as const;

/** Options for {@linkcode prepareFineTune}. */
export interface FineTuneOptions extends Omit<RecipeOptions, "model"> {
  /** Dropout while fine-tuning (default: the recipe's rule, by the epochs the run reads). */
  dropout?: number;
  /** The validation text, when it is not the end of `text`: its characters are added too. */
  valText?: string | Corpus;
  /** How the new characters' weights start (see `widenVocab`). */
  widen?: WidenOptions;
}

/** What {@linkcode prepareFineTune} returns: the model to train, and how. */
export interface FineTune {
  /** A copy of the model with the characters it lacked added, and no training state. */
  model: CharModel;
  /** The characters added (in the order of their new ids). */
  added: string[];
  /** Options for `train` / `trainEvents` on the text. */
  train: TrainOptions;
  /** One line that says what was picked, for the start of a run. */
  summary: string;
}

/**
 * Prepares a trained model to be fine-tuned on `text`: a copy with the characters of `text`
 * (and of `valText`) it lacks added (`widenVocab`: every old character's outputs unchanged),
 * no training state (the optimizer starts afresh), and training options from the recipe's rule
 * for the model's shape with {@linkcode FINE_TUNE_RULE}'s learning rate and budget (one minute
 * unless `timeBudget`, `steps` or `epochs` says otherwise). Options given in `train` are kept.
 * `text` may be a {@linkcode Corpus} (`openCorpus`: a page's dropped file): its characters are
 * those of its vocabulary.
 *
 * @example Fine-tuning a model on a text of one's own
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { prepareFineTune } from "./fine_tune.ts";
 * import { train } from "./train.ts";
 * const base = createModel("the cat sat on the mat. ", { hidden: 16, layers: 1 });
 * const mine = "The Cat sat on the Hat! ".repeat(50);
 * const ft = await prepareFineTune(base, mine, { steps: 5, charsPerSec: () => 1e5 });
 * console.log(ft.added.join(""), ft.train.lr); // !CHT 0.0001
 * await train(ft.model, mine, { ...ft.train, batch: 4, seq: 16 });
 * ```
 */
export async function prepareFineTune(
  base: CharModel,
  text: string | Corpus,
  options: FineTuneOptions = {},
): Promise<FineTune> {
  const { dropout, valText, widen, ...rest } = options;
  const given = rest.train ?? {};
  const byCount = [rest.steps, rest.epochs, given.steps, given.epochs].some((n) => n !== undefined);
  const timeBudget = rest.timeBudget ?? given.timeBudget ??
    (byCount ? undefined : FINE_TUNE_RULE.timeBudget);
  // What is added depends only on which characters occur: a corpus's are its vocabulary's.
  const chars = (t: string | Corpus) => typeof t === "string" ? t : t.vocab.chars.join("");
  const all = valText === undefined ? chars(text) : chars(text) + chars(valText);
  const added = missingChars(base, all);
  const wider = widenVocab(base, all, widen);
  const { cell, hidden, layers, embedding } = wider.config;
  const r = await recipe(text, {
    ...rest,
    timeBudget,
    model: { cell, hidden, layers, embedding, dropout },
    train: {
      ...given,
      lr: given.lr ?? FINE_TUNE_RULE.lr,
      batch: given.batch ?? FINE_TUNE_RULE.batch,
      valText: valText ?? given.valText,
    },
  });
  const model: CharModel = {
    ...wider,
    config: { ...wider.config, dropout: r.model.dropout ?? wider.config.dropout },
    params: wider === base ? base.params.slice() : wider.params,
    trainState: null,
  };
  const summary = `fine-tuning: ${r.summary.replace(/^recipe /, "")}` +
    (added.length > 0 ? `; ${added.length} new characters: ${JSON.stringify(added.join(""))}` : "");
  return { model, added, train: r.train, summary };
}
