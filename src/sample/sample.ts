// Text generation: prime the state with a prefix, then draw one character at a time from the
// softmax of the logits, reshaped by temperature, top-k and top-p, or take the argmax; or, with
// `beam`, the most likely continuation that beam search finds (beam.ts).

import { Random } from "../_random.ts";
import { WasmEngine } from "../engine/wasm_engine.ts";
import type { CharModel } from "../model/model.ts";
import { beamSearch } from "./beam.ts";
import { checkBeam, checkCommonOptions, COMMON_DEFAULTS } from "./_options.ts";

/** Options for {@linkcode sample} and {@linkcode sampleStream}. */
export interface SampleOptions {
  /** Text that primes the state; sampling continues it (default: a random first character). */
  prime?: string;
  /** Characters to generate after the prime (default 200). */
  length?: number;
  /** Divides the logits: below 1 is more conservative, above 1 more varied (default 1). */
  temperature?: number;
  /** Draw only among the k most likely characters (default: all). */
  topK?: number;
  /** Draw only among the most likely characters whose probabilities sum to p (default 1). */
  topP?: number;
  /** Always take the most likely character. */
  greedy?: boolean;
  /**
   * Beam search of this width instead of draws: the text is the most likely continuation
   * that {@linkcode beamSearch} finds among `beam` beams (by mean log-probability per
   * character), the same options given. temperature, topK, topP and greedy do not apply and
   * are rejected beside it. `beamSearch` itself returns every beam with its score.
   */
  beam?: number;
  /** Seed of the draws (default 0); with `beam`, of the first character only, without a prime. */
  seed?: number;
  /** Stop before this string would be emitted (e.g. "\n"); with `beam`, a beam ends there. */
  stop?: string;
  /** Threads for the WASM core (default 1: one character at a time is too little work to share). */
  threads?: number;
}

/** The defaults of {@linkcode SampleOptions} (threads: see there): their one home. */
export const SAMPLE_DEFAULTS = {
  length: COMMON_DEFAULTS.length,
  temperature: 1,
  topK: 0,
  topP: 1,
  seed: COMMON_DEFAULTS.seed,
} as const;

/**
 * Checks `options` for sampling from `model` and fills in the defaults; throws a RangeError
 * naming the first problem (what {@linkcode sampleStream} does before drawing anything).
 * `beam` is 0 in the result when no beam search was asked for.
 */
export function checkSampleOptions(
  model: CharModel,
  o: SampleOptions = {},
): Required<Omit<SampleOptions, "stop">> {
  const d = SAMPLE_DEFAULTS;
  const beam = o.beam === undefined ? 0 : checkBeam(o, 0);
  const { length, seed, threads, prime } = checkCommonOptions(model, o);
  const temperature = o.temperature ?? d.temperature;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`Invalid option: temperature must be > 0, got ${temperature}`);
  }
  const topK = o.topK ?? d.topK;
  if (!Number.isInteger(topK) || topK < 0) {
    throw new RangeError(`Invalid option: topK must be an integer ≥ 0, got ${topK}`);
  }
  const topP = o.topP ?? d.topP;
  if (!(topP > 0 && topP <= 1)) {
    throw new RangeError(`Invalid option: topP must be in (0, 1], got ${topP}`);
  }
  return {
    length,
    temperature,
    topK,
    topP,
    seed,
    threads,
    prime,
    greedy: o.greedy ?? false,
    beam,
  };
}

/**
 * Generates characters one at a time as they are drawn (the prime is not repeated). Stops after
 * `length` characters or before the `stop` string.
 *
 * @example Streaming characters
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { sampleStream } from "./sample.ts";
 * const model = createModel("hello world", { hidden: 16, layers: 1 });
 * for (const ch of sampleStream(model, { prime: "he", length: 10, seed: 1 })) {
 *   console.log(ch);
 * }
 * ```
 */
