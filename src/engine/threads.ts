// How many threads the WASM core may use, and how many when the caller does not say.

/** The most threads a WASM core runs. */
export const MAX_THREADS = 64;

/**
 * The number of logical cores the runtime reports (at least 1), capped at 16; 1 where worker
 * threads cannot run (see {@linkcode threadsUnavailable}).
 */
export function defaultThreads(): number {
  if (threadsUnavailable() !== null) return 1;
  const n = navigator.hardwareConcurrency;
  return Math.max(1, Math.min(16, Number.isInteger(n) ? n : 1));
}

let unavailable: string | null | undefined;

/**
 * Why the WASM core cannot run worker threads here, or null when it can. In Deno it always
 * can. In a web page it needs cross-origin isolation (the headers
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`)
 * for a shared memory, and a thread that may block in `Atomics.wait` (a Worker, not the page's
 * main thread) to meet the other threads at the core's barriers.
 */
export function threadsUnavailable(): string | null {
  if (unavailable !== undefined) return unavailable;
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  if (typeof SharedArrayBuffer === "undefined" || g.crossOriginIsolated === false) {
    unavailable = "this page is not cross-origin isolated: serve it with the headers " +
      "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp";
  } else if (typeof g.Worker !== "function") {
    unavailable = "this context cannot start Workers";
  } else {
    unavailable = null;
    try {
      // Returns "not-equal" at once where this thread may block; throws where it may not.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    } catch {
      unavailable = "a page's main thread cannot wait for the other threads (Atomics.wait): " +
        "run charlstm in a Worker to use threads";
    }
  }
  return unavailable;
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
