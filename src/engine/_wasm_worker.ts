/// <reference lib="deno.worker" />
// A worker thread of the WASM core: instantiate over the shared memory, then run kernels as
// the main thread posts them (see _thread_pool.ts). It never returns to its event loop while
// running: it spins briefly, then sleeps in Atomics.wait, on the command sequence number.

import {
  ARGS_BYTE,
  EXIT,
  FAILED,
  KERNEL,
  KERNELS,
  MAX_ARGS,
  READY,
  SEQ,
  SYNC_BYTES,
  type WorkerInit,
} from "./_thread_pool.ts";
import { instantiateShared } from "./wasm_module.ts";

const SPINS = 20_000;

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const { variant, memory, id, count, sync } = event.data;
  const i32 = new Int32Array(memory.buffer, sync, SYNC_BYTES / 4);
  const f64 = new Float64Array(memory.buffer, sync + ARGS_BYTE, MAX_ARGS);
  let core;
  try {
    core = instantiateShared(variant, memory);
    core.setThread(id, count, sync);
  } catch {
    Atomics.store(i32, FAILED, 1);
    Atomics.notify(i32, READY);
    return;
  }
  const kernels = KERNELS.map((name) => core[name] as (...args: number[]) => number);
  let seen = Atomics.load(i32, SEQ);
  // Closed while this worker was starting (no kernel is posted before every worker is ready).
  if (Atomics.load(i32, KERNEL) === EXIT) return self.close();
  Atomics.add(i32, READY, 1);
  Atomics.notify(i32, READY);
  const args: number[] = new Array(MAX_ARGS);
  for (;;) {
    let spins = 0;
    while (Atomics.load(i32, SEQ) === seen) {
      if (++spins > SPINS) Atomics.wait(i32, SEQ, seen);
    }
    seen = Atomics.load(i32, SEQ);
    const kernel = Atomics.load(i32, KERNEL);
    if (kernel === EXIT) break;
    for (let i = 0; i < MAX_ARGS; i++) args[i] = f64[i];
    kernels[kernel](...args);
  }
  self.close();
};
