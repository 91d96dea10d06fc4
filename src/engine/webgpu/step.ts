// The recorded training step of the WebGPU engine: the dispatch lists of the forward pass
// (training and evaluation), the backward pass, the global norm and each optimizer, built once
// per core over its buffers, and the copies that carry the final state to the next batch. A
// step is these lists encoded in order into one command encoder.

import { type CoreConfig, gateBlocks } from "../../model/config.ts";
import { layerInputSize, type ParamLayout } from "../../model/params.ts";
import type { GpuBuffers } from "./buffers.ts";
import { type Dispatch, DispatchBuilder } from "./pipelines.ts";
import type { Dims, Kernel } from "./_wgsl_common.ts";
import { gatherRows, tokenRowSums } from "./_wgsl_embedding.ts";
import { dropout as dropoutKernel } from "./_wgsl_dropout.ts";
import { gemm, type GemmShape } from "./_wgsl_gemm.ts";
import { crossEntropy, lossSum } from "./_wgsl_loss.ts";
import { finishNorm, optimizerStep, sumSquares } from "./_wgsl_optim.ts";
import { columnSums, multiplyInto } from "./_wgsl_ops.ts";
import { stepBackward, stepForward } from "./_wgsl_recurrent.ts";

/** The dispatch lists of one core. */
export interface Programs {
  /** Forward with dropout, leaving what backward needs; loss into scalars. */
  forwardTrain: Dispatch[];
  /** Forward without dropout; loss into scalars (and the step's history slot). */
  forwardEval: Dispatch[];
  /** Backward of `forwardTrain`: every parameter gradient into grads. */
  backward: Dispatch[];
  /** The global norm, the clip coefficient and the applied flag. */
  clip: Dispatch[];
  /** The Adam update. */
  adam: Dispatch[];
  /** The SGD (momentum) update. */
  sgd: Dispatch[];
}

// A buffer and an element offset into it.
interface At {
  buffer: GPUBuffer;
  offset: number;
}

