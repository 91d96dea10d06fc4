// The WASM core's memory plan: the byte offset of every region (parameters, gradients,
// moments, batch, activations per layer, scratch) computed once from the config, and an f64
// estimate that rejects an oversized config before the 32-bit core is asked anything.

import { CELLS, type CoreConfig, gateBlocks } from "../model/config.ts";
import { layerInputSize, type ParamLayout } from "../model/params.ts";
import type { CoreExports } from "./wasm_module.ts";
import { SYNC_BYTES } from "./_thread_pool.ts";

/** WebAssembly's page size in bytes. */
export const PAGE = 65536;
/** wasm32 addresses 4 GiB; V8 caps a memory at 65536 pages. */
export const MAX_BYTES = 65536 * PAGE;
const ALIGN = 64;
/** u32 fields per layer in sampleStep's table (assembly/recurrent.ts). */
export const SAMPLE_DESC = 8;

export interface LayerBuffers {
  inSize: number;
  packed: number; // the layer's packed weights (recurrentPackedBytes)
  gates: number;
  h: number;
  c: number;
  dh: number;
  dc: number;
  mask: number; // dropout mask on this layer's output, 0 without dropout
  dropped: number; // masked output, 0 without dropout
}

/** Byte offsets of every region, computed from the config alone. */
export interface MemoryPlan {
  sync: number;
  sampleDesc: number; // sampleStep's table of pointers
  rowLoss: number;
  partials: number;
  fcPacked: number;
  params: number;
  grads: number;
  firstMoment: number;
  secondMoment: number;
  inputs: number;
  targets: number;
  logits: number;
  dlogits: number;
  scratch: number;
  embedded: number; // [T·B, N] the first layer's input with an embedding, else 0
  dEmbedded: number; // its gradient
  layers: LayerBuffers[];
  bytes: number;
}

export function planMemory(
  config: Required<CoreConfig>,
  layout: ParamLayout,
  core: SizeQueries,
): MemoryPlan {
  const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, embedding: N } = config;
  const cell = CELLS.indexOf(config.cell);
  const G = gateBlocks(config.cell) * H;
  let top = PAGE; // the first page holds the module's static data (checked against heapBase)
  const alloc = (bytes: number) => {
    const at = top;
    top += Math.ceil(bytes / ALIGN) * ALIGN;
    return at;
  };
  const state = B * H * 4;
  const sync = alloc(SYNC_BYTES);
  const sampleDesc = alloc(L * SAMPLE_DESC * 4 + 12);
  const rowLoss = alloc(T * B * 8);
  const partials = alloc(core.sumSquaresScratchBytes());
  const fcPacked = alloc(core.linearPackedBytes(V, H));
  const params = alloc(layout.size * 4);
  const grads = alloc(layout.size * 4);
  const firstMoment = alloc(layout.size * 4);
  const secondMoment = alloc(layout.size * 4);
  const inputs = alloc(B * T * 4);
  const targets = alloc(B * T * 4);
  const logits = alloc(T * B * V * 4);
  const dlogits = alloc(T * B * V * 4);
  const embedded = N ? alloc(T * B * N * 4) : 0;
  const dEmbedded = N ? alloc(T * B * N * 4) : 0;
  const layers: LayerBuffers[] = [];
  let scratchBytes = core.linearScratchBytes(T * B, V, H);
  for (let l = 0; l < L; l++) {
    const inSize = layerInputSize(config, l);
    const oneHot = l === 0 && !N ? 1 : 0;
    scratchBytes = Math.max(
      scratchBytes,
      core.recurrentScratchBytes(cell, inSize, oneHot, T, B, H),
    );
    layers.push({
      inSize,
      packed: alloc(core.recurrentPackedBytes(cell, inSize, oneHot, H)),
      gates: alloc(T * B * G * 4),
      h: alloc((T + 1) * state),
      c: alloc((T + 1) * state),
      dh: alloc((T + 1) * state),
      dc: alloc(state),
      mask: config.dropout > 0 ? alloc(T * state) : 0,
      dropped: config.dropout > 0 ? alloc(T * state) : 0,
    });
  }
  const scratch = alloc(scratchBytes);
  return {
    sync,
    sampleDesc,
    rowLoss,
    partials,
    fcPacked,
    params,
    grads,
    firstMoment,
    secondMoment,
    inputs,
    targets,
    logits,
    dlogits,
    scratch,
    embedded,
    dEmbedded,
    layers,
    bytes: top,
  };
}

export type SizeQueries = Pick<
  CoreExports,
  | "linearScratchBytes"
  | "recurrentScratchBytes"
  | "recurrentPackedBytes"
  | "linearPackedBytes"
  | "sumSquaresScratchBytes"
>;

// Every size the plan needs, in f64 arithmetic, so an oversized config is reported before the
// core (32-bit) is asked anything.
export function estimateBytes(config: Required<CoreConfig>, paramFloats: number): number {
  const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, embedding: N } = config;
  const G = gateBlocks(config.cell) * H;
  const rows = T * B;
  const pad8 = (n: number) => Math.ceil(n / 8) * 8;
  const scratch = Math.max(
    V * G,
    rows * pad8(Math.max(H, V, N)),
    G * pad8(Math.max(H, N)),
    H * pad8(G),
    V * pad8(H),
  );
  const perLayer = rows * G + 3 * (T + 1) * B * H + B * H +
    (config.dropout > 0 ? 2 * rows * H : 0);
  const packed = 2 * paramFloats; // W_hh blocks, W_ih^T and fc, padded
  return 4 * (4 * paramFloats + packed + 4 * rows + 2 * rows * V + 2 * rows * N +
        L * perLayer + scratch) + PAGE;
}
