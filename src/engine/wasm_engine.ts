// The WASM core behind the engine interface (host arrays are views of its memory), plus the
// batch-1 step that sampling runs one character at a time.

import {
  countTargets,
  type Engine,
  type EngineState,
  type EvaluateTotals,
  type StepResult,
  type TrainStepOptions,
} from "./engine.ts";
import { WasmCore } from "./wasm_core.ts";
import type { WasmCoreOptions } from "./wasm_options.ts";
import type { CoreConfig } from "../model/config.ts";

/**
 * The WASM core behind the engine interface: host arrays are views of its memory, so they are
 * always current.
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
  /** The core it drives. */
  readonly core: WasmCore;

  /** Wraps `core`; disposing the engine disposes it. */
  constructor(core: WasmCore) {
    this.core = core;
  }

  /**
   * Creates the core for `config` and wraps it.
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
  static create(config: CoreConfig, options: WasmCoreOptions = {}): WasmEngine {
    return new WasmEngine(WasmCore.create(config, options));
  }

  /**
   * One step of batch 1 without dropout: feeds `token` to the carried state and returns the
   * next character's logits (a view, overwritten by the next call). What sampling runs.
   */
  next(token: number): Float32Array {
    this.core.sampleStep(token);
    return this.core.logits;
  }

  get config(): WasmCore["config"] {
    return this.core.config;
  }
  get layout(): WasmCore["layout"] {
    return this.core.layout;
  }
  get inputs(): Int32Array {
    return this.core.inputs;
  }
  get targets(): Int32Array {
    return this.core.targets;
  }
  get params(): Float32Array {
    return this.core.params;
  }
  get adamM(): Float32Array {
    return this.core.adamM;
  }
  get adamV(): Float32Array {
    return this.core.adamV;
  }

  load(state: EngineState): void {
    const c = this.core;
    if (state.params) {
      c.params.set(state.params);
      c.weightsChanged();
    }
    if (state.adamM) c.adamM.set(state.adamM);
    if (state.adamV) c.adamV.set(state.adamV);
    const size = c.config.batch * c.config.hidden;
    for (let l = 0; l < c.config.layers; l++) {
      if (state.h) c.h0(l).set(state.h.subarray(l * size, (l + 1) * size));
      if (state.c) c.c0(l).set(state.c.subarray(l * size, (l + 1) * size));
    }
  }

  #started = false;

  async sync(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.core.whenReady().catch(() => {}); // without workers, it runs on one thread
  }

  readCarried(h: Float32Array, c: Float32Array): void {
    const size = this.core.config.batch * this.core.config.hidden;
    // Only the LSTM has a cell state; the other cells keep scratch in the c region.
    const lstm = this.core.config.cell === "lstm";
    for (let l = 0; l < this.core.config.layers; l++) {
      h.set(this.core.h0(l), l * size);
      if (lstm) c.set(this.core.c0(l), l * size);
    }
  }

  resetState(): void {
    this.core.resetState();
  }

  trainStep(o: TrainStepOptions): Promise<StepResult> {
    const c = this.core;
    const loss = c.forward({ step: o.step });
    c.backward();
    const gradNorm = c.clipGradNorm(o.clip > 0 && o.clipMode === "norm" ? o.clip : Infinity);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      return Promise.resolve({ loss, gradNorm, applied: false });
    }
    if (o.clip > 0 && o.clipMode === "value") c.clipGradValue(o.clip);
    const weightDecay = o.weightDecay ?? 0;
    if (o.optimizer === "adam") c.adamStep(o.step + 1, { lr: o.lr, weightDecay });
    else c.sgdStep(o.step + 1, { lr: o.lr, momentum: o.momentum, weightDecay });
    c.carryState();
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
   * the core holds that batch's activations (`core.activations(layer)`, `core.logits`,
   * `core.rowLosses()`), and returns the totals. The carried training state is restored when
   * the generator ends, also when its consumer stops early. `inspect`'s trace runs on it, so
   * its figures are `evaluate`'s to the bit.
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
   *   console.log(step.index, engine.core.rowLosses());
   * }
   * ```
   */
  *evaluateSteps(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    fresh: boolean | ((index: number) => boolean),
  ): Generator<{ index: number; mean: number; targets: number }, EvaluateTotals> {
    const c = this.core;
    const { layers: L, batch: B, hidden: H } = c.config;
    const h = new Float32Array(L * B * H), cs = new Float32Array(L * B * H);
    this.readCarried(h, cs);
    c.resetState();
    try {
      let sum = 0, targets = 0, means = 0;
      for (let i = 0; i < count; i++) {
        fill(i, c.inputs, c.targets);
        if (fresh === true || (fresh !== false && fresh(i))) c.resetState();
        const mean = c.forward({ training: false, reuseWeights: true });
        const n = countTargets(c.targets);
        means += mean;
        if (n > 0) sum += mean * n;
        targets += n;
        yield { index: i, mean, targets: n };
        c.carryState();
      }
      return { sum, count: targets, meanOfBatches: means / count };
    } finally {
      this.load({ h, c: cs });
    }
  }

  dispose(): void {
    this.core.dispose();
  }

  /** Disposes the core (`using` calls this). */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
