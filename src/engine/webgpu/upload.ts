// What the host writes to the GPU before each forward: the batch (checked), layer 0's rows
// grouped by input token (for the one-hot and embedding gradients), and the step uniform that
// carries every per-step value the kernels read (`Step` in _wgsl_common.ts).

import type { CoreConfig } from "../../model/config.ts";
import { checkTokens } from "../engine.ts";
import type { GpuBuffers } from "./buffers.ts";
import { NAN_BITS, SCALAR, STEP_UNIFORM_BYTES } from "./_wgsl_common.ts";
import { dropoutKey } from "./_wgsl_dropout.ts";

/** The per-step values of the step uniform (absent ones are written as 0). */
export interface StepUniform {
  /** 1 / the number of counted (non-padding) targets. */
  invCount: number;
  /** The scalars slot the mean loss also goes to. */
  lossSlot: number;
  /** Global-norm clip threshold (0: none). */
  clipNorm: number;
  /** Per-gradient clamp (0: none). */
  clipValue: number;
  /** Adam: lr / (1 - β1^t), and 1 / √(1 - β2^t). */
  lrOverBc1: number;
  invSqrtBc2: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** SGD momentum, and whether this is its first step (the buffer starts as the gradient). */
  momentum: number;
  sgdFirst: boolean;
  lr: number;
  /**
   * Weight decay, as the optimizer kernel uses it: Adam's factor 1 − lr·wd (AdamW; 1: none),
   * SGD's wd (0: none).
   */
  decay: number;
  /** Optimizer steps taken before this one: selects the dropout masks. */
  step: number;
}

/** The host arrays one core uploads from, reused every step. */
export class StepUpload {
  #config: Readonly<Required<CoreConfig>>;
  #queue: GPUQueue;
  #buf: GpuBuffers;
  #stepData = new ArrayBuffer(STEP_UNIFORM_BYTES);
  #stepF32 = new Float32Array(this.#stepData);
  #stepU32 = new Uint32Array(this.#stepData);
  #groupStart: Uint32Array<ArrayBuffer>;
  #groupNext: Uint32Array<ArrayBuffer>;
  #rowsByToken: Uint32Array<ArrayBuffer>;

  constructor(config: Readonly<Required<CoreConfig>>, queue: GPUQueue, buffers: GpuBuffers) {
    this.#config = config;
    this.#queue = queue;
    this.#buf = buffers;
    const { vocabSize: V, batch: B, seq: T } = config;
    this.#groupStart = new Uint32Array(V + 1);
    this.#groupNext = new Uint32Array(V);
    this.#rowsByToken = new Uint32Array(T * B);
  }

  /**
   * Checks and uploads the batch (and, for training, the rows grouped by token), then the step
   * uniform with `uniform` (the loss's 1 / count and slot filled in unless given).
   */
  write(
    inputs: Int32Array<ArrayBuffer>,
    targets: Int32Array<ArrayBuffer>,
    training: boolean,
    uniform: Partial<StepUniform>,
  ): void {
    const { batch: B, seq: T, vocabSize: V } = this.#config;
    checkTokens(inputs, V, "inputs", false);
    checkTokens(targets, V, "targets", true);
    const q = this.#queue;
    q.writeBuffer(this.#buf.tokens, 0, inputs);
    q.writeBuffer(this.#buf.targets, 0, targets);
    let counted = 0;
    for (const t of targets) if (t >= 0) counted++;
    if (training) {
      // Rows of layer 0 grouped by input token: a counting sort, rows in order within a group.
      const start = this.#groupStart.fill(0);
      for (const token of inputs) start[token + 1]++;
      for (let v = 0; v < V; v++) start[v + 1] += start[v];
      const next = this.#groupNext;
      next.set(start.subarray(0, V));
      for (let r = 0; r < T * B; r++) {
        const t = Math.floor(r / B), b = r - t * B;
        this.#rowsByToken[next[inputs[b * T + t]]++] = r;
      }
      q.writeBuffer(this.#buf.groupStart, 0, start);
      q.writeBuffer(this.#buf.rowsByToken, 0, this.#rowsByToken);
    }
    this.#writeUniform({ invCount: 1 / counted, lossSlot: SCALAR.loss, ...uniform });
  }

  #writeUniform(s: Partial<StepUniform>): void {
    const f = this.#stepF32, u = this.#stepU32;
    f[0] = s.invCount ?? 0;
    u[1] = s.lossSlot ?? SCALAR.loss;
    f[2] = s.clipNorm ?? 0;
    f[3] = s.clipValue ?? 0;
    f[4] = s.lrOverBc1 ?? 0;
    f[5] = s.invSqrtBc2 ?? 0;
    f[6] = s.beta1 ?? 0;
    f[7] = s.beta2 ?? 0;
    f[8] = s.eps ?? 0;
    f[9] = s.momentum ?? 0;
    u[10] = s.sgdFirst ? 1 : 0;
    const p = Math.fround(this.#config.dropout);
    f[11] = Math.fround(1 / Math.fround(1 - p));
    f[12] = p;
    f[13] = s.lr ?? 0;
    // The kernels' NaN, a runtime value (see NAN_BITS).
    u[14] = NAN_BITS;
    f[15] = s.decay ?? 0;
    const step = s.step ?? 0;
    for (let l = 0; l < this.#config.layers; l++) {
      u[16 + l * 4] = dropoutKey(this.#config.seed, step, l);
    }
    this.#queue.writeBuffer(this.#buf.stepUniform, 0, this.#stepData);
  }
}
