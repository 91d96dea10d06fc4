// `deno run -A sample.ts CHECKPOINT`: stream generated text to stdout.

import { CheckpointError, load } from "../io/checkpoint.ts";
import { sampleStream } from "../sample/sample.ts";
import { type FlagSpec, numberFlag, parseFlags, usage, UsageError } from "./_args.ts";

const FLAGS: Record<string, FlagSpec> = {
  prime: { type: "string", help: "text to start from (printed, then continued)", default: "" },
  length: { type: "string", help: "characters to generate", default: "500" },
  temperature: { type: "string", help: "softmax temperature (> 0)", default: "1" },
  "top-k": {
    type: "string",
    help: "draw among the k most likely characters (0 = all)",
    default: "0",
  },
  "top-p": {
    type: "string",
    help: "draw among the most likely characters of mass p",
    default: "1",
  },
  greedy: { type: "boolean", help: "always take the most likely character" },
  seed: { type: "string", help: "seed of the draws", default: "0" },
  threads: {
    type: "string",
    help: "threads for the WASM core",
    default: "cores for large models, else 1",
  },
  stop: { type: "string", help: "stop before this string (e.g. a newline: --stop $'\\n')" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const COMMAND = "deno run -A sample.ts CHECKPOINT [options]";

/** Runs the CLI with `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const encoder = new TextEncoder();
  try {
    const { values, positionals } = parseFlags(argv, FLAGS, true);
    if (values.help) {
      console.log(usage(COMMAND, FLAGS, "Streams text sampled from a checkpoint."));
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "Missing checkpoint: give the path of a .safetensors file"
          : `Too many arguments: ${positionals.slice(1).join(" ")}: give one checkpoint`,
      );
    }
    const options = {
      prime: (values.prime as string | undefined) ?? "",
      length: numberFlag("length", values.length, { integer: true, min: 0 }) ?? 500,
      temperature: numberFlag("temperature", values.temperature, { min: 0, exclusiveMin: true }) ??
        1,
      topK: numberFlag("top-k", values["top-k"], { integer: true, min: 0 }) ?? 0,
      topP: numberFlag("top-p", values["top-p"], { min: 0, max: 1, exclusiveMin: true }) ?? 1,
      greedy: Boolean(values.greedy),
      seed: numberFlag("seed", values.seed, { integer: true, min: 0, max: 2 ** 32 - 1 }) ?? 0,
      stop: values.stop as string | undefined,
      threads: numberFlag("threads", values.threads, { integer: true, min: 1, max: 64 }),
    };
    const model = await load(positionals[0]);
    const stream = sampleStream(model, options); // validates the prime before printing it
    const first = stream.next();
    await Deno.stdout.write(encoder.encode(options.prime));
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
  } catch (e) {
    // The reader went away (`| head`): like any Unix filter, stop quietly.
    if (e instanceof Deno.errors.BrokenPipe) return 0;
    const err = e as Error;
    const known = e instanceof UsageError || e instanceof CheckpointError ||
      e instanceof RangeError;
    console.error(`error: ${err.message}`);
    if (e instanceof UsageError) console.error(`usage: ${COMMAND}; --help lists the options`);
    if (!known) console.error(err.stack);
    return known ? 2 : 1;
  }
}
