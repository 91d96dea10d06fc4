// The one engine contract: the interface training and evaluation run on, whichever engine
// computes (WasmEngine on the CPU, WebGpuEngine on a GPU). Host arrays are the exchange format;
// an engine that keeps its state elsewhere (the GPU) brings them up to date only when asked
// (`sync`), so a step moves nothing but the batch in and the loss out.

import type { CoreConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";

/** The engine names the `backend` options and `--backend` accept. */
export const BACKEND_CHOICES = ["auto", "wasm", "webgpu"] as const;

/** Which engine trains or evaluates: `auto` chooses (see `createEngine`). */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * Returns `backend` when it names an engine (undefined: `auto`); throws a RangeError otherwise.
 * The one check of a backend name: the library's options and the CLI's `--backend` use it.
 */
export function checkBackend(backend: BackendChoice | undefined): BackendChoice {
  if (backend === undefined) return "auto";
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new RangeError(
      `Invalid option: backend must be ${BACKEND_CHOICES.join(", ")}, got ${
        JSON.stringify(backend)
      }`,
    );
  }
  return backend;
}

/** One training step's settings. */
export interface TrainStepOptions {
  /** Optimizer steps taken before this one (selects the dropout masks). */
  step: number;
  /** `adam` or `sgd`. */
  optimizer: "adam" | "sgd";
  /** Learning rate of this step. */
  lr: number;
  /** SGD momentum (0: none). */
  momentum: number;
  /**
   * Weight decay (default 0: none): decoupled for Adam (torch.optim.AdamW: p ← p·(1 − lr·wd),
   * then the Adam update), L2 for SGD (torch.optim.SGD's weight_decay: g ← g + wd·p, then
   * momentum); the gradient is clipped before either.
   */
  weightDecay?: number;
  /** Clip threshold (0: no clipping). */
  clip: number;
  /** `norm`: global L2 norm (PyTorch clip_grad_norm_); `value`: clamp each gradient. */
  clipMode: "norm" | "value";
}

/** What a training step reports. */
export interface StepResult {
  /** Mean cross-entropy of the batch before the update. */
  loss: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  /** False when loss or norm was not finite: parameters and moments were left as they were. */
  applied: boolean;
}

/** Host copies of a backend's training state; any subset may be given to `load`. */
export interface EngineState {
  /** Parameters, in the layout of `paramLayout`. */
  params?: Float32Array;
  /** The optimizer's first moments: Adam's `exp_avg`, or SGD's `momentum_buffer`. */
  firstMoment?: Float32Array;
  /** Adam's second moments (`exp_avg_sq`); SGD keeps none. */
  secondMoment?: Float32Array;
  /** @deprecated Use `firstMoment` (the same buffer, named for what SGD keeps in it too). */
  adamM?: Float32Array;
  /** @deprecated Use `secondMoment`. */
  adamV?: Float32Array;
  /** Carried hidden state, `[layers, batch, hidden]`. */
  h?: Float32Array;
  /** Carried cell state, `[layers, batch, hidden]`. */
  c?: Float32Array;
}

/** What {@linkcode Engine.evaluateBatches} reports. */
export interface EvaluateTotals {
  /** The sum of the cross-entropies of every target that is not padding, in nats. */
  sum: number;
  /** How many targets were not padding: `sum / count` is the mean per target. */
  count: number;
  /**
   * The mean of the batches' mean losses: what training's validation reports (the tutorial's
   * figure); it equals `sum / count` only when every batch has as many targets.
   */
  meanOfBatches: number;
}

/** The number of targets that are not padding (-1) in a batch. */
export function countTargets(targets: Int32Array): number {
  let n = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] >= 0) n++;
  return n;
}

/** A compute engine laid out for one config (model plus batch and seq). */
export interface Engine extends Disposable {
  /** Which engine this is. */
  readonly kind: "wasm" | "webgpu";
  /** The config it is laid out for. */
  readonly config: Readonly<Required<CoreConfig>>;
  /** Where each tensor lies in the flat parameter array. */
  readonly layout: ParamLayout;
  /** The next batch's input token ids, `[batch, seq]`: fill before a step. */
  readonly inputs: Int32Array;
  /** The next batch's targets, `[batch, seq]` (-1: padding). */
  readonly targets: Int32Array;
  /** Parameters on the host: always current on WASM, current after `sync()` on WebGPU. */
  readonly params: Float32Array;
  /** The optimizer's first moments (Adam's `exp_avg`, SGD's `momentum_buffer`), like `params`. */
  readonly firstMoment: Float32Array;
  /** Adam's second moments (`exp_avg_sq`), like `params`. */
  readonly secondMoment: Float32Array;
  /** @deprecated Use `firstMoment` (the same array). */
  readonly adamM: Float32Array;
  /** @deprecated Use `secondMoment` (the same array). */
  readonly adamV: Float32Array;
  /** Writes the given parts of the state into the engine (and the host arrays). */
  load(state: EngineState): void;
  /** Brings the host arrays and the carried state (`readCarried`) up to date. */
  sync(): Promise<void>;
  /** Copies the carried state as of the last `sync()` into `h` and `c`, `[layers, batch, H]`. */
  readCarried(h: Float32Array, c: Float32Array): void;
  /** Zeroes the carried state. */
  resetState(): void;
  /**
   * Forward, backward, clipping and the optimizer update over `inputs`/`targets`, then the final
   * state becomes the carried state. The update is skipped when loss or norm is not finite.
   * The step is under way when this returns: `inputs`/`targets` may be refilled and one more
   * step submitted before the promise is awaited.
   */
  trainStep(options: TrainStepOptions): Promise<StepResult>;
  /**
   * Losses of `count` batches without dropout, filled by `fill`, from a zero state carried from
   * batch to batch; the state is zeroed again before batch `index` when `fresh(index)` is true
   * (`true`: before every batch, for rows that are separate examples). Targets of -1 are
   * padding, left out. The carried training state is left as it was.
   */
  evaluateBatches(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    fresh: boolean | ((index: number) => boolean),
  ): Promise<EvaluateTotals>;
  /** Releases the engine (threads, GPU buffers). */
  dispose(): void;
}

/**
 * Throws a RangeError naming the first token outside [0, V) (-1, padding, allowed where
 * `allowPadding`): both backends check a batch before using it as indices.
 */
export function checkTokens(
  tokens: Int32Array,
  V: number,
  what: string,
  allowPadding: boolean,
): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if ((t < 0 && !(allowPadding && t === -1)) || t >= V) {
      throw new RangeError(
        `Invalid ${what}: token ${t} at index ${i} is outside the vocabulary [0, ${V})`,
      );
    }
  }
}
