// `deno run -A sample.ts CHECKPOINT`: stream generated text to stdout.

import { load } from "../io/checkpoint.ts";
import { SAMPLE_DEFAULTS, sampleStream } from "../sample/sample.ts";
import { type FlagSpec, HELP_FLAG, numberFlag, parseFlags, usage, UsageError } from "./_args.ts";
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
  seed: { type: "string", help: "seed of the draws", default: String(SAMPLE_DEFAULTS.seed) },
  threads: {
    type: "string",
    help: "threads for the WASM core",
    default: "cores for large models, else 1",
  },
  stop: { type: "string", help: "stop before this string (e.g. a newline: --stop $'\\n')" },
  help: HELP_FLAG,
};

const COMMAND = "deno run -A sample.ts CHECKPOINT [options]";

/** Runs the CLI with `argv`; returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runCli(COMMAND, () => run(argv));
}

async function run(argv: string[]): Promise<number> {
  const encoder = new TextEncoder();
  const { values, positionals } = parseFlags(argv, FLAGS, true);
  if (values.help) {
    console.log(usage(COMMAND, FLAGS, "Streams text sampled from a checkpoint."));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "Invalid command line: no checkpoint given: give the path of a .safetensors file"
        : `Invalid command line: too many arguments: ${
          positionals.slice(1).join(" ")
        }: give one checkpoint`,
    );
  }
  const number = (name: string, integer = false) => numberFlag(name, values[name], { integer });
  // Sampling's own options: its checks and defaults are the library's.
  const options = {
    prime: values.prime as string | undefined,
    length: number("length", true) ?? LENGTH,
    temperature: number("temperature"),
    topK: number("top-k", true),
    topP: number("top-p"),
    greedy: Boolean(values.greedy),
    seed: number("seed", true),
    stop: values.stop as string | undefined,
    threads: number("threads", true),
  };
  const model = await load(positionals[0]);
  const stream = sampleStream(model, options); // checks the options before printing the prime
  const first = stream.next();
  await Deno.stdout.write(encoder.encode(options.prime ?? ""));
  if (!first.done) await Deno.stdout.write(encoder.encode(first.value));
  let chunk = "";
  for (const ch of stream) {
    chunk += ch;
    if (chunk.length >= 16 || ch === "\n") {
      await Deno.stdout.write(encoder.encode(chunk));
      chunk = "";
    }
  }
  await Deno.stdout.write(encoder.encode(chunk + "\n"));
  return 0;
}
