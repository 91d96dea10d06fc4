/**
 * Streams text from a checkpoint: `deno run -A sample.ts CHECKPOINT [--prime TEXT] [options]`.
 *
 * @module
 */
import { main } from "./src/cli/sample_cli.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
