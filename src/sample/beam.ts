// Beam search: the most likely continuations instead of a random one. The N beams run as the N
// rows of one batch of the WASM core (seq 1, no dropout), so a step of N beams is one forward
// of N rows rather than N forwards of one; after each step the rows' states are gathered to
// where their chosen continuations go.

import { Random } from "../_random.ts";
import { WasmEngine } from "../engine/wasm_engine.ts";
import type { CharModel } from "../model/model.ts";
import { checkBeam, checkCommonOptions } from "./_options.ts";

/** Options for {@linkcode beamSearch}. */
export interface BeamOptions {
  /** Text that primes the state; the beams continue it (default: a random first character). */
  prime?: string;
  /** Characters to generate after the prime, the stop string's included (default 200). */
  length?: number;
  /** Beams kept at each step: the number of continuations returned, at most (default 5). */
  beam?: number;
  /** A beam ends before this string (e.g. "\n"): its text leaves it out, its score keeps it. */
  stop?: string;
  /** Seed of the random first character, drawn only without a prime (default 0). */
  seed?: number;
  /** Threads for the WASM core (default: the cores for models of 64K weights or more, else 1). */
  threads?: number;
}

/** One continuation that beam search found. */
export interface Beam {
  /** The generated text: not the prime, and not the stop string where it ended on one. */
  text: string;
  /** The sum of the natural log-probabilities of the characters scored. */
  logProb: number;
  /**
   * The characters scored: the text's, plus the stop string's where it ended on one (the model
   * chose to end there), less a first character drawn at random (without a prime).
   */
  chars: number;
  /** `logProb / chars` (0 when no character was scored): what the beams are ranked by. */
  score: number;
  /** True when the beam ended on the stop string; false when it ran to `length`. */
  stopped: boolean;
}

// The beam width beamSearch keeps unless `beam` says otherwise.
const BEAM_DEFAULT = 5;

/**
 * The `beam` most likely continuations of the prime, best first, found by beam search: at each
 * step, each of the (at most) `beam` live beams is extended by every character, the extensions
 * that end on `stop` are set aside as finished, and the `beam` most likely of the others live
 * on. After `length` characters (or when no beam is live), the finished and the live beams are
 * ranked together and the first `beam` returned (fewer where fewer continuations exist).
 *
 * Normalisation: beams are ranked by their **mean log-probability per character**, `score =
 * logProb / chars` (nats per character: minus the cross-entropy that training reports), so a
 * beam that ends early on `stop` competes with a longer one on the likelihood of its
 * characters, not on its length. The sum alone would favour the shortest beams (every
 * character's log-probability is negative), and GNMT's length penalty `((5 + n) / 6)^α` needs
 * an α to be tuned; the mean is the case α = 1 without the offset, and reads as a loss. While
 * the beams are live they all have the same length, so the mean ranks them as the sum does.
 *
 * Deterministic: no draw is made except the first character without a prime (the one
 * {@linkcode sampleStream} draws with the same seed). Ties keep the order they were found in:
 * the earlier beam, then the lower character id.
 *
 * The options that shape a random draw (temperature, topK, topP, greedy) do not apply and are
 * rejected (RangeError), as are a beam that is not an integer ≥ 1 and the other bad values
 * that {@linkcode sample} rejects.
 *
 * @example The three most likely continuations, with their scores
 * ```ts
 * import { createModel } from "../model/model.ts";
 * import { beamSearch } from "./beam.ts";
 * const model = createModel("hello world\n", { hidden: 16, layers: 1 });
 * for (const b of beamSearch(model, { prime: "he", length: 10, beam: 3, stop: "\n" })) {
 *   console.log(JSON.stringify(b.text), b.score.toFixed(3), b.stopped);
 * }
 * ```
 */
