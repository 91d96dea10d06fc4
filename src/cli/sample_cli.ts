// `deno run -A sample.ts CHECKPOINT`: stream generated text to stdout; `--count N` draws N
// samples, `--interactive` continues each line read from stdin, `--beam N` prints the most
// likely continuation instead of a random one (`--all-beams`: every beam, with its score).
//
// Every sample is printed as the prime, its continuation, then a newline unless the text already
// ends in one, so the output of `--count N` and of `--interactive` is exactly the concatenation
// of the single runs they stand for (see FLAGS).

import { load } from "../io/checkpoint.ts";
import { BUNDLED_MODELS } from "../io/models.ts";
import type { CharModel } from "../model/model.ts";
import { beamSearch } from "../sample/beam.ts";
import {
  checkSampleOptions,
  SAMPLE_DEFAULTS,
  type SampleOptions,
  sampleStream,
} from "../sample/sample.ts";
import { type FlagSpec, HELP_FLAG, numberFlag, parseFlags, usage, UsageError } from "./args.ts";
import { runCli } from "./_errors.ts";

/** Characters generated unless --length says otherwise (the CLI's own default). */
const LENGTH = 500;

const FLAGS: Record<string, FlagSpec> = {
  prime: { type: "string", help: "text to start from (printed, then continued)", default: "" },
  length: { type: "string", help: "characters to generate", default: String(LENGTH) },
  temperature: {
    type: "string",
    help: "softmax temperature (> 0)",
    default: String(SAMPLE_DEFAULTS.temperature),
  },
  "top-k": {
    type: "string",
    help: "draw among the k most likely characters (0 = all)",
    default: String(SAMPLE_DEFAULTS.topK),
  },
  "top-p": {
    type: "string",
    help: "draw among the most likely characters of mass p",
    default: String(SAMPLE_DEFAULTS.topP),
  },
  greedy: { type: "boolean", help: "always take the most likely character" },
  beam: {
    type: "string",
    help: "beam search of N beams: the most likely continuation, not a draw",
  },
  "all-beams": {
    type: "boolean",
    help: "with --beam: print every beam, best first, as JSON lines (see above)",
  },
  seed: { type: "string", help: "seed of the draws", default: String(SAMPLE_DEFAULTS.seed) },
  threads: {
    type: "string",
    help: "threads for the WASM core",
    default: "cores for large models, else 1",
  },
  stop: { type: "string", help: "stop before this string (e.g. a newline: --stop $'\\n')" },
  count: { type: "string", help: "samples to draw (sample i is --seed SEED+i's)", default: "1" },
  interactive: { type: "boolean", help: "continue each line read from stdin (Ctrl-D ends)" },
  help: HELP_FLAG,
};

const COMMAND = "deno run -A sample.ts CHECKPOINT [options]";

const INTRO = `Streams text sampled from a checkpoint: the prime, then its continuation.
CHECKPOINT is a .safetensors file, or the name of a model bundled in models/
(${BUNDLED_MODELS.join(", ")}): sample.ts shakespeare --prime "ROMEO:".

--count N prints N samples, each ending in a newline; sample i (from 0) is the one
--seed SEED+i (mod 2^32) prints alone, so any one can be drawn again by itself.

--interactive reads lines from stdin as they come (typed or piped) and prints each
followed by its continuation, exactly as --prime LINE with the same flags would: every
line starts from a fresh state with the same --seed. A line with characters the model
does not know is named on stderr and skipped; so is an empty line. Ctrl-D (the end of
the input) ends it. The prompt "> " shows only when stdin is a terminal.

--beam N keeps the N most likely continuations at each step (beam search) and prints
the best: no draw, so --temperature, --top-k, --top-p and --greedy do not apply (and
--seed only draws the first character when there is no prime). Beams are ranked by
their mean log-probability per character (nats; minus the loss training reports), so
one that ends early at --stop competes on how likely its characters are, not on its
length; the stop string's own characters count. The search runs to the end before the
first character prints. --all-beams prints, instead of the text, one JSON line per
beam, best first: {"text", "score", "logProb", "chars", "stopped"}, where text is the
continuation (without the prime or the stop string) and score = logProb / chars.`;

