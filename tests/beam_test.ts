// Beam search against brute force: every continuation of a short length over a tiny vocabulary
// is scored by the float64 reference of PyTorch's equations (tests/_reference.ts), and a beam
// wide enough to prune nothing must return exactly the best of them, with their scores to 1e-6.
// Narrower beams prune, and their scores must still be the reference's for the texts they return.

import assert from "node:assert/strict";
import { beamSearch, type CharModel, createModel, sample, sampleStream, train } from "../mod.ts";
import type { Cell } from "../src/model/config.ts";
import { referenceLoss } from "./_reference.ts";

/** A tiny model of `text`'s characters, trained a little so that its choices are not flat. */
async function tinyModel(text: string, cell: Cell): Promise<CharModel> {
  const model = createModel(text, { cell, hidden: 8, layers: 2, dropout: 0, seed: 3 });
  await train(model, text, { steps: 20, batch: 2, seq: 8, lr: 0.02, threads: 1 });
  return model;
}

/** ln P(ids[from..] | ids[..from]) by the float64 reference: the sum over those targets. */
function referenceLogProb(model: CharModel, ids: number[], from: number): number {
  // The loss of the whole sequence less that of its first `from` characters (the same prefix,
  // so the same terms): what is left is the continuation's.
  const total = (n: number) => {
    if (n < 2) return 0;
    const T = n - 1;
    const config = { ...model.config, batch: 1, seq: T, dropout: 0 };
    const H = model.config.hidden;
    const mean = referenceLoss({
      config,
      layout: model.layout,
      params: Float64Array.from(model.params),
      inputs: Int32Array.from(ids.slice(0, T)),
      targets: Int32Array.from(ids.slice(1, n)),
      h0: Array.from({ length: model.config.layers }, () => new Float64Array(H)),
      c0: Array.from({ length: model.config.layers }, () => new Float64Array(H)),
      masks: Array(model.config.layers).fill(null),
    });
    return mean * T;
  };
  return -(total(ids.length) - total(from));
}

interface Scored {
  text: string;
  logProb: number;
  chars: number;
  score: number;
  stopped: boolean;
}

/**
 * Every distinct continuation of `prime` that beam search may return, scored by the reference,
 * best first: all strings of `length` characters, each cut at its first `stop` (which ends it).
 */
function bruteForce(model: CharModel, prime: string, length: number, stop = ""): Scored[] {
  const V = model.config.vocabSize, chars = model.vocab.chars;
  const primeIds = [...model.vocab.encode(prime)];
  const seen = new Map<string, Scored>();
  for (let k = 0; k < V ** length; k++) {
    let text = "", stopped = false;
    const ids: number[] = [];
    for (let i = 0, rest = k; i < length; i++, rest = Math.floor(rest / V)) {
      ids.push(rest % V);
      text += chars[rest % V];
      if (stop && text.endsWith(stop)) {
        stopped = true;
        break;
      }
    }
    const key = `${stopped}:${text}`;
    if (seen.has(key)) continue;
    const logProb = referenceLogProb(model, [...primeIds, ...ids], primeIds.length);
    const body = stopped ? text.slice(0, text.length - stop.length) : text;
    seen.set(key, { text: body, logProb, chars: ids.length, score: logProb / ids.length, stopped });
  }
  return [...seen.values()].sort((a, b) => b.score - a.score);
}

function assertSameBeams(actual: Scored[], expected: Scored[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: number of beams`);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    const where = `${what}: beam ${i} (${JSON.stringify(a.text)})`;
    assert.equal(a.text, e.text, where);
    assert.equal(a.stopped, e.stopped, where);
    assert.equal(a.chars, e.chars, where);
    assert.ok(Math.abs(a.logProb - e.logProb) <= 1e-6, `${where}: ${a.logProb} vs ${e.logProb}`);
    assert.ok(Math.abs(a.score - e.score) <= 1e-6, `${where}: ${a.score} vs ${e.score}`);
  }
}

const TEXT = "abcab cabba cbacab\n".repeat(20); // 5 characters: a b c space newline

for (const cell of ["gru", "lstm", "rnn"] as const) {
  Deno.test(`beam search (${cell}) wide enough to prune nothing is exactly the brute force's best`, async () => {
    const model = await tinyModel(TEXT, cell);
    const V = model.config.vocabSize;
    assert.equal(V, 5);
    const length = 4;
    const width = V ** (length - 1); // every prefix of length - 1 stays live
    const beams = beamSearch(model, { prime: "ab", length, beam: width, threads: 1 });
    const all = bruteForce(model, "ab", length);
    assertSameBeams(beams, all.slice(0, width), "no stop");
    // The API's string is the best beam's.
    assert.equal(
      sample(model, { prime: "ab", length, beam: width, threads: 1 }),
      "ab" + all[0].text,
    );

    // A stop string ends beams early: they compete on their mean log-probability per character.
    for (const stop of ["\n", " c", "ab"]) {
      const stopped = beamSearch(model, { prime: "ab", length, beam: width, stop, threads: 1 });
      const expected = bruteForce(model, "ab", length, stop);
      assert.ok(expected.some((b) => b.stopped) && expected.some((b) => !b.stopped));
      assertSameBeams(stopped, expected.slice(0, width), `stop ${JSON.stringify(stop)}`);
    }
  });
}

