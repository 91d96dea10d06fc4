// Readers of a WasmCore's backward scratch that only the tests need (the gradients of the
// initial state and the dropout masks): kept off the public class, reached through this map,
// which each core fills when it is created.

/** The scratch readers of one core. */
export interface CoreProbe {
  /** dLoss/dh0 of `layer` after `backward`, `[batch, hidden]`. */
  dh0(layer: number): Float32Array;
  /** dLoss/dc0 of `layer` after `backward` (LSTM only), `[batch, hidden]`. */
  dc0(layer: number): Float32Array;
  /** The dropout mask last applied to `layer`'s output, `[seq, batch, hidden]`, or null. */
  dropoutMask(layer: number): Float32Array | null;
  /** Starts adding each kernel's milliseconds and calls into `timings` (null stops). */
  profile(timings: Map<string, KernelTiming> | null): void;
  /** Runs n barriers in a row on every thread (one dispatch); returns the milliseconds. */
  barriers(n: number): number;
}

/** What a profile adds up for one kernel. */
export interface KernelTiming {
  /** Milliseconds from dispatch to the kernel's closing barrier, on the calling thread. */
  ms: number;
  /** Times it ran. */
  calls: number;
}

/** Every live core's readers, by core. */
export const probes: WeakMap<object, CoreProbe> = new WeakMap();

function probe(core: object): CoreProbe {
  const p = probes.get(core);
  if (!p) throw new TypeError("Cannot probe: not a WasmCore");
  return p;
}

/** dLoss/dh0 of `layer` after `backward`. */
export function dh0(core: object, layer: number): Float32Array {
  return probe(core).dh0(layer);
}

/** dLoss/dc0 of `layer` after `backward` (LSTM only). */
export function dc0(core: object, layer: number): Float32Array {
  return probe(core).dc0(layer);
}

/** The dropout mask last applied to `layer`'s output, or null without dropout. */
export function dropoutMask(core: object, layer: number): Float32Array | null {
  return probe(core).dropoutMask(layer);
}

/**
 * Adds the milliseconds and calls of every kernel the core runs into `timings`, by name, until
 * called with null.
 */
export function profile(core: object, timings: Map<string, KernelTiming> | null): void {
  probe(core).profile(timings);
}

/** Milliseconds of one dispatch that runs n barriers in a row on every thread. */
export function barriers(core: object, n: number): number {
  return probe(core).barriers(n);
}
