// deno run -A scripts/bundle_model.ts CHECKPOINT NAME [--data FILE] [--val-data FILE]
//   [--recipe TEXT] [--out DIR] [--date YYYY-MM-DD]
//
// Turns a training checkpoint into a bundled model: models/NAME.safetensors, weights only (no
// optimizer state), in F16 when half precision keeps the model within TOLERANCE of itself on
// its validation text, else in F32; its metadata (`charlstm.info`) and models/README.md's
// table record the corpus, the validation loss, the recipe, the date and the F16-vs-F32 check.
//
// The check, on the validation text (the last tenth of --data, as training held it out, or
// --val-data), the F32 model against the same weights rounded to F16:
//   - the exact validation loss of each (evaluate's stream figure), and their difference;
//   - the largest Δ log p per character: the largest change, over every position of the text, of the
//     log-probability the model gives the character that comes next;
//   - how often the most likely next character is the same;
//   - whether samples are the same: the greedy continuation of the text's first line, and
//     SEEDS seeded samples (temperature 1, as sample.ts draws by default).

import { parseArgs } from "node:util";
import { evaluate, fromBytes, load, readText, sample, save, toBytes } from "../mod.ts";
import type { CharModel } from "../mod.ts";
import { traceChunks } from "../src/inspect/mod.ts";

/** F16 is used when both hold (nats per character). */
const TOLERANCE = { valLoss: 1e-3, logProb: 0.05 } as const;
const SEEDS = 20;
const SAMPLE_LENGTH = 300;
/** Each bundled model's corpus, when --data is not given. */
const CORPORA: Record<string, string> = {
  anna: "data/anna.txt",
  shakespeare: "data/tinyshakespeare.txt",
};
const MARK = { start: "<!-- models:start -->", end: "<!-- models:end -->" };

class BundleError extends Error {}

function flags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        data: { type: "string" },
        "val-data": { type: "string" },
        recipe: { type: "string" },
        out: { type: "string", default: "models" },
        date: { type: "string" },
      },
    });
  } catch (e) {
    throw new BundleError(`Cannot bundle: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** The per-character comparison of two models on a text. */
async function compare(a: CharModel, b: CharModel, text: string) {
  const options = { layers: [], topK: 1 };
  const other = traceChunks(b, text, options);
  let maxDelta = 0, same = 0, positions = 0;
  for await (const x of traceChunks(a, text, options)) {
    const y = (await other.next()).value!;
    for (let p = 0; p < x.length; p++) {
      maxDelta = Math.max(maxDelta, Math.abs(x.loss[p] - y.loss[p]));
      if (x.topIds[p] === y.topIds[p]) same++;
    }
    positions += x.length;
  }
  return { maxDelta, top1Same: same / positions };
}

function sameSamples(a: CharModel, b: CharModel, prime: string) {
  const greedy = (m: CharModel) => sample(m, { prime, length: SAMPLE_LENGTH, greedy: true });
  let seeded = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const draw = (m: CharModel) => sample(m, { prime, length: SAMPLE_LENGTH, seed });
    if (draw(a) === draw(b)) seeded++;
  }
  return { greedySame: greedy(a) === greedy(b), seededSame: seeded };
}

function describeRecipe(model: CharModel): string {
  const c = model.config, s = model.trainState;
  const shape = `${c.cell.toUpperCase()} ${c.layers}×${c.hidden}, dropout ${c.dropout}`;
  if (!s) return shape;
  const time = s.trainTime ? `, ${Math.round(s.trainTime)} s of training` : "";
  return `${shape}; batch ${s.batch} × ${s.seq}, ${s.step} steps${time}`;
}

/** The part of a text that training holds out by default (`--val 0.1`, in code points). */
function lastTenth(text: string): string {
  const chars = [...text];
  return chars.slice(Math.trunc(chars.length * 0.9)).join("");
}

async function readOrFail(path: string, what: string): Promise<string> {
  try {
    return await readText(path);
  } catch (e) {
    throw new BundleError(`Cannot bundle: ${what}: ${(e as Error).message}`);
  }
}

/** models/README.md's text and where its table lies; checked before anything is written. */
async function readReadme(dir: string) {
  const path = `${dir}/README.md`;
  const text = await Deno.readTextFile(path).catch(() => {
    throw new BundleError(`Cannot bundle: ${path} is missing: it holds the models' table`);
  });
  const start = text.indexOf(MARK.start), end = text.indexOf(MARK.end);
  if (start < 0 || end < start) {
    throw new BundleError(`Cannot bundle: ${path} has no ${MARK.start} … ${MARK.end} table`);
  }
  return { path, text, start, end };
}

