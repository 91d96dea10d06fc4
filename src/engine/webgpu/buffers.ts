// The GPU buffers of one WebGPU core: their layout for a config (checked against the adapter's
// limits), allocated once when the core is created, and the bind groups that tie a kernel to
// them in the binding convention of _wgsl_common.ts.

import { type CoreConfig, gateBlocks } from "../../model/config.ts";
import type { ParamLayout } from "../../model/params.ts";
import {
  FIRST_STORAGE_BINDING,
  SCALAR,
  SITE_BINDING,
  SITE_BYTES,
  SITE_STRIDE,
  STEP_BINDING,
  STEP_UNIFORM_BYTES,
} from "./_wgsl_common.ts";
import { NORM_PARTIALS } from "./_wgsl_optim.ts";

/** Loss slots in the scalars buffer for evaluation: read back once per this many batches. */
export const HISTORY = 1024;

/** The uniforms every dispatch binds: the step uniform and the dispatch (timestep) uniforms. */
export interface BufferBindings {
  /** The step uniform, rewritten before each step. */
  stepUniform: GPUBuffer;
  /** One dispatch uniform per timestep, `SITE_STRIDE` bytes apart, written once. */
  siteUniform: GPUBuffer;
}

/** One recurrent layer's buffers. */
export interface LayerBuffers {
  /** Gate pre-activations, then activations, then their gradients: [T·B, G]. */
  gates: GPUBuffer;
  /** Hidden state per slot: [T+1, B, H], slot 0 the initial state, slot t+1 after step t. */
  h: GPUBuffer;
  /** LSTM cell state (GRU: W_hn h + b_hn, then its gradient), like `h`. */
  c: GPUBuffer;
  /** Gradient of h per slot: [T+1, B, H] (slot 0: dLoss/dh0). */
  dh: GPUBuffer;
  /** LSTM: the running dLoss/dc, [B, H] (dLoss/dc0 after backward). */
  dc: GPUBuffer;
  /** The dropout mask applied to this layer's output, [T·B, H] (with dropout only). */
  mask: GPUBuffer | null;
  /** The output after dropout, [T·B, H] (with dropout only). */
  dropped: GPUBuffer | null;
}

