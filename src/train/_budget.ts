// The clock of a training run: the time trained so far (the model's, resumes included), and,
// under a time budget, whether what is left holds the next steps and the final validation, at
// the pace of this run: a step's mean time (the consumer's work between steps included), and
// validations and samples timed apart, since they come only every so many steps.

/**
 * A validation batch's cost in steps before a validation has been timed: the forward pass
 * alone, about 0.4 of a training step on the WASM core (measured with the tiny and default
 * presets on anna.txt: 0.37 to 0.54).
 */
export const VALIDATION_BATCH_IN_STEPS = 0.4;

/** When validation and samples happen, for the pace. */
export interface BudgetPlan {
  valEvery: number;
  /** Validation batches (0: no validation). */
  valBatches: number;
  sampleEvery: number;
}

/** The time of one run of the training loop against its budget. */
export class Budget {
  readonly #clock: () => number;
  readonly #started: number;
  readonly #priorMs: number;
  readonly #budgetMs: number;
  readonly #plan: BudgetPlan;
  #asideMs = 0;
  #valMs: number | null = null;
  #sampleMs = 0;

  /**
   * Starts the clock: `priorSeconds` trained before this run, `budgetSeconds` in all (null:
   * no budget), `clock` in ms.
   */
  constructor(
    clock: () => number,
    priorSeconds: number,
    budgetSeconds: number | null,
    plan: BudgetPlan,
  ) {
    this.#clock = clock;
    this.#started = clock();
    this.#priorMs = priorSeconds * 1000;
    this.#budgetMs = budgetSeconds === null ? Infinity : budgetSeconds * 1000;
    this.#plan = plan;
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
   * number is the step count after it) and a final validation, after `done` steps in this run;
   * always true without a budget.
   */
  fits(first: number, count: number, done: number): boolean {
    if (this.#budgetMs === Infinity) return true;
    const left = this.#budgetMs - this.#priorMs - this.elapsedMs();
    if (!(left > 0)) return false;
    const { valEvery, valBatches, sampleEvery } = this.#plan;
    const step = (this.elapsedMs() - this.#asideMs) / Math.max(1, done);
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
