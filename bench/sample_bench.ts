// deno bench: beam search of 5 beams × 200 characters on the default model (GRU 2×256) beside
// greedy sampling of the same length, at 1 and 2 threads. The weights come from a few training
// steps on data/anna.txt: they change which characters win, not how long a step takes.
//
// "greedy × 5" is what running the 5 beams as 5 separate batch-1 passes would cost at least
// (the same steps, one row each): the beam runs them as the 5 rows of one batch instead.

import { beamSearch, createModel, sample, train } from "../mod.ts";
import { readText } from "../src/data/text.ts";

const text = (await readText(new URL("../data/anna.txt", import.meta.url))).slice(0, 200_000);
const model = createModel(text); // the library's default model: GRU 2×256
await train(model, text, { steps: 5, batch: 8, seq: 50, threads: 1 });
const prime = "Anna ";
const length = 200;

for (const threads of [1, 2]) {
  const group = `200 characters, GRU 2×256, ${threads} thread${threads > 1 ? "s" : ""}`;
  Deno.bench({
    name: `beam 5 × 200 characters (GRU 2×256, ${threads} thr)`,
    group,
    baseline: true,
    fn: () => {
      beamSearch(model, { prime, length, beam: 5, threads });
    },
  });
  Deno.bench({
    name: `greedy × 200 characters (GRU 2×256, ${threads} thr)`,
    group,
    fn: () => {
      sample(model, { prime, length, greedy: true, threads });
    },
  });
  Deno.bench({
    name: `greedy × 200 characters × 5 runs (GRU 2×256, ${threads} thr)`,
    group,
    fn: () => {
      for (let i = 0; i < 5; i++) sample(model, { prime, length, greedy: true, threads });
    },
  });
}
