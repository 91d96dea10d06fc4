// Progress output for train.ts: a live bar on a terminal, one plain line every N steps
// otherwise, and optionally every event as a JSON line appended to a log file.

import type { TrainEvent } from "../train/train.ts";

const encoder = new TextEncoder();

function duration(seconds: number): string {
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

  constructor(options: { live: boolean; every: number; log: Deno.FsFile | null }) {
    this.#live = options.live;
    this.#every = Math.max(1, options.every);
    this.#log = options.log;
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
        this.say(
          `training on ${e.trainChars} characters, validating on ${e.valChars}; ` +
            `${e.batchesPerEpoch} batches per epoch, ${e.totalSteps} steps` +
            (e.step > 0 ? ` (resuming at step ${e.step})` : ""),
        );
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
        const epochs = Math.ceil(this.#total / this.#perEpoch);
        const remaining = (this.#total - e.step) /
          ((e.step - this.#startStep) / (e.elapsedMs / 1000));
        const val = this.#valLoss === null ? "-" : this.#valLoss.toFixed(3);
        const text = `epoch ${e.epoch + 1}/${epochs} step ${e.step}/${this.#total} ` +
          `loss ${e.loss.toFixed(3)} val ${val} lr ${e.lr.toPrecision(3)} ` +
          `${Math.round(e.charsPerSec)} chars/s ` +
          `ETA ${duration(remaining)}`;
        if (this.#live) {
          const width = 24;
          const done = Math.round(width * e.step / this.#total);
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
}
