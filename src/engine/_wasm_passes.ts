// The WASM engine's passes: which kernels run, in which order, over which regions of the memory
// plan, for a forward, a backward, gradient clipping, an optimizer update and one sampling step.
// Nothing here allocates per step; the public class (wasm_engine.ts) checks its callers' input
// and owns the views.

import { CELLS, type CoreConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import type { KernelRunner } from "./_wasm_runner.ts";
import { SAMPLE_DESC } from "./_wasm_plan.ts";
import { checkTokens } from "./engine.ts";
import type { AdamOptions, ForwardOptions, SgdOptions } from "./wasm_options.ts";

/** The kernel sequences of one WASM engine, over its runner's memory plan. */
export class WasmPasses {
  /** False when the parameters changed since their packed copies were made. */
  packedValid = false;
  #config: Readonly<Required<CoreConfig>>;
  #layout: ParamLayout;
  #runner: KernelRunner;
  #inputs: Int32Array;
  #targets: Int32Array;
  // Each layer's dLoss/dc_T, zeroed before its backward.
  #dc: Float32Array[];
  #sampleReady = false;
  #lastForward: { training: boolean; withGrad: boolean } | null = null;

  constructor(
    config: Readonly<Required<CoreConfig>>,
    layout: ParamLayout,
    runner: KernelRunner,
  ) {
    this.#config = config;
    this.#layout = layout;
    this.#runner = runner;
    const { batch: B, seq: T, hidden: H } = config;
    const { memory, plan } = runner;
    this.#inputs = new Int32Array(memory.buffer, plan.inputs, B * T);
    this.#targets = new Int32Array(memory.buffer, plan.targets, B * T);
    this.#dc = plan.layers.map((l) => new Float32Array(memory.buffer, l.dc, B * H));
  }

  /** The runner the kernels go through. */
  get runner(): KernelRunner {
    return this.#runner;
  }

  /** Feeds `token` to a batch-1, seq-1 engine: the next logits and the state carried. */
  sampleStep(token: number): void {
    const { layers: L, hidden: H, vocabSize: V } = this.#config;
    const p = this.#runner.plan;
    const kernels = this.#runner;
    if (!this.packedValid) {
      const desc = new Uint32Array(kernels.memory.buffer, p.sampleDesc, L * SAMPLE_DESC + 3);
      const table = this.#embeddingAt(p.params);
      for (let l = 0; l < L; l++) {
        const buf = p.layers[l];
        const w = this.#layerParams(p.params, l);
        const oneHot = l === 0 && !table ? 1 : 0;
        kernels.run("recurrentPack", this.#cell, oneHot, buf.inSize, w.wih, w.whh, buf.packed, H);
        desc.set(
          [buf.packed, w.bih, w.bhh, buf.gates, buf.h, buf.c, buf.inSize, l === 0 ? table : 0],
          l * SAMPLE_DESC,
        );
      }
      const fcW = p.params + this.#layout.fcWeight.offset * 4;
      const fcB = p.params + this.#layout.fcBias.offset * 4;
      kernels.run("packB", fcW, H, 1, H, V, p.fcPacked);
      desc.set([p.fcPacked, fcB, p.logits], L * SAMPLE_DESC);
      this.packedValid = true;
      this.#sampleReady = true;
    } else if (!this.#sampleReady) {
      this.packedValid = false; // writes the table on the way
      return this.sampleStep(token);
    }
    kernels.run("sampleStep", this.#cell, token, L, H, V, p.sampleDesc);
  }

  /** Runs the network over the inputs; the mean cross-entropy (NaN without `loss`). */
  forward(options: ForwardOptions): number {
    const training = options.training ?? true;
    const step = options.step ?? 0;
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`Invalid step: ${step}: expected a non-negative integer`);
    }
    const withLoss = options.loss ?? true;
    const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, dropout, seed } = this.#config;
    checkTokens(this.#inputs, V, "inputs", false);
    if (withLoss) checkTokens(this.#targets, V, "targets", true);
    const p = this.#runner.plan;
    const kernels = this.#runner;
    const rows = T * B;
    const dropping = training && dropout > 0;
    const repack = options.reuseWeights && this.packedValid ? 0 : 1;
    const N = this.#config.embedding;
    let x = p.inputs;
    if (N) {
      kernels.run("embeddingForward", p.inputs, this.#embeddingAt(p.params), p.embedded, T, B, N);
      x = p.embedded;
    }
    for (let l = 0; l < L; l++) {
      const buf = p.layers[l];
      const w = this.#layerParams(p.params, l);
      const oneHot = l === 0 && !N ? 1 : 0;
      // Two dispatches, the phases of assembly/recurrent.ts: the input projection of every
      // timestep, then the time loop (a profile times them apart; a dispatch costs ~1 µs).
      const { wih, whh, bih, bhh } = w;
      const { inSize, gates, packed } = buf;
      kernels.run(
        "recurrentForwardInput",
        ...[this.#cell, x, oneHot, inSize, wih, whh, bih, bhh, gates, packed, repack, T, B, H],
      );
      kernels.run("recurrentForwardLoop", this.#cell, bhh, gates, buf.h, buf.c, packed, T, B, H);
      x = buf.h + B * H * 4; // slots 1..T: this layer's output, [T·B, H]
      if (dropping) {
        kernels.run("dropoutMask", buf.mask, rows * H, dropout, seed, step >>> 0, l);
        kernels.run("multiply", buf.dropped, x, buf.mask, rows * H);
        x = buf.dropped;
      }
    }
    const fcW = p.params + this.#layout.fcWeight.offset * 4;
    const fcB = p.params + this.#layout.fcBias.offset * 4;
    kernels.run("linearForward", x, fcW, fcB, p.logits, p.fcPacked, repack, rows, V, H);
    this.packedValid = true;
    this.#lastForward = { training: dropping, withGrad: training && withLoss };
    if (!withLoss) return NaN;
    const dlogits = training ? p.dlogits : 0;
    return kernels.run("crossEntropy", p.logits, p.targets, dlogits, p.rowLoss, T, B, V);
  }

  /** Gradients of the last training forward's loss into `grads` (zeroed first). */
  backward(grads: Float32Array): void {
    if (!this.#lastForward?.withGrad) {
      throw new Error(
        "Backward without forward: call forward({ training: true }) first, then backward once",
      );
    }
    const dropping = this.#lastForward.training;
    this.#lastForward = null; // backward overwrites the gate activations
    const p = this.#runner.plan;
    const kernels = this.#runner;
    const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V } = this.#config;
    const rows = T * B;
    const slot1 = B * H * 4;
    grads.fill(0);
    const top = p.layers[L - 1];
    const y = dropping ? top.dropped : top.h + slot1;
    const fc = this.#layout.fcWeight.offset * 4;
    const fcb = this.#layout.fcBias.offset * 4;
    kernels.run(
      "linearBackward",
      y,
      p.params + fc,
      p.dlogits,
      top.dh + slot1,
      p.grads + fc,
      p.grads + fcb,
      p.scratch,
      rows,
      V,
      H,
    );
    if (dropping) kernels.run("multiply", top.dh + slot1, top.dh + slot1, top.mask, rows * H);
    const N = this.#config.embedding;
    for (let l = L - 1; l >= 0; l--) {
      const buf = p.layers[l];
      const below = l > 0 ? p.layers[l - 1] : null;
      const x = below ? (dropping ? below.dropped : below.h + slot1) : N ? p.embedded : p.inputs;
      const w = this.#layerParams(p.params, l);
      const dw = this.#layerParams(p.grads, l);
      this.#dc[l].fill(0); // dLoss/dc_T: the loss ends at T (truncated BPTT)
      const oneHot = l === 0 && !N ? 1 : 0;
      const dx = below ? below.dh + slot1 : p.dEmbedded;
      const { gates, h, c, dh, dc } = buf;
      // The time loop, then the weight gradients of every timestep (two dispatches).
      const cell = this.#cell;
      kernels.run("recurrentBackwardLoop", cell, w.whh, gates, h, c, dh, dc, p.scratch, T, B, H);
      kernels.run(
        "recurrentWeightGrads",
        ...[cell, x, oneHot, buf.inSize, w.wih, gates, h, c, dw.wih, dw.whh, dw.bih, dw.bhh, dx],
        ...[p.scratch, T, B, H],
      );
      if (below && dropping) {
        kernels.run("multiply", below.dh + slot1, below.dh + slot1, below.mask, rows * H);
      }
    }
    if (N) {
      const dTable = this.#embeddingAt(p.grads);
      kernels.run("embeddingBackward", p.inputs, p.dEmbedded, dTable, T, B, N);
    }
  }

  /** PyTorch's clip_grad_norm_ over the gradients; returns the norm before clipping. */
  clipGradNorm(maxNorm: number): number {
    const n = this.#layout.size;
    const p = this.#runner.plan;
    const norm = Math.sqrt(this.#runner.run("sumSquares", p.grads, n, p.partials));
    const coef = maxNorm / (norm + 1e-6);
    if (Number.isFinite(norm) && coef < 1) this.#runner.run("scale", p.grads, n, coef);
    return norm;
  }

  /** Clamps every gradient to [-c, c]. */
  clipGradValue(c: number): void {
    this.#runner.run("clipValue", this.#runner.plan.grads, this.#layout.size, c);
  }

  /** torch.optim.SGD's update; the momentum buffer is the first-moment region. */
  sgdStep(step: number, options: SgdOptions): void {
    const p = this.#runner.plan;
    this.packedValid = false;
    this.#runner.run(
      "sgdStep",
      p.params,
      p.grads,
      p.firstMoment,
      this.#layout.size,
      options.lr,
      options.momentum ?? 0,
      step === 1 ? 1 : 0,
      options.weightDecay ?? 0,
    );
  }

  /** Adam's (AdamW's with `weightDecay`) update; `step` counts from 1. */
  adamStep(step: number, options: AdamOptions): void {
    const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = options;
    const p = this.#runner.plan;
    this.packedValid = false;
    this.#runner.run(
      "adamStep",
      p.params,
      p.grads,
      p.firstMoment,
      p.secondMoment,
      this.#layout.size,
      lr,
      beta1,
      beta2,
      eps,
      1 - beta1 ** step,
      1 - beta2 ** step,
      // AdamW's factor, in f64 and rounded once, as torch's param.mul_(1 - lr * weight_decay).
      weightDecay === 0 ? 1 : 1 - lr * weightDecay,
    );
  }

  // The core's code for the cell (assembly/recurrent.ts: LSTM 0, GRU 1, RNN 2).
  get #cell(): number {
    return CELLS.indexOf(this.#config.cell);
  }

  // Byte address of the embedding table in the parameter-layout region at `base` (0: none).
  #embeddingAt(base: number): number {
    const t = this.#layout.embedding;
    return t ? base + t.offset * 4 : 0;
  }

  // Byte addresses of layer `l`'s tensors in the parameter-layout region at `base`.
  #layerParams(base: number, l: number) {
    const t = this.#layout.layers[l];
    return {
      wih: base + t.wih.offset * 4,
      whh: base + t.whh.offset * 4,
      bih: base + t.bih.offset * 4,
      bhh: base + t.bhh.offset * 4,
    };
  }
}
