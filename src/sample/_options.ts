// The checks that sampling (sample.ts) and beam search (beam.ts) share, in one place so that
// both say the same thing about the same bad value; and the one check that keeps their options
// apart: a beam takes the most likely characters, so the options that shape a draw do not
// apply to it.

import type { CharModel } from "../model/model.ts";
import { checkThreads, defaultThreads } from "../engine/threads.ts";
import { isSeed } from "../model/config.ts";

/** The defaults both share (SAMPLE_DEFAULTS in sample.ts is their public home). */
export const COMMON_DEFAULTS = { length: 200, seed: 0 } as const;

/** The options both take. */
export interface CommonOptions {
  prime?: string;
  length?: number;
  seed?: number;
  threads?: number;
}

/** Checks the options both take and fills in their defaults; throws a RangeError. */
export function checkCommonOptions(
  model: CharModel,
  o: CommonOptions,
): { prime: string; length: number; seed: number; threads: number } {
  const length = o.length ?? COMMON_DEFAULTS.length;
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`Invalid option: length must be an integer ≥ 0, got ${length}`);
  }
  const seed = o.seed ?? COMMON_DEFAULTS.seed;
  if (!isSeed(seed)) {
    throw new RangeError(`Invalid option: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  // Below about 64K weights a character is too little work to share between threads.
  const threads = checkThreads(o.threads ?? (model.params.length >= 65536 ? defaultThreads() : 1));
  const prime = o.prime ?? "";
  const unknown = model.vocab.unknownChars(prime);
  if (unknown.length > 0) {
    throw new RangeError(
      `Cannot sample: the prime has characters the model does not know: ${
        unknown.map((c) => JSON.stringify(c)).join(", ")
      }: use only characters of the training text`,
    );
  }
  return { prime, length, seed, threads };
}

/** The options that shape a random draw, by their API name, then their CLI flag. */
const DRAW_OPTIONS = [
  ["temperature", "--temperature"],
  ["topK", "--top-k"],
  ["topP", "--top-p"],
  ["greedy", "--greedy"],
] as const;

/**
 * Checks the beam width (undefined: `fallback`) and that no option of a random draw is set
 * beside it (greedy: false counts as unset); throws a RangeError.
 */
export function checkBeam(
  o: { beam?: number } & Partial<Record<(typeof DRAW_OPTIONS)[number][0], unknown>>,
  fallback: number,
): number {
  const beam = o.beam ?? fallback;
  if (!Number.isInteger(beam) || beam < 1) {
    throw new RangeError(`Invalid option: beam must be an integer ≥ 1, got ${beam}`);
  }
  const set = DRAW_OPTIONS.filter(([name]) => o[name] !== undefined && o[name] !== false);
  if (set.length > 0) {
    throw new RangeError(
      `Cannot sample: ${set.map(([name, flag]) => `${name} (${flag})`).join(", ")} ${
        set.length > 1 ? "do" : "does"
      } not apply to beam search: a beam takes the most ` +
        `likely characters, it draws none: leave ${set.length > 1 ? "them" : "it"} out`,
    );
  }
  return beam;
}
