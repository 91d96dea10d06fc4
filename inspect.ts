/**
 * Which cells of a checkpoint follow which features of a text, and an HTML report of them:
 * `deno run -A inspect.ts CHECKPOINT --text FILE [--top 10] [--cell L:N] [--out report.html]`.
 *
 * @module
 */
import { main } from "./src/cli/inspect_cli.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
