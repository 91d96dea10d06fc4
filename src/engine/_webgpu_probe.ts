// What only the tests and benchmarks need of a WebGpuCore: a forward or a backward pass on its
// own, reads of the loss, logits, gradients, states and dropout masks it leaves on the GPU, and
// the number of dispatches in a step. Kept off the public class, reached through this map,
// which each core fills when it is created (as _wasm_probe.ts for the WASM core).

import type { CoreConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import type { GpuBuffers } from "./webgpu/buffers.ts";
import { dispatchesPerStep as countDispatches, type Programs } from "./webgpu/step.ts";
import { SCALAR } from "./webgpu/_wgsl_common.ts";

/** The internals one core shows its probe. */
export interface GpuCoreProbe {
  /** The core's config. */
  readonly config: Readonly<Required<CoreConfig>>;
  /** The core's parameter layout. */
  readonly layout: ParamLayout;
  /** The core's GPU buffers. */
  readonly buffers: GpuBuffers;
  /** The core's dispatch lists (built once the core is created). */
  programs(): Programs;
  /** Uploads the batch and submits a forward pass (dropout of optimizer step `step` if training). */
  forward(training: boolean, step: number): void;
  /** Submits the backward pass of the last training forward. */
  backward(): void;
  /** `bytes` of `src` from `offset`, once the work submitted before is done. */
  download(src: GPUBuffer, offset: number, bytes: number): Promise<Float32Array>;
}

/** Every live core's internals, by core. */
export const probes: WeakMap<object, GpuCoreProbe> = new WeakMap();

function probe(core: object): GpuCoreProbe {
  const p = probes.get(core);
  if (!p) throw new TypeError("Cannot probe: not a WebGpuCore");
  return p;
}

/**
 * Records and submits a forward pass over the core's `inputs` (the loss lands on the GPU; read
 * it with `readLoss`). With `training` (default true), dropout masks of optimizer step `step`
 * apply and `backward` may follow.
 */
export function forward(core: object, options: { training?: boolean; step?: number } = {}): void {
  const step = options.step ?? 0;
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`Invalid step: ${step}: expected a non-negative integer`);
  }
  probe(core).forward(options.training ?? true, step);
}

/** Records and submits the backward pass of the last training forward (gradients on GPU). */
export function backward(core: object): void {
  probe(core).backward();
}

/** The mean loss of the last forward. */
export async function readLoss(core: object): Promise<number> {
  const p = probe(core);
  return (await p.download(p.buffers.scalars, SCALAR.loss * 4, 4))[0];
}

/** Gradients after `backward`, in the layout of `params`. */
export function readGrads(core: object): Promise<Float32Array> {
  const p = probe(core);
  return p.download(p.buffers.grads, 0, p.layout.size * 4);
}

/** Logits of the last forward, time-major `[seq, batch, vocab]`. */
export function readLogits(core: object): Promise<Float32Array> {
  const p = probe(core);
  const { batch: B, seq: T, vocabSize: V } = p.config;
  return p.download(p.buffers.logits, 0, T * B * V * 4);
}

/**
 * A state of `layer`, `[batch, hidden]`: `h`/`c` at slot `slot` (0 = initial, seq = final),
 * `dh0`/`dc0` (gradients of the initial state after backward). `c` and `dc0` are the LSTM's;
 * the GRU keeps scratch in `c` (as the WASM core), the RNN nothing.
 */
export function readState(
  core: object,
  layer: number,
  which: "h" | "c" | "dh0" | "dc0",
  slot = 0,
): Promise<Float32Array> {
  const p = probe(core);
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
export async function readDropoutMask(core: object, layer: number): Promise<Float32Array | null> {
  const p = probe(core);
  const m = p.buffers.layers[layer]?.mask;
  if (!m) return null;
  const { batch: B, seq: T, hidden: H } = p.config;
  return await p.download(m, 0, T * B * H * 4);
}

/** Dispatches a training step issues (forward, backward, clip, optimizer). */
export function dispatchesPerStep(core: object): number {
  return countDispatches(probe(core).programs());
}