/** Every GPU buffer of a core. */
export interface GpuBuffers extends BufferBindings {
  /** Flat parameters, gradients, and the optimizer's two moments: [P] each. */
  params: GPUBuffer;
  grads: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  /** The batch: input tokens and targets, [B, T] each. */
  tokens: GPUBuffer;
  targets: GPUBuffer;
  /** Layer 0's rows grouped by input token: group starts [V+1] and rows [T·B]. */
  groupStart: GPUBuffer;
  rowsByToken: GPUBuffer;
  /** Logits and their gradient, [T·B, V]; each row's loss, [T·B]. */
  logits: GPUBuffer;
  dlogits: GPUBuffer;
  rowLoss: GPUBuffer;
  /** The norm's partial sums and flags, [2 · NORM_PARTIALS]. */
  partials: GPUBuffer;
  /** Loss, norm, clip coefficient, applied flag (`SCALAR`), then HISTORY evaluation losses. */
  scalars: GPUBuffer;
  /** Scratch for carrying the final state to slot 0: [2, B, H]. */
  carryScratch: GPUBuffer;
  /** The training state kept aside while evaluating: [L, 2, B, H]. */
  savedState: GPUBuffer;
  layers: LayerBuffers[];
  /** Layer 0's input with a learned embedding, and its gradient: [T·B, N]. */
  embedded: GPUBuffer | null;
  dEmbedded: GPUBuffer | null;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

// Throws a RangeError when the config needs more than the device allows.
function checkLimits(device: GPUDevice, config: Required<CoreConfig>, P: number): void {
  const { hidden: H, batch: B, seq: T, vocabSize: V, embedding: N } = config;
  const G = gateBlocks(config.cell) * H;
  const rows = T * B;
  const limit = device.limits.maxStorageBufferBindingSize;
  const largest = Math.max(rows * G, rows * V, rows * N, P) * 4;
  if (largest > limit) {
    throw new RangeError(
      `Invalid config for WebGPU: batch ${B} × seq ${T} needs a ${mib(largest)} buffer, ` +
        `over this adapter's ${mib(limit)} binding limit: reduce batch or seq, ` +
        `or use the WASM backend`,
    );
  }
  // tokenRowSums dispatches one workgroup row per four characters.
  const rowsOfGroups = Math.ceil(V / 4);
  if (rowsOfGroups > device.limits.maxComputeWorkgroupsPerDimension) {
    throw new RangeError(
      `Invalid config for WebGPU: vocabulary ${V} is over ${
        4 * device.limits.maxComputeWorkgroupsPerDimension
      } characters: use the WASM backend`,
    );
  }
}

/**
 * Allocates every buffer of a core for `config` (a RangeError when one exceeds the device's
 * limits) and writes the timestep of each dispatch uniform.
 */
export function allocateBuffers(
  device: GPUDevice,
  config: Required<CoreConfig>,
  layout: ParamLayout,
): GpuBuffers {
  const P = layout.size;
  checkLimits(device, config, P);
  const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, embedding: N } = config;
  const G = gateBlocks(config.cell) * H;
  const rows = T * B;
  const state = B * H;
  const storage = (floats: number) =>
    device.createBuffer({
      size: Math.max(16, Math.ceil(floats / 4) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  const uniform = (size: number) =>
    device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const b: GpuBuffers = {
    params: storage(P),
    grads: storage(P),
    m: storage(P),
    v: storage(P),
    tokens: storage(rows),
    targets: storage(rows),
    groupStart: storage(V + 1),
    rowsByToken: storage(rows),
    logits: storage(rows * V),
    dlogits: storage(rows * V),
    rowLoss: storage(rows),
    partials: storage(2 * NORM_PARTIALS),
    scalars: storage(SCALAR.history + HISTORY),
    stepUniform: uniform(STEP_UNIFORM_BYTES),
    siteUniform: uniform(T * SITE_STRIDE),
    carryScratch: storage(2 * state),
    savedState: storage(2 * L * state),
    layers: Array.from({ length: L }, () => ({
      gates: storage(rows * G),
      h: storage((T + 1) * state),
      c: storage((T + 1) * state),
      dh: storage((T + 1) * state),
      dc: storage(state),
      mask: config.dropout > 0 ? storage(rows * H) : null,
      dropped: config.dropout > 0 ? storage(rows * H) : null,
    })),
    embedded: N ? storage(rows * N) : null,
    dEmbedded: N ? storage(rows * N) : null,
  };
  const sites = new Uint32Array(T * SITE_STRIDE / 4);
  for (let t = 0; t < T; t++) sites[t * SITE_STRIDE / 4] = t;
  device.queue.writeBuffer(b.siteUniform, 0, sites);
  return b;
}

/** Destroys every buffer of `b`. */
export function destroyBuffers(b: GpuBuffers): void {
  for (const buffer of Object.values(b)) if (buffer instanceof GPUBuffer) buffer.destroy();
  for (const l of b.layers) {
    for (const buffer of Object.values(l)) if (buffer instanceof GPUBuffer) buffer.destroy();
  }
}

/**
 * The bind group of one dispatch of `pipeline`: the step uniform, the dispatch uniform of
 * timestep `t`, then `storage` in the kernel's order.
 */
export function bindGroup(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  uniforms: BufferBindings,
  storage: GPUBuffer[],
  t: number,
): GPUBindGroup {
  return device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: STEP_BINDING, resource: { buffer: uniforms.stepUniform } },
      {
        binding: SITE_BINDING,
        resource: { buffer: uniforms.siteUniform, offset: t * SITE_STRIDE, size: SITE_BYTES },
      },
      ...storage.map((buffer, i) => ({ binding: FIRST_STORAGE_BINDING + i, resource: { buffer } })),
    ],
  });
}