Deno.test("beam search: narrower beams prune, and score what they return as the reference does", async () => {
  const model = await tinyModel(TEXT, "gru");
  const prime = "cab";
  const all = bruteForce(model, prime, 5, "\n");
  for (const width of [1, 2, 3, 5, 7]) {
    const beams = beamSearch(model, { prime, length: 5, beam: width, stop: "\n", threads: 1 });
    assert.equal(beams.length, width);
    for (const b of beams) {
      const truth = all.find((t) => t.text === b.text && t.stopped === b.stopped);
      assert.ok(truth, `beam ${JSON.stringify(b.text)} is a continuation`);
      assertSameBeams([b], [truth], `width ${width}`);
    }
    for (let i = 1; i < beams.length; i++) assert.ok(beams[i - 1].score >= beams[i].score);
    // No beam is better than the true best.
    assert.ok(beams[0].score <= all[0].score + 1e-6);
  }
});

Deno.test("beam search: beam 1 is greedy; without a prime it continues sample's random first character", async () => {
  const model = await tinyModel(TEXT, "lstm");
  const long = { prime: "ab", length: 60, threads: 1 };
  assert.equal(sample(model, { ...long, beam: 1 }), sample(model, { ...long, greedy: true }));
  for (const seed of [0, 1, 2, 3]) {
    const first = sample(model, { length: 1, seed, threads: 1 });
    const [best] = beamSearch(model, { length: 4, beam: 25, seed, threads: 1 });
    assert.equal(best.text[0], first);
    // The drawn character is not scored: the rest is the brute force's best after it.
    const expected = bruteForce(model, first, 3)[0];
    assertSameBeams([{ ...best, text: best.text.slice(1) }], [expected], `seed ${seed}`);
    assert.equal(
      [...sampleStream(model, { length: 4, beam: 25, seed, threads: 1 })].join(""),
      best.text,
    );
  }
  // Deterministic: the same call, the same beams.
  const again = { prime: "c", length: 30, beam: 4, stop: "\n", threads: 1 };
  assert.deepEqual(beamSearch(model, again), beamSearch(model, again));
  // Edge lengths: nothing to generate; only the drawn character.
  assert.deepEqual(beamSearch(model, { prime: "ab", length: 0 }), [
    { text: "", logProb: 0, chars: 0, score: 0, stopped: false },
  ]);
  assert.equal(
    beamSearch(model, { length: 1, seed: 5 })[0].text,
    sample(model, { length: 1, seed: 5 }),
  );
});

Deno.test("beam search: bad widths and the options of a draw are rejected with one line", async () => {
  const model = await tinyModel(TEXT, "gru");
  for (const beam of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => sample(model, { beam }),
      new RangeError(`Invalid option: beam must be an integer ≥ 1, got ${beam}`),
    );
    assert.throws(() => beamSearch(model, { beam }), RangeError);
  }
  assert.throws(
    () => sample(model, { beam: 3, temperature: 0.5 }),
    new RangeError(
      "Cannot sample: temperature (--temperature) does not apply to beam search: a beam takes " +
        "the most likely characters, it draws none: leave it out",
    ),
  );
  assert.throws(
    () => sample(model, { beam: 3, topK: 2, topP: 0.9, greedy: true }),
    /^RangeError: Cannot sample: topK \(--top-k\), topP \(--top-p\), greedy \(--greedy\) do not apply to beam search: .*: leave them out$/,
  );
  // The library's callers may hand beamSearch a SampleOptions object: the same check.
  const drawn = { beam: 2, topK: 5 } as Parameters<typeof beamSearch>[1];
  assert.throws(() => beamSearch(model, drawn), /Cannot sample: topK \(--top-k\) does not apply/);
  assert.throws(() => sample(model, { beam: 2, prime: "xyz" }), /Cannot sample: the prime has/);
  // greedy: false is no conflict.
  assert.equal(typeof sample(model, { beam: 2, greedy: false, length: 3 }), "string");
});
