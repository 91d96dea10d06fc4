// Progress output for train.ts: a live bar on a terminal, one plain line every N steps
// otherwise, samples printed above it, the expected duration once the first steps have been
// timed, and optionally every event as a JSON line appended to a log file.

import { VALIDATION_BATCH_IN_STEPS } from "../train/budget.ts";
import type { TrainEvent } from "../train/types.ts";

const encoder = new TextEncoder();

/** `9m40s`, `1h05m`: a duration for a person. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(r).padStart(2, "0")}s`;
}

/** Renders training events for a person (and a log file). */
export class Progress {
  #live: boolean;
  #every: number;
  #log: Deno.FsFile | null;
  #valLoss: number | null = null;
  #total = 0;
  #perEpoch = 1;
  #startStep = 0;
  #lastLine = "";
  #valEvery: number;
  #valChars = 0;
  /** Seconds of the time budget, and of training before this run, when training by time. */
  #budget: number | null = null;
  #trainedBefore = 0;
  #expectedSaid = false;

  constructor(
    options: { live: boolean; every: number; log: Deno.FsFile | null; valEvery?: number },
  ) {
    this.#live = options.live;
    this.#every = Math.max(1, options.every);
    this.#log = options.log;
    this.#valEvery = options.valEvery ?? 0;
  }

  /** Writes one line above the bar (or plainly). */
  say(line: string): void {
    if (this.#live && this.#lastLine) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
    if (this.#live && this.#lastLine) Deno.stderr.writeSync(encoder.encode(this.#lastLine));
  }

  /** Takes the live bar off the terminal, so that an error line stands alone. */
  clear(): void {
    if (!this.#live || !this.#lastLine) return;
    Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    this.#lastLine = "";
  }

  /** Shows one training event (and appends it to the log). */
  event(e: TrainEvent): void {
    this.#log?.writeSync(encoder.encode(JSON.stringify({ time: Date.now(), ...e }) + "\n"));
    switch (e.type) {
      case "start":
        this.#total = e.totalSteps;
        this.#perEpoch = e.batchesPerEpoch;
        this.#startStep = e.step;
        this.#valChars = e.valChars;
        this.#budget = e.timeBudget;
        this.#trainedBefore = e.trainTime;
        this.say(
          `training on ${e.trainChars} characters, validating on ${e.valChars}; ` +
            `${e.batchesPerEpoch} batches per epoch, ` +
            (e.timeBudget === null ? `${e.totalSteps} steps` : `for ${duration(e.timeBudget)}` +
              (e.trainTime > 0 ? ` (${duration(e.trainTime)} of it done)` : "")) +
            (e.step > 0 ? ` (resuming at step ${e.step})` : ""),
        );
        break;
      case "sample":
        this.say(`sample at step ${e.step}:\n${e.text.replace(/^\n/, "")}`);
        break;
      case "note":
        this.say(`note: ${e.message}`);
        break;
      case "diverged":
        this.say(
          `step ${e.step}: loss ${e.loss}, gradient norm ${e.gradNorm}: not applied; ` +
            (e.action === "restored"
              ? `restored step ${e.restoredStep}, learning rate × ${e.lrScale}`
              : `back at step ${e.restoredStep}, training stopped ` +
                "(--on-divergence stop, or too many restores)"),
        );
        break;
      case "validation":
        this.#valLoss = e.valLoss;
        if (!this.#live) {
          this.say(
            `step ${e.step} val loss ${e.valLoss.toFixed(4)}${e.best ? " (best)" : ""}`,
          );
        }
        break;
      case "step": {
        const timed = this.#budget !== null;
        const epochs = timed ? "" : `/${Math.ceil(this.#total / this.#perEpoch)}`;
        const remaining = timed
          ? Math.max(0, this.#budget! - e.trainTime)
          : (this.#total - e.step) / ((e.step - this.#startStep) / (e.elapsedMs / 1000));
        const val = this.#valLoss === null ? "-" : this.#valLoss.toFixed(3);
        const text =
          `epoch ${e.epoch + 1}${epochs} step ${e.step}${timed ? "" : `/${this.#total}`} ` +
          `loss ${e.loss.toFixed(3)} val ${val} lr ${e.lr.toPrecision(3)} ` +
          `${Math.round(e.charsPerSec)} chars/s ` +
          `ETA ${duration(remaining)}`;
        this.#sayExpected(e);
        if (this.#live) {
          const width = 24;
          const fraction = timed ? e.trainTime / this.#budget! : e.step / this.#total;
          const done = Math.min(width, Math.round(width * fraction));
          this.#lastLine = `[${"#".repeat(done)}${"-".repeat(width - done)}] ${text}`;
          Deno.stderr.writeSync(encoder.encode("\r\x1b[2K" + this.#lastLine));
        } else if (e.step % this.#every === 0 || e.step === this.#total) {
          this.say(text);
        }
        break;
      }
      case "done":
        if (this.#live && this.#lastLine) {
          Deno.stderr.writeSync(encoder.encode("\n"));
          this.#lastLine = "";
        }
        this.say(
          `${e.diverged ? "diverged" : e.aborted ? "stopped" : "done"} at step ${e.step}` +
            (e.valLoss !== null ? `, val loss ${e.valLoss.toFixed(4)}` : ""),
        );
        break;
    }
  }

  // Once, after the first 20 steps or 5 seconds: how long the whole run will take at the pace
  // so far, validation included (timed in steps: see VALIDATION_BATCH_IN_STEPS), or, by time,
  // about how many steps the budget holds.
  #sayExpected(e: TrainEvent & { type: "step" }): void {
    const steps = e.step - this.#startStep;
    if (this.#expectedSaid || (steps < 20 && e.elapsedMs < 5000)) return;
    this.#expectedSaid = true;
    const perStep = e.elapsedMs / 1000 / steps;
    const pace = `${Math.round(e.charsPerSec)} chars/s`;
    const every = this.#valEvery;
    // A validation, in steps (0 when validation is off or the held-out part under a batch).
    const valBatches = every > 0 ? Math.floor(this.#valChars / (e.charsPerSec * perStep)) : 0;
    const validation = valBatches * VALIDATION_BATCH_IN_STEPS;
    if (this.#budget !== null) {
      const left = Math.max(0, this.#budget - this.#trainedBefore);
      const held = (left / perStep - validation) / (1 + (every > 0 ? validation / every : 0));
      this.say(
        `expected duration: ${duration(left)} (the time budget; about ` +
          `${Math.max(1, Math.round(held))} steps at ${pace})`,
      );
      return;
    }
    const total = this.#total;
    const validations = valBatches > 0
      ? Math.floor(total / every) - Math.floor(e.step / every) + (total % every ? 1 : 0)
      : 0;
    const seconds = e.elapsedMs / 1000 + (total - e.step + validations * validation) * perStep;
    this.say(
      `expected duration: ~${duration(seconds)} (${total - this.#startStep} steps at ${pace})`,
    );
  }
}
