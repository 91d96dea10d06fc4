// The WASM engine: the Engine contract on the CPU, plus the by-hand API (forward, backward,
// clipping, optimizers, state and activation views) that tests, inspect and sampling use.
// Parameters, gradients and activations are Float32Array views at fixed offsets of one
// WebAssembly.Memory (_wasm_plan.ts lays it out, _wasm_runner.ts runs the kernels over it,
// _wasm_passes.ts orders them); a training step allocates nothing and copies nothing per
// timestep.

import { type CoreConfig, gateBlocks, validateCoreConfig } from "../model/config.ts";
import { type ParamLayout, paramLayout } from "../model/params.ts";
import {
  countTargets,
  type Engine,
  type EngineState,
  type EvaluateTotals,
  type StepResult,
  type TrainStepOptions,
} from "./engine.ts";
import { type CoreVariant, resolveVariant } from "./wasm_module.ts";
import type { AdamOptions, ForwardOptions, SgdOptions, WasmEngineOptions } from "./wasm_options.ts";
import { checkThreads, threadsUnavailable } from "./threads.ts";
import { KernelRunner } from "./_wasm_runner.ts";
import { WasmPasses } from "./_wasm_passes.ts";
import { seam } from "./_seam.ts";

/**
 * A stacked LSTM, GRU or tanh RNN (`config.cell`) with one-hot or embedded input and a linear
 * softmax output, laid out in one WebAssembly.Memory for a fixed (batch, seq): the
 * {@linkcode Engine} that trains on the CPU, and the by-hand API beneath it.
 *
 * Inputs and targets are `[batch, seq]` token ids (row b is one sequence); logits are
 * time-major `[seq, batch, vocab]`. Parameters follow the PyTorch CharRNN state_dict. Host
 * arrays are views of the memory, so they are always current.
 *
 * @example Forward and backward by hand
 * ```ts
 * import { WasmEngine } from "./wasm_engine.ts";
 * using net = WasmEngine.create({ vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 });
 * net.params.fill(0.1);
 * net.inputs.set([0, 1, 2, 3, 4, 0]);
 * net.targets.set([1, 2, 3, 4, 0, 1]);
 * const loss = net.forward();
 * net.backward();
 * console.log(loss, net.grad("fc.bias"));
 * ```
 *
 * @example One training step through the engine interface
 * ```ts
 * import { WasmEngine } from "./wasm_engine.ts";
 * using engine = WasmEngine.create({ vocabSize: 4, hidden: 8, layers: 1, dropout: 0, batch: 1, seq: 4 });
 * engine.inputs.set([0, 1, 2, 3]);
 * engine.targets.set([1, 2, 3, 0]);
 * const { loss } = await engine.trainStep({
 *   step: 0, optimizer: "adam", lr: 1e-3, momentum: 0, clip: 5, clipMode: "norm",
 * });
 * console.log(loss);
 * ```
 */
export class WasmEngine implements Engine {
  /** Always `wasm`. */
  readonly kind = "wasm" as const;
  /** The validated config this engine is laid out for. */
  readonly config: Readonly<Required<CoreConfig>>;
  /** Which compiled core runs. */
  readonly variant: CoreVariant;
  /** Named tensor offsets inside `params` and `grads`. */
  readonly layout: ParamLayout;
  /** Every parameter, one flat array (see `layout`). */
  readonly params: Float32Array;
  /** Gradients of the mean loss, same layout as `params`; written by `backward`. */
  readonly grads: Float32Array;
  /**
   * The optimizer's first moments, same layout as `params`: Adam's `exp_avg`, or SGD's
   * `momentum_buffer`.
   */
  readonly firstMoment: Float32Array;
  /** Adam's second moments (`exp_avg_sq`), same layout as `params`. */
  readonly secondMoment: Float32Array;
  /** Input token ids, `[batch, seq]`. */
  readonly inputs: Int32Array;
  /** Target token ids, `[batch, seq]`; -1 marks padding, left out of the loss. */
  readonly targets: Int32Array;
  /** Output logits after `forward`, time-major `[seq, batch, vocab]`. */
  readonly logits: Float32Array;
  /** The memory everything lives in. */
  readonly memory: WebAssembly.Memory;
  /** Threads sharing every kernel. */
  readonly threads: number;

  #runner: KernelRunner;
  #passes: WasmPasses;
  #started = false;
  // Each layer's state views (h0, c0, hT, cT), made once: carrying state runs every step.
  #states: Record<"h0" | "c0" | "hT" | "cT", Float32Array>[];

  static {
    seam.wasm = (engine) => (engine as WasmEngine).#passes;
  }