/** Builds the dispatch lists of a core; resolves once every pipeline is ready. */
export async function buildPrograms(
  device: GPUDevice,
  config: Readonly<Required<CoreConfig>>,
  layout: ParamLayout,
  b: GpuBuffers,
): Promise<Programs> {
  const builder = new DispatchBuilder(device, b);
  const op = (k: Kernel, buffers: GPUBuffer[], t = 0) => builder.add(k, buffers, t);
  const mm = (s: GemmShape, a: GPUBuffer, bm: GPUBuffer, c: GPUBuffer) => op(gemm(s), [a, bm, c]);
  const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, embedding: N, cell } = config;
  const rows = T * B;
  const P = layout.size;
  const dims: Dims = { B, T, H, V };
  const G = gateBlocks(cell) * H;
  const gru = cell === "gru";
  // The GRU's b_hn belongs inside the reset product (the step kernel adds it), not the gates.
  const bhhCols = gru ? 2 * H : G;
  const fcW = layout.fcWeight.offset, fcB = layout.fcBias.offset;
  const w = (l: number) => {
    const t = layout.layers[l];
    return { wih: t.wih.offset, whh: t.whh.offset, bih: t.bih.offset, bhh: t.bhh.offset };
  };
  // A layer's output as the next layer's input: the dropped copy, or h slots 1..T.
  const output = (l: number, dropping: boolean): At =>
    dropping
      ? { buffer: b.layers[l].dropped!, offset: 0 }
      : { buffer: b.layers[l].h, offset: B * H };
  // A dense layer's input: the embedded rows for layer 0, else the output of the layer below.
  const denseInput = (l: number, dropping: boolean): At =>
    l === 0 ? { buffer: b.embedded!, offset: 0 } : output(l - 1, dropping);

  const forward = (training: boolean): Dispatch[] => {
    const dropping = training && config.dropout > 0;
    const list: Dispatch[] = [];
    for (let l = 0; l < L; l++) {
      const lb = b.layers[l];
      const p = w(l);
      const inSize = layerInputSize(config, l);
      if (l === 0 && !N) {
        // One-hot input: W_ih x + b_ih + b_hh is a lookup of W_ih's columns.
        const s = { width: G, table: p.wih, tokenMajor: false, bias1: p.bih, bias2: p.bhh };
        list.push(op(gatherRows(dims, { ...s, bias2Cols: bhhCols }), [
          b.tokens,
          b.params,
          lb.gates,
        ]));
      } else {
        if (l === 0) {
          const s = { width: N, table: layout.embedding!.offset, tokenMajor: true };
          list.push(op(gatherRows(dims, s), [b.tokens, b.params, b.embedded!]));
        }
        const x = denseInput(l, dropping);
        list.push(mm(
          {
            M: rows,
            N: G,
            K: inSize,
            aOff: x.offset,
            lda: inSize,
            transB: true,
            bOff: p.wih,
            bias1: p.bih,
            bias2: p.bhh,
            bias2Cols: bhhCols,
          },
          x.buffer,
          b.params,
          lb.gates,
        ));
      }
      const step = stepForward(dims, cell, p.whh, p.bhh);
      for (let t = 0; t < T; t++) list.push(op(step, [b.params, lb.gates, lb.h, lb.c], t));
      if (dropping) {
        list.push(op(dropoutKernel(rows * H, B * H, l), [lb.h, lb.mask!, lb.dropped!]));
      }
    }
    const y = output(L - 1, dropping);
    list.push(
      mm(
        { M: rows, N: V, K: H, aOff: y.offset, lda: H, transB: true, bOff: fcW, bias1: fcB },
        y.buffer,
        b.params,
        b.logits,
      ),
      training
        ? op(crossEntropy(dims, true), [b.logits, b.targets, b.rowLoss, b.dlogits])
        : op(crossEntropy(dims, false), [b.logits, b.targets, b.rowLoss]),
      op(lossSum(rows), [b.rowLoss, b.scalars]),
    );
    return list;
  };

  const backward = (): Dispatch[] => {
    const dropping = config.dropout > 0;
    const list: Dispatch[] = [];
    const top = output(L - 1, dropping);
    const last = b.layers[L - 1];
    list.push(
      mm(
        { M: V, N: H, K: rows, transA: true, lda: V, bOff: top.offset, cOff: fcW },
        b.dlogits,
        top.buffer,
        b.grads,
      ),
      op(columnSums(rows, V, fcB, -1), [b.dlogits, b.grads]),
      mm({ M: rows, N: H, K: V, bOff: fcW, cOff: B * H }, b.dlogits, b.params, last.dh),
    );
    if (dropping) list.push(op(multiplyInto(rows * H, B * H), [last.mask!, last.dh]));
    for (let l = L - 1; l >= 0; l--) {
      const lb = b.layers[l];
      const p = w(l);
      const inSize = layerInputSize(config, l);
      const step = stepBackward(dims, cell, p.whh);
      for (let t = T - 1; t >= 0; t--) {
        list.push(op(step, [b.params, lb.gates, lb.h, lb.c, lb.dh, lb.dc], t));
      }
      if (gru) {
        // The GRU's d(a_r), d(a_z) meet W_hh's first 2H rows; d(W_hn h + b_hn), left in c
        // slots 1..T, its last H. dh slot 0 already holds the direct path dh_0 ⊙ z_0.
        const whn = p.whh + 2 * H * H;
        list.push(
          mm(
            { M: B, N: H, K: 2 * H, lda: G, bOff: p.whh, accumulate: true },
            lb.gates,
            b.params,
            lb.dh,
          ),
          mm({ M: B, N: H, K: H, aOff: B * H, bOff: whn, accumulate: true }, lb.c, b.params, lb.dh),
          mm(
            { M: 2 * H, N: H, K: rows, transA: true, lda: G, cOff: p.whh },
            lb.gates,
            lb.h,
            b.grads,
          ),
          mm(
            { M: H, N: H, K: rows, transA: true, aOff: B * H, lda: H, cOff: whn },
            lb.c,
            lb.h,
            b.grads,
          ),
          op(columnSums(rows, G, p.bih, -1), [lb.gates, b.grads]),
          op(columnSums(rows, 2 * H, p.bhh, -1, G), [lb.gates, b.grads]),
          op(columnSums(rows, H, p.bhh + 2 * H, -1, H, B * H), [lb.c, b.grads]),
        );
      } else {
        list.push(
          mm({ M: B, N: H, K: G, bOff: p.whh }, lb.gates, b.params, lb.dh),
          mm({ M: G, N: H, K: rows, transA: true, lda: G, cOff: p.whh }, lb.gates, lb.h, b.grads),
          op(columnSums(rows, G, p.bih, p.bhh), [lb.gates, b.grads]),
        );
      }
      if (l === 0 && !N) {
        list.push(
          op(tokenRowSums(dims, G, p.wih, false), [b.groupStart, b.rowsByToken, lb.gates, b.grads]),
        );
        continue;
      }
      const x = denseInput(l, dropping);
      list.push(mm(
        { M: G, N: inSize, K: rows, transA: true, lda: G, bOff: x.offset, cOff: p.wih },
        lb.gates,
        x.buffer,
        b.grads,
      ));
      // The input gradient: into the embedding's rows, or dh slots 1..T of the layer below.
      const dx: At = l === 0
        ? { buffer: b.dEmbedded!, offset: 0 }
        : { buffer: b.layers[l - 1].dh, offset: B * H };
      list.push(
        mm(
          { M: rows, N: inSize, K: G, bOff: p.wih, cOff: dx.offset },
          lb.gates,
          b.params,
          dx.buffer,
        ),
      );
      if (l === 0) {
        const dE = tokenRowSums(dims, N, layout.embedding!.offset, true);
        list.push(op(dE, [b.groupStart, b.rowsByToken, b.dEmbedded!, b.grads]));
      } else if (dropping) {
        const below = b.layers[l - 1];
        list.push(op(multiplyInto(rows * H, B * H), [below.mask!, below.dh]));
      }
    }
    return list;
  };

  const optimizer = (kind: "adam" | "sgd") =>
    op(optimizerStep(P, kind), [b.scalars, b.grads, b.params, b.m, b.v]);
  const programs: Programs = {
    forwardTrain: forward(true),
    forwardEval: forward(false),
    backward: backward(),
    clip: [
      op(sumSquares(P), [b.grads, b.partials]),
      op(finishNorm(), [b.partials, b.scalars]),
    ],
    adam: [optimizer("adam")],
    sgd: [optimizer("sgd")],
  };
  await builder.ready();
  return programs;
}

/** Dispatches a training step issues (forward, backward, clip, optimizer). */
export function dispatchesPerStep(p: Programs): number {
  return p.forwardTrain.length + p.backward.length + p.clip.length + p.adam.length;
}

/** Records the copies that make each layer's final state (slot T) its initial one (slot 0). */
export function encodeCarry(
  encoder: GPUCommandEncoder,
  config: Readonly<Required<CoreConfig>>,
  b: GpuBuffers,
): void {
  const { batch: B, hidden: H, seq: T } = config;
  const bytes = B * H * 4;
  for (const l of b.layers) {
    encoder.copyBufferToBuffer(l.h, T * bytes, b.carryScratch, 0, bytes);
    encoder.copyBufferToBuffer(l.c, T * bytes, b.carryScratch, bytes, bytes);
    encoder.copyBufferToBuffer(b.carryScratch, 0, l.h, 0, bytes);
    encoder.copyBufferToBuffer(b.carryScratch, bytes, l.c, 0, bytes);
  }
}
