// What only the tests and benchmarks need of an engine, kept off the public classes: of a
// WasmEngine, the gradients of the initial state, the dropout masks, a per-kernel profile and
// the price of a barrier; of a WebGpuEngine, a forward or a backward pass on its own, reads of
// what it leaves on the GPU and the number of dispatches in a step. Everything goes through the
// one door each class opens once (_seam.ts): no engine registers itself when it is created,
// and a profile wraps one runner's dispatch instead of a check in every kernel call.

import { WasmEngine } from "./wasm_engine.ts";
import { WebGpuEngine } from "./webgpu_engine.ts";
import { type GpuInside, seam } from "./_seam.ts";
import { KernelRunner } from "./_wasm_runner.ts";
import { dispatchesPerStep as countDispatches } from "./webgpu/step.ts";
import { SCALAR } from "./webgpu/_wgsl_common.ts";

/** What a profile adds up for one kernel. */
export interface KernelTiming {
  /** Milliseconds from dispatch to the kernel's closing barrier, on the calling thread. */
  ms: number;
  /** Times it ran. */
  calls: number;
}

function inside(engine: object): { runner: KernelRunner; config: WasmEngine["config"] } {
  if (!(engine instanceof WasmEngine) || !seam.wasm) {
    throw new TypeError("Cannot probe: not a WasmEngine");
  }
  return { runner: seam.wasm(engine).runner, config: engine.config };
}

function stateView(engine: object, layer: number, which: "dh" | "dc"): Float32Array {
  const { runner, config } = inside(engine);
  const at = runner.plan.layers[layer]?.[which];
  if (at === undefined) {
    throw new RangeError(`Invalid layer: ${layer}: expected an integer in [0, ${config.layers})`);
  }
  return new Float32Array(runner.memory.buffer, at, config.batch * config.hidden);
}

/** dLoss/dh0 of `layer` after `backward`, `[batch, hidden]`. */
export function dh0(engine: object, layer: number): Float32Array {
  return stateView(engine, layer, "dh");
}

/** dLoss/dc0 of `layer` after `backward` (LSTM only), `[batch, hidden]`. */
export function dc0(engine: object, layer: number): Float32Array {
  return stateView(engine, layer, "dc");
}

/** The dropout mask last applied to `layer`'s output, `[seq, batch, hidden]`, or null. */
export function dropoutMask(engine: object, layer: number): Float32Array | null {
  const { runner, config } = inside(engine);
  const at = runner.plan.layers[layer]?.mask;
  const { batch: B, seq: T, hidden: H } = config;
  return at ? new Float32Array(runner.memory.buffer, at, T * B * H) : null;
}

/**
 * Adds the milliseconds and calls of every kernel the engine runs into `timings`, by name, until
 * called with null: wraps that engine's runner alone while it lasts.
 */
export function profile(engine: object, timings: Map<string, KernelTiming> | null): void {
  const { runner } = inside(engine);
  const plain = KernelRunner.prototype.run;
  if (timings === null) {
    runner.run = plain;
    return;
  }
  const run = plain as (this: KernelRunner, name: string, ...args: number[]) => number;
  runner.run = function (name, ...args) {
    const t0 = performance.now();
    const result = run.call(this, name, ...(args as number[]));
    const t = timings.get(name) ?? { ms: 0, calls: 0 };
    timings.set(name, { ms: t.ms + performance.now() - t0, calls: t.calls + 1 });
    return result;
  };
}

/** Milliseconds of one dispatch that runs n barriers in a row on every thread. */
export function barriers(engine: object, n: number): number {
  const { runner } = inside(engine);
  const t0 = performance.now();
  runner.run("barriers", n);
  return performance.now() - t0;
}

function gpu(engine: object): GpuInside {
  if (!(engine instanceof WebGpuEngine) || !seam.webgpu) {
    throw new TypeError("Cannot probe: not a WebGpuEngine");
  }
  return seam.webgpu(engine);
}

/**
 * Records and submits a forward pass over the engine's `inputs` (the loss lands on the GPU; read
 * it with `readLoss`). With `training` (default true), dropout masks of optimizer step `step`
 * apply and `backward` may follow.
 */
export function forward(engine: object, options: { training?: boolean; step?: number } = {}): void {
  const step = options.step ?? 0;
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`Invalid step: ${step}: expected a non-negative integer`);
  }
  gpu(engine).forward(options.training ?? true, step);
}

/** Records and submits the backward pass of the last training forward (gradients on GPU). */
export function backward(engine: object): void {
  gpu(engine).backward();
}

/** The mean loss of the last forward. */
export async function readLoss(engine: object): Promise<number> {
  const p = gpu(engine);
  return (await p.download(p.buffers.scalars, SCALAR.loss * 4, 4))[0];
}

/** Gradients after `backward`, in the layout of `params`. */
export function readGrads(engine: object): Promise<Float32Array> {
  const p = gpu(engine);
  return p.download(p.buffers.grads, 0, p.layout.size * 4);
}

/** Logits of the last forward, time-major `[seq, batch, vocab]`. */
export function readLogits(engine: object): Promise<Float32Array> {
  const p = gpu(engine);
  const { batch: B, seq: T, vocabSize: V } = p.config;
  return p.download(p.buffers.logits, 0, T * B * V * 4);
}

/**
 * A state of `layer`, `[batch, hidden]`: `h`/`c` at slot `slot` (0 = initial, seq = final),
 * `dh0`/`dc0` (gradients of the initial state after backward). `c` and `dc0` are the LSTM's;
 * the GRU keeps scratch in `c` (as the WASM engine), the RNN nothing.
 */
export function readState(
  engine: object,
  layer: number,
  which: "h" | "c" | "dh0" | "dc0",
  slot = 0,
): Promise<Float32Array> {
  const p = gpu(engine);
  const { batch: B, hidden: H, layers: L } = p.config;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
    throw new RangeError(`Invalid layer: ${layer}: expected an integer in [0, ${L})`);
  }
  const lb = p.buffers.layers[layer];
  const bytes = B * H * 4;
  if (which === "dh0") return p.download(lb.dh, 0, bytes);
  if (which === "dc0") return p.download(lb.dc, 0, bytes);
  return p.download(which === "h" ? lb.h : lb.c, slot * bytes, bytes);
}

/** The dropout mask last applied to `layer`'s output, or null without dropout. */
export async function readDropoutMask(engine: object, layer: number): Promise<Float32Array | null> {
  const p = gpu(engine);
  const m = p.buffers.layers[layer]?.mask;
  if (!m) return null;
  const { batch: B, seq: T, hidden: H } = p.config;
  return await p.download(m, 0, T * B * H * 4);
}

/** Dispatches a training step issues (forward, backward, clip, optimizer). */
export function dispatchesPerStep(engine: object): number {
  return countDispatches(gpu(engine).programs);
}
