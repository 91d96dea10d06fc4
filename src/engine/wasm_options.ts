// The options of the WASM engine's methods (WasmEngine.create, forward, adamStep, sgdStep).

import type { CoreVariant } from "./wasm_module.ts";

/** Options for `WasmEngine.create`. */
export interface WasmEngineOptions {
  /** Which compiled core to run; `auto` picks relaxed SIMD where the engine supports it. */
  variant?: CoreVariant | "auto";
  /**
   * Threads that share every kernel (default 1). Results are bitwise identical for any count;
   * more threads than cores is slower. Call `dispose()` to stop the worker threads.
   */
  threads?: number;
}

/** Options for `WasmEngine.forward`. */
export interface ForwardOptions {
  /** Apply dropout and keep what backward needs (default true). */
  training?: boolean;
  /** Optimizer step: selects the dropout mask (default 0). */
  step?: number;
  /** Compute the loss against `targets` (default true); false only fills `logits`. */
  loss?: boolean;
  /**
   * The parameters have not changed since the last forward: reuse their packed copies
   * (sampling, one character at a time). Ignored after `adamStep` or on the first forward.
   */
  reuseWeights?: boolean;
}

/** Adam's hyper-parameters (PyTorch defaults apart from lr). */
export interface AdamOptions {
  /** Learning rate. */
  lr: number;
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /**
   * Decoupled weight decay, torch.optim.AdamW's: p ← p·(1 − lr·weightDecay) before the Adam
   * update (default 0: plain Adam, bitwise).
   */
  weightDecay?: number;
}

/** SGD's hyper-parameters (torch.optim.SGD's, dampening 0, no Nesterov). */
export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum (default 0: none). */
  momentum?: number;
  /**
   * L2 weight decay, torch.optim.SGD's: g ← g + weightDecay·p before momentum (default 0).
   */
  weightDecay?: number;
}
