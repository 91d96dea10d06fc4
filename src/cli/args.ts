// Flag parsing for the CLIs (train.ts, sample.ts, inspect.ts, and the studio's server):
// node:util's parseArgs (strict, so an unknown flag is an error), then typed values, every
// failure a UsageError (exit 2). A value's limits are the library's to check; only the CLI's
// own settings give a range here. Public (not `_args.ts`) because studio/server.ts parses its
// flags with it too.

import { parseArgs } from "node:util";

/**
 * A bad command line: the CLI prints the message and a usage hint, and exits with 2.
 *
 * @example Telling a bad command line from other errors
 * ```ts
 * import { numberFlag, UsageError } from "./args.ts";
 * try {
 *   numberFlag("port", "eighty");
 * } catch (e) {
 *   console.log(e instanceof UsageError); // true
 * }
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * One flag: its type, default and help text.
 *
 * @example A flag that takes a value
 * ```ts
 * import type { FlagSpec } from "./args.ts";
 * const port: FlagSpec = { type: "string", help: "the port to listen on", default: "8000" };
 * console.log(port.default); // "8000"
 * ```
 */
export interface FlagSpec {
  type: "string" | "boolean";
  help: string;
  default?: string;
  short?: string;
}

/**
 * `-h`, `--help`.
 *
 * @example Asking for help
 * ```ts
 * import { HELP_FLAG, parseFlags } from "./args.ts";
 * console.log(parseFlags(["-h"], { help: HELP_FLAG }).values.help); // true
 * ```
 */
export const HELP_FLAG: FlagSpec = { type: "boolean", short: "h", help: "show this help" };

/**
 * Parses argv against `specs`; throws UsageError for unknown flags and missing values. A
 * negative number after a flag that takes a value is that value (`--weight-decay -1` reads as
 * `--weight-decay=-1`), so the library's check of its range, not parseArgs, reports it.
 *
 * @example Parsing a command line
 * ```ts
 * import { type FlagSpec, parseFlags } from "./args.ts";
 * const specs: Record<string, FlagSpec> = {
 *   length: { type: "string", help: "characters to draw" },
 *   lines: { type: "boolean", help: "one example per line" },
 * };
 * const { values } = parseFlags(["--length", "-5", "--lines"], specs);
 * console.log(values.length, values.lines); // "-5" true
 * ```
 */
export function parseFlags(
  argv: string[],
  specs: Record<string, FlagSpec>,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = s.short ? { type: s.type, short: s.short } : { type: s.type };
  }
  const args: string[] = [];
  const end = argv.indexOf("--"); // positionals only after it
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") && (end < 0 || i < end) ? argv[i].slice(2) : "";
    const next = argv[i + 1];
    if (
      specs[name]?.type === "string" && next?.startsWith("-") && next.length > 1 &&
      !Number.isNaN(Number(next))
    ) {
      args.push(`${argv[i]}=${next}`);
      i++;
    } else args.push(argv[i]);
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    const message = (e as Error).message.split("\n")[0].replace(/\.$/, "");
    throw new UsageError(`Invalid command line: ${message}`);
  }
}

/**
 * The help text: one line per flag with its default.
 *
 * @example A command's help
 * ```ts
 * import { HELP_FLAG, usage } from "./args.ts";
 * console.log(usage("deno run -A tool.ts [options]", { help: HELP_FLAG }));
 * ```
 */
export function usage(command: string, specs: Record<string, FlagSpec>, intro = ""): string {
  const lines = [`Usage: ${command}`, ...(intro ? ["", intro] : []), "", "Options:"];
  for (const [name, s] of Object.entries(specs)) {
    const flag = `  ${s.short ? `-${s.short}, ` : ""}--${name}${
      s.type === "string" ? " VALUE" : ""
    }`;
    const dflt = s.default !== undefined ? ` (default: ${s.default})` : "";
    lines.push(`${flag.padEnd(28)} ${s.help}${dflt}`);
  }
  return lines.join("\n");
}

/**
 * A number flag (an integer when `integer`), within [min, max] when they are given.
 *
 * @example An integer flag in a range
 * ```ts
 * import { numberFlag } from "./args.ts";
 * console.log(numberFlag("count", "3", { integer: true, min: 1 })); // 3
 * console.log(numberFlag("count", undefined)); // undefined: not given
 * ```
 */
export function numberFlag(
  name: string,
  raw: string | boolean | undefined,
  { integer = false, min = -Infinity, max = Infinity, exclusiveMin = false } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const value = text === "" ? NaN : Number(text);
  const kind = integer ? "an integer" : "a number";
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`Invalid --${name}: ${JSON.stringify(raw)} is not ${kind}`);
  }
  if (value < min || (exclusiveMin && value === min) || value > max) {
    const range = `${exclusiveMin ? "(" : "["}${min}, ${max}]`;
    throw new UsageError(`Invalid --${name}: ${value} is outside ${range}`);
  }
  return value;
}