export function* sampleStream(model: CharModel, options: SampleOptions = {}): Generator<string> {
  const o = checkSampleOptions(model, options);
  if (o.beam > 0) {
    // The whole search runs before the first character: the best beam is known only at the end.
    const { prime, length, beam, seed, threads, stop } = options;
    yield* beamSearch(model, { prime, length, beam, seed, threads, stop })[0].text;
    return;
  }
  // Batch 1 always runs on WASM: a GPU step per character would wait on a read-back each time.
  using engine = WasmEngine.create({ ...model.config, batch: 1, seq: 1 }, { threads: o.threads });
  engine.load({ params: model.params });
  const V = model.config.vocabSize;
  const random = new Random(o.seed);
  const probs = new Float64Array(V);
  const order = Array.from({ length: V }, (_, i) => i);
  let logits: Float32Array = new Float32Array(V);
  const step = (token: number) => {
    logits = engine.next(token);
  };
  const primeIds = model.vocab.encode(o.prime);
  let token = primeIds.length > 0 ? primeIds[primeIds.length - 1] : Math.floor(random.next() * V);
  for (let i = 0; i < primeIds.length - 1; i++) step(primeIds[i]);
  const stop = options.stop ?? "";
  const chars = model.vocab.chars;
  const pick = () => o.greedy ? argmax(logits) : draw(logits, probs, order, o, random);
  // Without a prime, the random first character is the first generated one.
  let pending = primeIds.length === 0 && o.length > 0 ? chars[token] : "";
  let generated = pending.length > 0 ? 1 : 0;
  if (!stop) {
    if (pending) yield pending;
    for (; generated < o.length; generated++) {
      step(token);
      token = pick();
      yield chars[token];
    }
    return;
  }
  if (pending === stop) return; // the random first character is the stop string
  while (generated < o.length) {
    step(token);
    token = pick();
    pending += chars[token];
    generated++;
    if (stop && pending.endsWith(stop)) {
      pending = pending.slice(0, pending.length - stop.length);
      break;
    }
    // Emit what can no longer be the start of the stop string.
    const keep = stop ? overlap(pending, stop) : 0;
    const ready = pending.slice(0, pending.length - keep);
    pending = pending.slice(pending.length - keep);
    yield* ready;
  }
  for (const ch of pending) yield ch;
}

// Length of the longest suffix of `text` that is a proper prefix of `stop`.
function overlap(text: string, stop: string): number {
  for (let n = Math.min(stop.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(stop.slice(0, n))) return n;
  }
  return 0;
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

// order[0..k) = the indices of the k largest probabilities, largest first, ties by index (the
// same order the sort gives), by insertion: cheaper than sorting for small k.
function topK(probs: Float64Array, k: number, order: number[]): void {
  let n = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (n === k && !(p > probs[order[k - 1]])) continue;
    let j = n < k ? n++ : k - 1;
    while (j > 0 && p > probs[order[j - 1]]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
}

function draw(
  logits: Float32Array,
  probs: Float64Array,
  order: number[],
  o: { temperature: number; topK: number; topP: number },
  random: Random,
): number {
  const V = logits.length;
  let mx = -Infinity;
  for (let i = 0; i < V; i++) mx = Math.max(mx, logits[i] / o.temperature);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += probs[i] = Math.exp(logits[i] / o.temperature - mx);
  for (let i = 0; i < V; i++) probs[i] /= sum;
  let candidates = V;
  if (o.topK > 0 && o.topK <= 16 && o.topP >= 1) {
    candidates = Math.min(o.topK, V);
    topK(probs, candidates, order);
  } else if ((o.topK > 0 && o.topK < V) || o.topP < 1) {
    // Ties keep index order so a seed always gives the same text.
    for (let i = 0; i < V; i++) order[i] = i;
    order.sort((a, b) => probs[b] - probs[a] || a - b);
    if (o.topK > 0) candidates = Math.min(candidates, o.topK);
    if (o.topP < 1) {
      let mass = 0;
      for (let i = 0; i < candidates; i++) {
        mass += probs[order[i]];
        if (mass >= o.topP) {
          candidates = i + 1;
          break;
        }
      }
    }
  } else {
    for (let i = 0; i < V; i++) order[i] = i;
  }
  let mass = 0;
  for (let i = 0; i < candidates; i++) mass += probs[order[i]];
  let u = random.next() * mass;
  for (let i = 0; i < candidates; i++) {
    u -= probs[order[i]];
    if (u < 0) return order[i];
  }
  return order[candidates - 1];
}

/**
 * The prime followed by `length` generated characters (or fewer, when `stop` is met). With
 * `beam: N`, the prime followed by the best of the N beams of {@linkcode beamSearch} (which
 * returns all N, with their scores).
 *
 * @example Sampling a string
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { sample } from "./sample.ts";
 * const model = createModel("hello world", { hidden: 16, layers: 1 });
 * console.log(sample(model, { prime: "he", length: 20, topK: 3, seed: 7 }));
 * ```
 *
 * @example The most likely continuation (beam search)
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { sample } from "./sample.ts";
 * const model = createModel("hello world", { hidden: 16, layers: 1 });
 * console.log(sample(model, { prime: "he", length: 20, beam: 5, stop: " " }));
 * ```
 */
export function sample(model: CharModel, options: SampleOptions = {}): string {
  let text = options.prime ?? "";
  for (const ch of sampleStream(model, options)) text += ch;
  return text;
}
