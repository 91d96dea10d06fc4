// How both CLIs end on an error, in one place: a known error (a bad command line, or an error
// the library throws for bad input) is one line `error: <message>` on stderr and exit code 2;
// anything else is a bug, printed with its stack, exit code 1. A reader that goes away
// (`| head`) ends the run quietly, like any Unix filter.

import { TextError } from "../data/text.ts";
import { VocabError } from "../data/vocab.ts";
import { WebGpuUnavailableError } from "../engine/webgpu_engine.ts";
import { CheckpointError } from "../io/checkpoint.ts";
import { UsageError } from "./args.ts";

const KNOWN = [UsageError, TextError, VocabError, CheckpointError, WebGpuUnavailableError];

// The library's RangeErrors and TypeErrors name what is wrong, then the detail after a colon;
// the runtime's ("Cannot read properties of undefined") do not, and keep their stack.
function isKnown(e: unknown): e is Error {
  if (KNOWN.some((k) => e instanceof k)) return true;
  return (e instanceof RangeError || e instanceof TypeError) && e.message.includes(": ");
}

/** Runs a CLI's body and returns its exit code, or reports what it threw (see above). */
export async function runCli(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) return 0;
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    if (e instanceof UsageError) console.error(`usage: ${command}; --help lists the options`);
    if (isKnown(e)) return 2;
    console.error(e instanceof Error ? e.stack : e);
    return 1;
  }
}