/** Runs the CLI with `argv`; returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runCli(COMMAND, () => run(argv));
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS, true);
  if (values.help) {
    console.log(usage(COMMAND, FLAGS, INTRO));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "Invalid command line: no checkpoint given: give the path of a .safetensors file, " +
          `or a bundled model's name (${BUNDLED_MODELS.join(", ")})`
        : `Invalid command line: too many arguments: ${
          positionals.slice(1).join(" ")
        }: give one checkpoint`,
    );
  }
  const number = (name: string, integer = false) => numberFlag(name, values[name], { integer });
  const count = number("count", true) ?? 1;
  if (count < 1) throw new UsageError(`Invalid --count: must be an integer ≥ 1, got ${count}`);
  const interactive = Boolean(values.interactive);
  for (const other of ["count", "prime"]) {
    if (interactive && values[other] !== undefined) {
      throw new UsageError(
        `Invalid command line: --interactive with --${other}: --interactive reads each prime ` +
          `from stdin and samples it once`,
      );
    }
  }
  // Sampling's own options: its checks and defaults are the library's.
  const options: SampleOptions = {
    prime: values.prime as string | undefined,
    length: number("length", true) ?? LENGTH,
    temperature: number("temperature"),
    topK: number("top-k", true),
    topP: number("top-p"),
    greedy: Boolean(values.greedy),
    beam: number("beam", true),
    seed: number("seed", true),
    stop: values.stop as string | undefined,
    threads: number("threads", true),
  };
  const allBeams = Boolean(values["all-beams"]);
  if (allBeams && options.beam === undefined) {
    throw new UsageError(
      "Invalid command line: --all-beams without --beam: give the number of beams, e.g. --beam 5",
    );
  }
  const model = await load(positionals[0]);
  // Checks the options before anything is printed (and fills in the seed).
  const { seed } = checkSampleOptions(model, options);
  const emit = allBeams ? printBeams : print;
  if (interactive) return await loop(model, { options, emit });
  for (let i = 0; i < count; i++) await emit(model, { ...options, seed: (seed + i) % 2 ** 32 });
  return 0;
}

const encoder = new TextEncoder();

/** Prints the prime, streams the continuation, then a newline unless the text ends in one. */
async function print(model: CharModel, options: SampleOptions): Promise<void> {
  let chunk = options.prime ?? "";
  let last = chunk.at(-1);
  for (const ch of sampleStream(model, options)) {
    chunk += ch;
    last = ch;
    if (chunk.length >= 16 || ch === "\n") {
      await Deno.stdout.write(encoder.encode(chunk));
      chunk = "";
    }
  }
  await Deno.stdout.write(encoder.encode(last === "\n" ? chunk : chunk + "\n"));
}

/** `--all-beams`: every beam of `--beam N`, best first, one JSON line each. */
async function printBeams(model: CharModel, options: SampleOptions): Promise<void> {
  const { prime, length, beam, seed, threads, stop } = options;
  const beams = beamSearch(model, { prime, length, beam, seed, threads, stop });
  const lines = beams.map(({ text, score, logProb, chars, stopped }) =>
    JSON.stringify({ text, score, logProb, chars, stopped }) + "\n"
  );
  await Deno.stdout.write(encoder.encode(lines.join("")));
}

/**
 * `--interactive`: each line of stdin is a prime, sampled as `--prime LINE` would be (the same
 * seed each time, so a line's text does not depend on the lines before). A line with characters
 * the model does not know is named on stderr and skipped; an empty line is skipped. The prompt
 * `> ` (on stderr) shows only when stdin is a terminal.
 */
async function loop(
  model: CharModel,
  { options, emit }: {
    options: SampleOptions;
    /** Prints one sample: print, or printBeams under --all-beams. */
    emit: (model: CharModel, options: SampleOptions) => Promise<void>;
  },
): Promise<number> {
  const terminal = Deno.stdin.isTerminal();
  const prompt = (text = "> ") => terminal && Deno.stderr.writeSync(encoder.encode(text));
  prompt();
  for await (const line of lines(Deno.stdin.readable)) {
    if (line !== "") {
      const primed = { ...options, prime: line };
      try {
        checkSampleOptions(model, primed); // the other options passed: only the line can fail
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        console.error(e.message); // the characters the model does not know; then the next line
        prompt();
        continue;
      }
      await emit(model, primed);
    }
    prompt();
  }
  prompt("\n"); // after Ctrl-D, the shell's prompt starts on a line of its own
  return 0;
}

/** The lines of a byte stream as they arrive, without their "\n" or "\r\n". */
export async function* lines(readable: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const text of readable.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer !== "") yield buffer.replace(/\r$/, "");
}
