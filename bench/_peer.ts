// What the peer scripts of bench/compare.ts share: their flags and their peak RSS.

import { parseArgs } from "node:util";

/** The config flags every peer takes, with defaults (S), plus `extra` string flags. */
export function peerArgs(extra: string[] = []) {
  const { values } = parseArgs({
    args: Deno.args,
    options: Object.fromEntries(
      [
        "hidden",
        "layers",
        "batch",
        "seq",
        "vocab",
        "threads",
        "rounds",
        "steps",
        "sample",
        "cell",
        ...extra,
      ]
        .map((k) => [k, { type: "string" as const }]),
    ),
  });
  const n = (k: string, d: number) => Number(values[k] ?? d);
  return {
    values,
    n,
    H: n("hidden", 128),
    L: n("layers", 2),
    B: n("batch", 32),
    T: n("seq", 64),
    V: n("vocab", 83),
    cell: (values.cell ?? "lstm") as "lstm" | "gru" | "rnn",
  };
}

/** Peak RSS of this process in MiB (Linux VmHWM); NaN where /proc is missing. */
export function peakRssMiB(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    return Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1]) / 1024;
  } catch {
    return NaN;
  }
}