/** Rewrites models/README.md's table row for `name` (the rows between the markers). */
async function updateReadme(dir: string, name: string, row: string): Promise<string> {
  const { path, text, start, end } = await readReadme(dir);
  const lines = text.slice(start + MARK.start.length, end).trim().split("\n");
  const [head, rule, ...rows] = lines;
  const kept = rows.filter((r) => !r.startsWith(`| ${name} `));
  const table = [head, rule, ...[...kept, row].sort()].join("\n");
  await Deno.writeTextFile(
    path,
    `${text.slice(0, start + MARK.start.length)}\n${table}\n${text.slice(end)}`,
  );
  return path;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = flags(argv);
  if (positionals.length !== 2) {
    throw new BundleError(
      "Cannot bundle: expected CHECKPOINT NAME: deno run -A scripts/bundle_model.ts " +
        "checkpoints/best.safetensors shakespeare",
    );
  }
  const [checkpoint, name] = positionals;
  if (!/^[a-z0-9_-]+$/.test(name)) {
    throw new BundleError(`Cannot bundle: name ${JSON.stringify(name)}: use a-z, 0-9, _ and -`);
  }
  const model = await load(checkpoint).catch((e) => {
    throw new BundleError(`Cannot bundle: ${(e as Error).message}`);
  });
  const data = values.data ?? CORPORA[name];
  if (data === undefined && values["val-data"] === undefined) {
    throw new BundleError(
      `Cannot bundle: no corpus for ${JSON.stringify(name)}: give --data (its last tenth ` +
        "validates, as in training) or --val-data",
    );
  }
  const valText = values["val-data"] !== undefined
    ? await readOrFail(values["val-data"], "--val-data")
    : lastTenth(await readOrFail(data!, "--data"));

  await readReadme(values.out!);
  const half = fromBytes(toBytes(model, { dtype: "F16" }));
  const [valLoss, valLossF16] = [await evaluate(model, valText), await evaluate(half, valText)];
  const { maxDelta, top1Same } = await compare(model, half, valText);
  const prime = valText.split("\n")[0].slice(0, 40);
  const { greedySame, seededSame } = sameSamples(model, half, prime);
  const f16 = Math.abs(valLossF16 - valLoss) <= TOLERANCE.valLoss &&
    maxDelta <= TOLERANCE.logProb;
  const dtype = f16 ? "F16" : "F32";
  const info: Record<string, string> = {
    name,
    corpus: data ?? values["val-data"]!,
    valText: values["val-data"] ?? `the last 10% of ${data} (${[...valText].length} characters)`,
    valLoss: valLoss.toFixed(4),
    recipe: values.recipe ?? describeRecipe(model),
    date: values.date ?? new Date().toISOString().slice(0, 10),
    dtype,
    f16Check:
      `val loss F16 ${valLossF16.toFixed(4)} (Δ ${(valLossF16 - valLoss).toExponential(1)})` +
      `, largest Δ log p ${maxDelta.toExponential(2)} per character, top-1 same at ` +
      `${(top1Same * 100).toFixed(3)}% of positions, greedy sample ` +
      `${greedySame ? "identical" : "different"}, ${seededSame}/${SEEDS} seeded samples identical`,
  };
  const path = `${values.out}/${name}.safetensors`;
  const weightsOnly = { ...model, trainState: null };
  await save(weightsOnly, path, { dtype, info });
  const { size } = await Deno.stat(path);
  const c = model.config;
  const row = `| ${name} | ${info.corpus} | ${c.cell.toUpperCase()} ${c.layers}×${c.hidden}, ` +
    `vocabulary ${c.vocabSize} | ${info.recipe} | **${info.valLoss}** | ${dtype}, ` +
    `${(size / 1e6).toFixed(2)} MB | ${info.f16Check} | ${info.date} |`;
  const readme = await updateReadme(values.out!, name, row);
  console.log(`${path}: ${dtype}, ${size} bytes; val loss ${info.valLoss}; ${info.f16Check}`);
  console.log(`${readme}: row ${name} updated`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    if (!(e instanceof BundleError)) throw e;
    console.error(`error: ${e.message}`);
    Deno.exit(2);
  }
}
