// Runs the WASM engine's kernels: lays out its one WebAssembly.Memory for a config (after
// rejecting one over 4 GiB), instantiates the compiled core over it, starts the worker
// threads, and dispatches each kernel to every thread.

import type { CoreConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import { type CoreExports, coreMemory, type CoreVariant, instantiateCore } from "./wasm_module.ts";
import { KERNELS, ThreadPool } from "./_thread_pool.ts";
import { estimateBytes, MAX_BYTES, type MemoryPlan, PAGE, planMemory } from "./_wasm_plan.ts";

/** A kernel the runner dispatches: any export of the core but `setThread`. */
export type Kernel = (typeof KERNELS)[number];

const KERNEL_INDEX = Object.fromEntries(KERNELS.map((k, i) => [k, i])) as Record<Kernel, number>;

/** The memory, the core instantiated over it and the workers of one WASM engine. */
export class KernelRunner {
  /** The memory everything lives in. */
  readonly memory: WebAssembly.Memory;
  /** Where each region lies in `memory`. */
  readonly plan: MemoryPlan;
  /** Threads sharing every kernel once the workers have started. */
  readonly threads: number;

  #core: CoreExports;
  #pool: ThreadPool | null = null;
  #threaded = false;
  #disposed = false;

  constructor(
    config: Required<CoreConfig>,
    layout: ParamLayout,
    options: { variant: CoreVariant; threads: number },
  ) {
    const { variant, threads } = options;
    this.threads = threads;
    const needed = estimateBytes(config, layout.size);
    if (needed > MAX_BYTES) {
      throw new RangeError(
        `Invalid config: batch ${config.batch} × seq ${config.seq} × hidden ${config.hidden} ` +
          `needs ${(needed / 2 ** 30).toFixed(1)} GiB, over WebAssembly's 4 GiB: ` +
          `reduce batch, seq or hidden`,
      );
    }
    // One thread needs no shared memory (a web page without cross-origin isolation has none).
    const shared = threads > 1;
    // Size queries need an instance; a one-page memory is enough for them.
    const sizes = instantiateCore(variant, coreMemory(1, shared));
    if (sizes.heapBase() > PAGE) throw new Error("Internal error: core static data exceeds a page");
    this.plan = planMemory(config, layout, sizes);
    if (this.plan.bytes > MAX_BYTES) {
      throw new RangeError(
        `Invalid config: the layout needs ${(this.plan.bytes / 2 ** 30).toFixed(1)} GiB, ` +
          `over WebAssembly's 4 GiB: reduce batch, seq or hidden`,
      );
    }
    const pages = Math.ceil(this.plan.bytes / PAGE);
    try {
      this.memory = coreMemory(pages, shared);
    } catch (cause) {
      throw new RangeError(
        `Out of memory: the config needs ${(pages * PAGE / 2 ** 20).toFixed(0)} MiB: ` +
          `reduce batch, seq or hidden`,
        { cause },
      );
    }
    this.#core = instantiateCore(variant, this.memory);
    // Alone until the workers are up (see run).
    this.#core.setThread(0, 1, this.plan.sync);
    if (threads > 1) this.#pool = new ThreadPool(variant, this.memory, threads, this.plan.sync);
  }

  /** Resolves once the worker threads have started; rejects if one failed. */
  async whenReady(timeoutMs: number): Promise<void> {
    const pool = this.#pool;
    if (!pool) return;
    const deadline = performance.now() + timeoutMs;
    while (!pool.ready) {
      if (pool.failure || performance.now() > deadline) {
        throw new Error(
          `Thread start failed: ${pool.failure ?? "timed out"}: use threads: 1 (--threads 1)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Threads running the kernels now: 1 until the workers have started. */
  get activeThreads(): number {
    if (this.#pool && !this.#threaded && this.#pool.ready) {
      this.#core.setThread(0, this.threads, this.plan.sync);
      this.#threaded = true;
    }
    return this.#threaded ? this.threads : 1;
  }

  /**
   * Runs a kernel on every thread: posts it to the workers, then runs it here as thread 0.
   * Until the workers have started, this thread runs every kernel alone. A profile
   * (_probe.ts) times kernels by wrapping this method on one runner.
   */
  run<K extends Kernel>(name: K, ...args: Parameters<CoreExports[K]>): number {
    if (this.#disposed) {
      throw new Error("Core disposed: create a new WasmEngine to run it again");
    }
    if (this.#pool && this.activeThreads > 1) this.#pool.post(KERNEL_INDEX[name], args as number[]);
    return (this.#core[name] as (...a: number[]) => number)(...(args as number[]));
  }

  /** Stops the worker threads (if any); running a kernel afterwards throws. */
  close(): void {
    this.#pool?.close();
    this.#pool = null;
    this.#disposed = true;
  }
}
