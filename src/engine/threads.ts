// How many threads to use when the caller does not say.

/** The number of logical cores Deno reports (at least 1), capped at 16. */
export function defaultThreads(): number {
  const n = navigator.hardwareConcurrency;
  return Math.max(1, Math.min(16, Number.isInteger(n) ? n : 1));
}
