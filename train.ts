/**
 * Trains a character-level LSTM: `deno run -A train.ts [--data FILE] [options]`.
 * With no flags it trains on the bundled Anna Karenina; `--help` lists every flag.
 *
 * @module
 */
import { main } from "./src/cli/train_cli.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
