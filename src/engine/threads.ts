// How many threads the WASM core may use, and how many when the caller does not say.

/** The most threads a WASM core runs. */
export const MAX_THREADS = 64;

/** The number of logical cores Deno reports (at least 1), capped at 16. */
export function defaultThreads(): number {
  const n = navigator.hardwareConcurrency;
  return Math.max(1, Math.min(16, Number.isInteger(n) ? n : 1));
}

/** Returns `threads` when it is an integer in [1, MAX_THREADS]; throws a RangeError otherwise. */
export function checkThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(
      `Invalid option: threads must be an integer in [1, ${MAX_THREADS}], got ${threads}`,
    );
  }
  return threads;
}
