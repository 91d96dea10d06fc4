// loss.svg on disk: the events of a run kept for its picture (_plot.ts draws it; a run starts
// from the events its --log already holds, so a resumed run draws on), written atomically (a
// temporary file in the same folder, then a rename, as checkpoints are) so that a browser never
// shows half a file; and `--plot`, which reads a JSON log back.

import { UsageError } from "./args.ts";
import { lossSvg, type PlotEvent } from "./_plot.ts";

/** Writes `text` to `path` through a temporary file in the same folder and a rename. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  // The temporary name is one checkpoint.ts's isSaveTemporary recognises, so a run that was
  // killed mid-write leaves nothing the next run does not clean up.
  const tmp = `${dir}.${path.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** The events of one run that its picture shows, and the file it goes to. */
export class LossPlot {
  readonly path: string;
  readonly #events: PlotEvent[] = [];

  /** `history`: the events of the runs before this one (from its log), to draw on from. */
  constructor(path: string, history: PlotEvent[] = []) {
    this.path = path;
    for (const e of history) this.event(e);
  }

  /** Keeps the events the picture needs. */
  event(e: PlotEvent): void {
    if (["start", "step", "validation", "diverged"].includes(e.type)) this.#events.push(e);
  }

  /** Draws the picture of the run so far to `path` (nothing before the first step). */
  async write(): Promise<void> {
    if (!this.#events.some((e) => e.type === "step")) return;
    await writeTextAtomic(this.path, lossSvg(this.#events));
  }
}

/**
 * `--plot LOG`: the events of a JSON log (one event per line, as `--log` writes them). Throws a
 * UsageError naming the log when it cannot be read, a line is not an event, or there are no
 * steps to draw.
 */
export async function readLog(path: string): Promise<PlotEvent[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new UsageError(`Invalid --plot: cannot read ${path}: ${reason}`);
  }
  const events = parseLog(text, (line) => {
    throw new UsageError(
      `Invalid --plot: ${path} line ${line} is not a training event: give a --log file`,
    );
  });
  if (!events.some((e) => e.type === "step")) {
    throw new UsageError(`Invalid --plot: ${path} has no training steps to draw`);
  }
  return events;
}

/** The events of the log a run appends to, when it exists (lines that are not events skipped). */
export async function logHistory(path: string): Promise<PlotEvent[]> {
  try {
    return parseLog(await Deno.readTextFile(path), () => {});
  } catch {
    return [];
  }
}

// The events of a log's text, one JSON object with a `type` per line; `bad` hears of the others.
function parseLog(text: string, bad: (line: number) => void): PlotEvent[] {
  const events: PlotEvent[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let event: unknown = null;
    try {
      event = JSON.parse(lines[i]);
    } catch {
      // reported below
    }
    const ok = event !== null && typeof event === "object" &&
      typeof (event as PlotEvent).type === "string";
    if (ok) events.push(event as PlotEvent);
    else bad(i + 1);
  }
  return events;
}
