// Worker threads for the WASM core. Each worker instantiates the same module over the one
// shared memory and waits for commands in a small block of that memory: a sequence number, a
// kernel index and up to 24 float64 arguments. The main thread writes a command, bumps the
// sequence and runs the same kernel itself as thread 0; every kernel ends with a barrier, so
// when the main thread's call returns, every thread's share is done. No message per call:
// after start-up the only traffic is Atomics on shared memory.

import type { CoreVariant } from "./wasm_module.ts";

/** Bytes of the synchronisation block (barrier, command, arguments). */
export const SYNC_BYTES = 256;

// Int32 slots in the block; the barrier uses slots 0 and 1 (see assembly/threads.ts).
export const SEQ = 2;
export const KERNEL = 3;
export const READY = 4;
export const FAILED = 5;
export const ARGS_BYTE = 64; // f64 arguments from here
export const MAX_ARGS = 24;
export const EXIT = -1;

/** The kernels a command may name, by index (generated from assembly/ by `deno task build`). */
export { KERNELS } from "../../build/core_exports.ts";

/** Message that starts a worker. */
export interface WorkerInit {
  variant: CoreVariant;
  memory: WebAssembly.Memory;
  id: number;
  count: number;
  sync: number;
}

/** The workers of one core: threads 1..count-1 (the caller is thread 0). */
export class ThreadPool {
  readonly count: number;
  #workers: Worker[] = [];
  #i32: Int32Array;
  #f64: Float64Array;
  #ready = false;
  /** Why a worker failed to start, if one did (the caller then runs alone). */
  failure: string | null = null;

  constructor(variant: CoreVariant, memory: WebAssembly.Memory, count: number, sync: number) {
    this.count = count;
    this.#i32 = new Int32Array(memory.buffer, sync, SYNC_BYTES / 4);
    this.#f64 = new Float64Array(memory.buffer, sync + ARGS_BYTE, MAX_ARGS);
    for (let id = 1; id < count; id++) {
      const worker = new Worker(new URL("./_wasm_worker.ts", import.meta.url), { type: "module" });
      worker.onerror = (event) => {
        event.preventDefault(); // the caller carries on alone
        // A script that fails to load reports no message (a browser's plain error event).
        this.failure = event.message || "the worker's script failed to load";
      };
      const init: WorkerInit = { variant, memory, id, count, sync };
      worker.postMessage(init);
      this.#workers.push(worker);
    }
  }

  /**
   * True once every worker has instantiated the core. Never blocks: a worker loaded over the
   * network needs the caller's event loop to start, so until then the caller runs alone (the
   * results do not depend on the thread count).
   */
  get ready(): boolean {
    if (!this.#ready) this.#ready = Atomics.load(this.#i32, READY) === this.count - 1;
    if (!this.failure && Atomics.load(this.#i32, FAILED) !== 0) {
      this.failure = "a worker could not instantiate the core";
    }
    return this.#ready;
  }

  /** Tells the workers to run `kernel` with `args`; the caller then runs it as thread 0. */
  post(kernel: number, args: ArrayLike<number>): void {
    if (args.length > MAX_ARGS) throw new Error("Internal error: too many kernel arguments");
    for (let i = 0; i < args.length; i++) this.#f64[i] = args[i];
    Atomics.store(this.#i32, KERNEL, kernel);
    Atomics.add(this.#i32, SEQ, 1);
    Atomics.notify(this.#i32, SEQ);
  }

  /**
   * Stops the workers. EXIT goes through the shared memory even to a worker still starting:
   * terminate() does not wake one asleep in Atomics.wait, which would keep the process alive.
   * Workers that are up leave by themselves on EXIT (self.close, between kernels): terminating
   * them as well would tear a thread down from outside while it may still be running, a race
   * with the process's own exit when the last core of a program is disposed just before it.
   * Only when some worker never started (it may still be loading) does terminate() stop them.
   */
  close(): void {
    if (this.#workers.length === 0) return;
    const started = this.ready;
    Atomics.store(this.#i32, KERNEL, EXIT);
    Atomics.add(this.#i32, SEQ, 1);
    Atomics.notify(this.#i32, SEQ);
    if (!started) { for (const w of this.#workers) w.terminate(); }
    this.#workers = [];
  }
}
