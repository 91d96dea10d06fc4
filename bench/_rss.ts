// Peak resident set size of this process (Linux VmHWM), in MiB; NaN where /proc is missing.

/** Peak RSS in MiB. */
export function peakRssMiB(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}