export function beamSearch(model: CharModel, options: BeamOptions = {}): Beam[] {
  const width = checkBeam(options, BEAM_DEFAULT);
  const o = checkCommonOptions(model, options);
  const stop = options.stop ?? "";
  const V = model.config.vocabSize, H = model.config.hidden, L = model.config.layers;
  const chars = model.vocab.chars;
  const primeIds = model.vocab.encode(o.prime);
  // Without a prime, the first character is drawn as sampleStream draws it, and generated.
  const drawn = primeIds.length === 0 && o.length > 0;
  const first = primeIds.length > 0
    ? primeIds[primeIds.length - 1]
    : Math.floor(new Random(o.seed).next() * V);
  const start = drawn ? chars[first] : "";
  const ended = (text: string, stopped: boolean): Beam[] => [
    { text, logProb: 0, chars: 0, score: 0, stopped },
  ];
  if (stop && start === stop) return ended("", true);
  if ((drawn && o.length === 1) || o.length === 0) return ended(start, false);

  const rows = paddedRows(width);
  using engine = WasmEngine.create({ ...model.config, batch: rows, seq: 1 }, {
    threads: o.threads,
  });
  engine.load({ params: model.params });
  const core = engine.core;
  const forward = () => core.forward({ training: false, loss: false, reuseWeights: true });
  // The prime, in every row alike (the rows are one state until the beams part).
  for (let i = 0; i < primeIds.length - 1; i++) {
    core.inputs.fill(primeIds[i]);
    forward();
    core.carryState();
  }
  const states = Array.from({ length: L }, (_, l) => ({
    h0: core.h0(l),
    hT: core.hT(l),
    c0: model.config.cell === "lstm" ? core.c0(l) : null,
    cT: model.config.cell === "lstm" ? core.cT(l) : null,
  }));

  let live: Live[] = [{ text: start, logProb: 0, token: first }];
  const finished: Beam[] = [];
  const scored = (generated: number) => generated - (drawn ? 1 : 0);
  const logSoftmax = new Float64Array(V);
  // The characters that may complete the stop string: only they need the text compared.
  const ends = chars.map((ch) => stop !== "" && (stop.endsWith(ch) || ch.endsWith(stop)));
  // The kept extensions, best first: parallel arrays of (log-probability, row, character).
  const keptLogProb = new Float64Array(width);
  const keptRow = new Int32Array(width), keptChar = new Int32Array(width);
  for (let generated = drawn ? 1 : 0; generated < o.length && live.length > 0; generated++) {
    for (let r = 0; r < rows; r++) core.inputs[r] = r < live.length ? live[r].token : 0;
    forward();
    const logits = core.logits;
    const n = scored(generated + 1);
    let kept = 0;
    for (let r = 0; r < live.length; r++) {
      const beam = live[r];
      logSoftmaxRow(logits, r * V, logSoftmax);
      for (let c = 0; c < V; c++) {
        const logProb = beam.logProb + logSoftmax[c];
        if (ends[c]) {
          const text = beam.text + chars[c];
          if (text.endsWith(stop)) {
            const body = text.slice(0, text.length - stop.length);
            finished.push({ text: body, logProb, chars: n, score: logProb / n, stopped: true });
            continue;
          }
        }
        // Insert (logProb, r, c) among the kept, after any it ties with.
        if (kept === width && !(logProb > keptLogProb[width - 1])) continue;
        let j = kept < width ? kept++ : width - 1;
        for (; j > 0 && logProb > keptLogProb[j - 1]; j--) {
          keptLogProb[j] = keptLogProb[j - 1];
          keptRow[j] = keptRow[j - 1];
          keptChar[j] = keptChar[j - 1];
        }
        keptLogProb[j] = logProb;
        keptRow[j] = r;
        keptChar[j] = c;
      }
    }
    const next: Live[] = [];
    for (let i = 0; i < kept; i++) {
      const parent = keptRow[i], c = keptChar[i];
      next.push({ text: live[parent].text + chars[c], logProb: keptLogProb[i], token: c });
      // Row i continues from row `parent`'s new state (hT is apart from h0: no overlap).
      for (const s of states) {
        s.h0.set(s.hT.subarray(parent * H, (parent + 1) * H), i * H);
        s.c0?.set(s.cT!.subarray(parent * H, (parent + 1) * H), i * H);
      }
    }
    live = next;
  }
  const n = scored(o.length);
  const beams = finished.concat(
    live.map((b) => ({
      text: b.text,
      logProb: b.logProb,
      chars: n,
      score: b.logProb / n,
      stopped: false,
    })),
  );
  // Stable: ties keep the order they were found in.
  beams.sort((a, b) => b.score - a.score);
  return beams.slice(0, width);
}

// The core's GEMM computes rows in register tiles of 6 (assembly/gemm.ts, MR), and a partial
// tile of 4 or 5 rows costs about a whole one: 5 beams × 200 characters of GRU 2×256 at 1
// thread took a median 420 ms in 5 rows and 288 ms in 6 (4 beams: 332 and 261 ms; 3 beams: 251
// and 265 ms, no gain; 2 beams: 170 and 300 ms, a loss; 2-vCPU AMD EPYC, busy). So a width
// whose last tile would have 4 or 5 rows runs in whole tiles; the extra rows are fed token 0
// and never read.
const ROW_TILE = 6;
function paddedRows(width: number): number {
  return width % ROW_TILE >= 4 ? Math.ceil(width / ROW_TILE) * ROW_TILE : width;
}

/** A beam still growing. */
interface Live {
  text: string;
  logProb: number;
  /** Its last character: the next step's input. */
  token: number;
}

/** `out[c]` = the log-softmax of `logits[at + c]`, in float64. */
function logSoftmaxRow(logits: Float32Array, at: number, out: Float64Array): void {
  const V = out.length;
  let max = -Infinity;
  for (let c = 0; c < V; c++) max = Math.max(max, logits[at + c]);
  let sum = 0;
  for (let c = 0; c < V; c++) sum += Math.exp(logits[at + c] - max);
  const lse = max + Math.log(sum);
  for (let c = 0; c < V; c++) out[c] = logits[at + c] - lse;
}
