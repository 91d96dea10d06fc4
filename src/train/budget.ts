// The clock of a training run: the time trained so far (the model's, resumes included), and,
// under a time budget, whether what is left holds the next steps and the final validation, at
// the pace of this run: a step's mean time (the consumer's work between steps included), and
// validations and samples timed apart, since they come only every so many steps. Public (not
// `_budget.ts`) because train.ts's progress output estimates a run's duration with the same
// validation cost.

/**
 * A validation batch's cost in steps before a validation has been timed: the forward pass
 * alone, about 0.4 of a training step on the WASM core (measured with the tiny and default
 * presets on anna.txt: 0.37 to 0.54).
 *
 * @example A validation's cost in steps before one has been timed
 * ```ts
 * import { VALIDATION_BATCH_IN_STEPS } from "./budget.ts";
 * const valBatches = 35;
 * console.log(valBatches * VALIDATION_BATCH_IN_STEPS); // 14
 * ```
 */
export const VALIDATION_BATCH_IN_STEPS = 0.4;

/**
 * When validation and samples happen, for the pace.
 *
 * @example Validation every 100 steps over 20 batches, no samples
 * ```ts
 * import type { BudgetPlan } from "./budget.ts";
 * const plan: BudgetPlan = { valEvery: 100, valBatches: 20, sampleEvery: 0 };
 * console.log(plan.valEvery); // 100
 * ```
 */
export interface BudgetPlan {
  valEvery: number;
  /** Validation batches (0: no validation). */
  valBatches: number;
  sampleEvery: number;
}

/**
 * A run's budget: what it has and has had, and when it validates and samples.
 *
 * @example A run with 100 s of its 600 s budget trained before
 * ```ts
 * import type { BudgetOptions } from "./budget.ts";
 * const options: BudgetOptions = {
 *   priorSeconds: 100,
 *   budgetSeconds: 600,
 *   valEvery: 100,
 *   valBatches: 20,
 *   sampleEvery: 0,
 *   stepsDone: () => 0,
 * };
 * console.log(options.budgetSeconds! - options.priorSeconds); // 500
 * ```
 */
export interface BudgetOptions extends BudgetPlan {
  /** Seconds trained before this run. */
  priorSeconds: number;
  /** Seconds in all (the prior ones included), or null: no budget. */
  budgetSeconds: number | null;
  /** Steps taken in this run so far: the pace is the time per step. */
  stepsDone: () => number;
}

/**
 * The time of one run of the training loop against its budget.
 *
 * @example A 10-second budget, one step of a second taken
 * ```ts
 * import { Budget } from "./budget.ts";
 * let now = 0, steps = 0;
 * const budget = new Budget(() => now, {
 *   priorSeconds: 0,
 *   budgetSeconds: 10,
 *   valEvery: 0,
 *   valBatches: 0,
 *   sampleEvery: 0,
 *   stepsDone: () => steps,
 * });
 * now += 1000;
 * steps++;
 * console.log(budget.fits(2, 8)); // true: steps 2 to 9 and one to spare take the 9 s left
 * console.log(budget.fits(2, 9)); // false
 * console.log(budget.trainedSeconds()); // 1
 * ```
 */
export class Budget {
  readonly #clock: () => number;
  readonly #started: number;
  readonly #priorMs: number;
  readonly #budgetMs: number;
  readonly #plan: BudgetPlan;
  readonly #stepsDone: () => number;
  #asideMs = 0;
  #valMs: number | null = null;
  #sampleMs = 0;

  /** Starts the clock (in ms) of a run. */
  constructor(clock: () => number, options: BudgetOptions) {
    this.#clock = clock;
    this.#started = clock();
    this.#priorMs = options.priorSeconds * 1000;
    this.#budgetMs = options.budgetSeconds === null ? Infinity : options.budgetSeconds * 1000;
    const { valEvery, valBatches, sampleEvery } = options;
    this.#plan = { valEvery, valBatches, sampleEvery };
    this.#stepsDone = options.stepsDone;
  }

  /** Milliseconds since this run started. */
  elapsedMs(): number {
    return this.#clock() - this.#started;
  }

  /** Seconds trained in all. */
  trainedSeconds(): number {
    return (this.#priorMs + this.elapsedMs()) / 1000;
  }

  /** The part of the budget spent (0 without a budget; may pass 1). */
  spent(): number {
    return (this.#priorMs + this.elapsedMs()) / this.#budgetMs;
  }

  /** Runs a validation, timing it apart from the steps. */
  async validate<T>(run: () => Promise<T>): Promise<T> {
    const t = this.#clock();
    const result = await run();
    this.#valMs = this.#clock() - t;
    this.#asideMs += this.#valMs;
    return result;
  }

  /** Draws a sample, timing it apart from the steps. */
  sample<T>(draw: () => T): T {
    const t = this.#clock();
    const result = draw();
    this.#sampleMs = this.#clock() - t;
    this.#asideMs += this.#sampleMs;
    return result;
  }

  /**
   * Whether the budget holds the steps numbered `first` to `first + count - 1` (a step's
   * number is the step count after it) and a final validation; always true without a budget.
   */
  fits(first: number, count: number): boolean {
    if (this.#budgetMs === Infinity) return true;
    const left = this.#budgetMs - this.#priorMs - this.elapsedMs();
    if (!(left > 0)) return false;
    const { valEvery, valBatches, sampleEvery } = this.#plan;
    const step = (this.elapsedMs() - this.#asideMs) / Math.max(1, this.#stepsDone());
    const validates = valEvery > 0 && valBatches > 0;
    const validation = validates ? this.#valMs ?? valBatches * step * VALIDATION_BATCH_IN_STEPS : 0;
    // The final validation, and a step and a tenth of a validation to spare: on a shared
    // machine the same work takes a little longer one time than the next.
    let need = step + 1.1 * validation;
    for (let n = first; n < first + count; n++) {
      need += step;
      if (validates && n % valEvery === 0) need += validation;
      if (sampleEvery > 0 && n % sampleEvery === 0) need += this.#sampleMs;
    }
    return left >= need;
  }
}