  private constructor(config: Required<CoreConfig>, variant: CoreVariant, threads: number) {
    this.config = config;
    this.variant = variant;
    this.threads = threads;
    this.layout = paramLayout(config);
    this.#runner = new KernelRunner(config, this.layout, { variant, threads });
    this.#passes = new WasmPasses(config, this.layout, this.#runner);
    const p = this.#runner.plan;
    this.memory = this.#runner.memory;
    const buf = this.memory.buffer;
    const { batch: B, seq: T, vocabSize: V, hidden: H } = config;
    const size = this.layout.size;
    this.params = new Float32Array(buf, p.params, size);
    this.grads = new Float32Array(buf, p.grads, size);
    this.firstMoment = new Float32Array(buf, p.firstMoment, size);
    this.secondMoment = new Float32Array(buf, p.secondMoment, size);
    this.inputs = new Int32Array(buf, p.inputs, B * T);
    this.targets = new Int32Array(buf, p.targets, B * T);
    this.logits = new Float32Array(buf, p.logits, T * B * V);
    const view = (at: number) => new Float32Array(buf, at, B * H);
    this.#states = p.layers.map((l) => ({
      h0: view(l.h),
      c0: view(l.c),
      hT: view(l.h + T * B * H * 4),
      cT: view(l.c + T * B * H * 4),
    }));
  }

  /**
   * Validates `config` (before allocating anything) and lays out an engine for it.
   *
   * @example Creating a WASM engine
   * ```ts
   * import { WasmEngine } from "./wasm_engine.ts";
   * using engine = WasmEngine.create(
   *   { vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 1, seq: 1 },
   *   { threads: 1 },
   * );
   * console.log(engine.kind); // "wasm"
   * ```
   */
  static create(config: CoreConfig, options: WasmEngineOptions = {}): WasmEngine {
    validateCoreConfig(config);
    const threads = checkThreads(options.threads ?? 1);
    const why = threads > 1 ? threadsUnavailable() : null;
    if (why) throw new Error(`Threads unavailable: ${why}; or use threads: 1`);
    const full: Required<CoreConfig> = {
      ...config,
      cell: config.cell ?? "lstm",
      embedding: config.embedding ?? 0,
      seed: config.seed ?? 0,
    };
    return new WasmEngine(full, resolveVariant(options.variant), threads);
  }

  /**
   * Advances a batch-1, seq-1 engine by one character: feeds `token`, leaves the next
   * character's logits in `logits` and the new state in `h0`/`c0` (already carried). Packs
   * the weights at the first call and reuses them until an optimizer step or
   * `weightsChanged()`.
   */
  sampleStep(token: number): void {
    const { batch, seq, vocabSize: V } = this.config;
    if (batch !== 1 || seq !== 1) {
      throw new Error(`sampleStep needs batch 1 and seq 1: this engine has ${batch} × ${seq}`);
    }
    if (!(token >= 0 && token < V) || !Number.isInteger(token)) {
      throw new RangeError(`Invalid token: ${token}: outside the vocabulary [0, ${V})`);
    }
    this.#passes.sampleStep(token);
  }

  /**
   * One step of batch 1 without dropout: feeds `token` to the carried state and returns the
   * next character's logits (a view, overwritten by the next call). What sampling runs.
   */
  next(token: number): Float32Array {
    this.sampleStep(token);
    return this.logits;
  }

  /**
   * Resolves once the worker threads have started (they start in the background; until then
   * kernels run on the calling thread alone, with the same results). Rejects if one failed.
   */
  whenReady(timeoutMs = 30_000): Promise<void> {
    return this.#runner.whenReady(timeoutMs);
  }

  /** Threads running the kernels now: 1 until the workers have started. */
  get activeThreads(): number {
    return this.#runner.activeThreads;
  }

  /** Tells the engine that `params` were written directly: the next forward repacks them. */
  weightsChanged(): void {
    this.#passes.packedValid = false;
  }

  /** Stops the worker threads (if any); using the engine afterwards throws. */
  dispose(): void {
    this.#runner.close();
  }

  /** Stops the worker threads (`using` calls this). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The parameter tensor `name` (a view into `params`). */
  param(name: string): Float32Array {
    return this.#view(this.#runner.plan.params, name);
  }

  /** The gradient of tensor `name` (a view into `grads`). */
  grad(name: string): Float32Array {
    return this.#view(this.#runner.plan.grads, name);
  }

  #view(base: number, name: string): Float32Array {
    const spec = this.layout.byName.get(name);
    if (!spec) {
      const known = this.layout.tensors.map((t) => t.name).join(", ");
      throw new RangeError(`Unknown tensor: ${name}: expected one of ${known}`);
    }
    return new Float32Array(this.memory.buffer, base + spec.offset * 4, spec.size);
  }

  // Layer `layer`'s state views, after checking the index (the readers take it from users).
  #layer(layer: number) {
    const L = this.config.layers;
    if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
      throw new RangeError(`Invalid layer: ${layer}: expected an integer in [0, ${L})`);
    }
    return this.#states[layer];
  }

  /** Initial hidden state of `layer`, `[batch, hidden]`; read by `forward`. */
  h0(layer: number): Float32Array {
    return this.#layer(layer).h0;
  }

  /** Initial cell state of `layer`, `[batch, hidden]`; read by `forward` (LSTM only). */
  c0(layer: number): Float32Array {
    return this.#layer(layer).c0;
  }

  /** Final hidden state of `layer` after `forward`. */
  hT(layer: number): Float32Array {
    return this.#layer(layer).hT;
  }

  /** Final cell state of `layer` after `forward` (LSTM only; other cells keep scratch here). */
  cT(layer: number): Float32Array {
    return this.#layer(layer).cT;
  }

  /**
   * Views of what the last `forward` computed in `layer`, valid until the next forward or
   * backward (backward overwrites the gates): `h` `[seq, batch, hidden]`, the state after each
   * timestep; `c`, the LSTM's cell after each timestep (null for the other cells); `gates`
   * `[seq, batch, blocks·hidden]`, the activated gates (LSTM i, f, g, o; GRU r, z, n; RNN the
   * new state). What `inspect`'s trace reads.
   */
  activations(layer: number): { h: Float32Array; c: Float32Array | null; gates: Float32Array } {
    this.#layer(layer);
    const buf = this.#runner.plan.layers[layer];
    const { batch: B, seq: T, hidden: H, cell } = this.config;
    const at = (offset: number, n: number) => new Float32Array(this.memory.buffer, offset, n);
    return {
      h: at(buf.h + B * H * 4, T * B * H),
      c: cell === "lstm" ? at(buf.c + B * H * 4, T * B * H) : null,
      gates: at(buf.gates, T * B * gateBlocks(cell) * H),
    };
  }

  /** The loss of each row (time-major `[seq, batch]`, 0 for padding) of the last forward. */
  rowLosses(): Float64Array {
    const { batch: B, seq: T } = this.config;
    return new Float64Array(this.memory.buffer, this.#runner.plan.rowLoss, T * B);
  }

  /** Makes the final state the next initial state (truncated BPTT across batches). */
  carryState(): void {
    const lstm = this.config.cell === "lstm"; // the other cells have no cell state
    for (const s of this.#states) {
      s.h0.set(s.hT);
      if (lstm) s.c0.set(s.cT);
    }
  }

  /** Zeroes the initial state of every layer. */
  resetState(): void {
    const lstm = this.config.cell === "lstm";
    for (const s of this.#states) {
      s.h0.fill(0);
      if (lstm) s.c0.fill(0);
    }
  }

  /** Runs the network over `inputs` and returns the mean cross-entropy against `targets`. */
  forward(options: ForwardOptions = {}): number {
    return this.#passes.forward(options);
  }

  /** Gradients of the last `forward`'s loss into `grads` (and the initial state's). */
  backward(): void {
    this.#passes.backward(this.grads);
  }

  /**
   * Scales the gradients so their global L2 norm is at most `maxNorm` (PyTorch's
   * clip_grad_norm_: coefficient maxNorm / (norm + 1e-6) when below 1). Returns the norm
   * before clipping; a non-finite norm leaves the gradients as they are.
   */
  clipGradNorm(maxNorm: number): number {
    return this.#passes.clipGradNorm(maxNorm);
  }

  /** Clamps every gradient to [-c, c] (element-wise clipping). */
  clipGradValue(c: number): void {
    this.#passes.clipGradValue(c);
  }

  /**
   * One SGD update of `params` from `grads` (PyTorch's torch.optim.SGD, dampening 0); the
   * momentum buffer is `firstMoment`. `step` counts from 1 (the first step starts the buffer).
   */
  sgdStep(step: number, options: SgdOptions): void {
    this.#passes.sgdStep(step, options);
  }

  /**
   * One Adam update of `params` from `grads` (AdamW's when `weightDecay` is given); `step`
   * counts from 1 (bias correction).
   */
  adamStep(step: number, options: AdamOptions): void {
    this.#passes.adamStep(step, options);
  }

  load(state: EngineState): void {
    if (state.params) {
      this.params.set(state.params);
      this.weightsChanged();
    }
    const first = state.firstMoment ?? state.adamM;
    const second = state.secondMoment ?? state.adamV;
    if (first) this.firstMoment.set(first);
    if (second) this.secondMoment.set(second);
    const size = this.config.batch * this.config.hidden;
    for (let l = 0; l < this.config.layers; l++) {
      if (state.h) this.h0(l).set(state.h.subarray(l * size, (l + 1) * size));
      if (state.c) this.c0(l).set(state.c.subarray(l * size, (l + 1) * size));
    }
  }

  async sync(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.whenReady().catch(() => {}); // without workers, it runs on one thread
  }

  readCarried(h: Float32Array, c: Float32Array): void {
    const size = this.config.batch * this.config.hidden;
    // Only the LSTM has a cell state; the other cells keep scratch in the c region.
    const lstm = this.config.cell === "lstm";
    for (let l = 0; l < this.config.layers; l++) {
      h.set(this.h0(l), l * size);
      if (lstm) c.set(this.c0(l), l * size);
    }
  }

  trainStep(o: TrainStepOptions): Promise<StepResult> {
    const loss = this.forward({ step: o.step });
    this.backward();
    const gradNorm = this.clipGradNorm(o.clip > 0 && o.clipMode === "norm" ? o.clip : Infinity);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      return Promise.resolve({ loss, gradNorm, applied: false });
    }
    if (o.clip > 0 && o.clipMode === "value") this.clipGradValue(o.clip);
    const weightDecay = o.weightDecay ?? 0;
    if (o.optimizer === "adam") this.adamStep(o.step + 1, { lr: o.lr, weightDecay });
    else this.sgdStep(o.step + 1, { lr: o.lr, momentum: o.momentum, weightDecay });
    this.carryState();
    return Promise.resolve({ loss, gradNorm, applied: true });
  }

  evaluateBatches(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    fresh: boolean | ((index: number) => boolean),
  ): Promise<EvaluateTotals> {
    const steps = this.evaluateSteps(count, fill, fresh);
    let next = steps.next();
    while (!next.done) next = steps.next();
    return Promise.resolve(next.value);
  }

  /**
   * {@linkcode evaluateBatches} one batch at a time: yields after each batch's forward, while
   * the engine holds that batch's activations (`activations(layer)`, `logits`, `rowLosses()`),
   * and returns the totals. The carried training state is restored when the generator ends,
   * also when its consumer stops early. `inspect`'s trace runs on it, so its figures are
   * `evaluate`'s to the bit.
   *
   * @example The losses of two windows of one stream, state carried
   * ```ts
   * import { WasmEngine } from "./wasm_engine.ts";
   * using engine = WasmEngine.create({ vocabSize: 3, hidden: 4, layers: 1, dropout: 0, batch: 1, seq: 2 });
   * const text = [0, 1, 2, 0, 1];
   * const fill = (k: number, x: Int32Array, y: Int32Array) => {
   *   x.set(text.slice(2 * k, 2 * k + 2));
   *   y.set(text.slice(2 * k + 1, 2 * k + 3));
   * };
   * for (const step of engine.evaluateSteps(2, fill, (k) => k === 0)) {
   *   console.log(step.index, engine.rowLosses());
   * }
   * ```
   */
  *evaluateSteps(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    fresh: boolean | ((index: number) => boolean),
  ): Generator<{ index: number; mean: number; targets: number }, EvaluateTotals> {
    const { layers: L, batch: B, hidden: H } = this.config;
    const h = new Float32Array(L * B * H), cs = new Float32Array(L * B * H);
    this.readCarried(h, cs);
    this.resetState();
    try {
      let sum = 0, targets = 0, means = 0;
      for (let i = 0; i < count; i++) {
        fill(i, this.inputs, this.targets);
        if (fresh === true || (fresh !== false && fresh(i))) this.resetState();
        const mean = this.forward({ training: false, reuseWeights: true });
        const n = countTargets(this.targets);
        means += mean;
        if (n > 0) sum += mean * n;
        targets += n;
        yield { index: i, mean, targets: n };
        this.carryState();
      }
      return { sum, count: targets, meanOfBatches: means / count };
    } finally {
      this.load({ h, c: cs });
    }
  }

  /** @deprecated Use `firstMoment` (the same array). */
  get adamM(): Float32Array {
    return this.firstMoment;
  }

  /** @deprecated Use `secondMoment` (the same array). */
  get adamV(): Float32Array {
    return this.secondMoment;
  }

  /** @deprecated The engine is the core now: use the engine itself. */
  get core(): WasmEngine {
    return this;
  }
}
