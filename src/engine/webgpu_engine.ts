// The WebGPU engine: the Engine contract on a GPU. The same stacked LSTM, GRU or tanh RNN as
// the WASM engine, one-hot or embedded input (PyTorch equations, flat parameter layout, the
// same dropout hash), as WGSL kernels over GPU buffers laid out once per config. A training
// step records every timestep of every layer into one command encoder and submits it without
// waiting; only the loss, the gradient norm and the applied flag come back. Parameters,
// moments and the carried state stay on the GPU until `sync()` copies them out.
//
// Where the rest lives, in webgpu/: the WGSL by kernel family (_wgsl_*.ts, mirroring
// assembly/), the pipeline cache (pipelines.ts), the buffers (buffers.ts), what is uploaded
// before a step (upload.ts), the recorded step (step.ts) and read-backs (readback.ts). Tests
// reach its internals through _probe.ts.

import { type CoreConfig, validateCoreConfig } from "../model/config.ts";
import { type ParamLayout, paramLayout } from "../model/params.ts";
import {
  countTargets,
  type Engine,
  type EngineState,
  type EvaluateTotals,
  type StepResult,
  type TrainStepOptions,
} from "./engine.ts";
import { type GpuContext, gpuContext } from "./gpu_device.ts";
import { seam } from "./_seam.ts";
import { allocateBuffers, destroyBuffers, type GpuBuffers, HISTORY } from "./webgpu/buffers.ts";
import { encode } from "./webgpu/pipelines.ts";
import { Readback, STEP_SCALAR_BYTES } from "./webgpu/readback.ts";
import { buildPrograms, encodeCarry, type Programs } from "./webgpu/step.ts";
import { type StepUniform, StepUpload } from "./webgpu/upload.ts";
import { MAX_LAYERS, SCALAR } from "./webgpu/_wgsl_common.ts";

/**
 * Raised when the WebGPU backend cannot run: no adapter was found.
 *
 * @example Falling back to WASM by hand
 * ```ts
 * import { createEngine } from "./create.ts";
 * import { WebGpuUnavailableError } from "./webgpu_engine.ts";
 * const config = { vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 };
 * let engine;
 * try {
 *   engine = await createEngine(config, { backend: "webgpu" });
 * } catch (e) {
 *   if (!(e instanceof WebGpuUnavailableError)) throw e;
 *   engine = await createEngine(config, { backend: "wasm" });
 * }
 * console.log(engine.kind);
 * engine.dispose();
 * ```
 */
export class WebGpuUnavailableError extends Error {
  /** Always `WebGpuUnavailableError`. */
  override name = "WebGpuUnavailableError";
}

/** Options for {@linkcode WebGpuEngine.create}. */
export interface WebGpuEngineOptions {
  /** The device to run on (default: the process's, from `navigator.gpu`). */
  context?: GpuContext;
}

/**
 * A stacked LSTM, GRU or tanh RNN with one-hot or embedded input and a linear softmax output on
 * WebGPU, laid out for a fixed (batch, seq): the same semantics, parameter layout and dropout
 * masks as `WasmEngine`.
 *
 * Compute methods record and submit GPU work without waiting; `sync`, `trainStep` and
 * `evaluateBatches` wait for what they read back.
 *
 * @example One training step on the GPU
 * ```ts
 * import { WebGpuEngine } from "./webgpu_engine.ts";
 * const net = await WebGpuEngine.create({
 *   vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3,
 * });
 * net.inputs.set([0, 1, 2, 3, 4, 0]);
 * net.targets.set([1, 2, 3, 4, 0, 1]);
 * const { loss } = await net.trainStep({
 *   step: 0, optimizer: "adam", lr: 1e-3, momentum: 0, clip: 5, clipMode: "norm",
 * });
 * console.log(loss);
 * net.dispose();
 * ```
 */
export class WebGpuEngine implements Engine {
  /** Always `webgpu`. */
  readonly kind = "webgpu" as const;
  /** The validated config. */
  readonly config: Readonly<Required<CoreConfig>>;
  /** Named tensor offsets inside `params`. */
  readonly layout: ParamLayout;
  /** Input token ids `[batch, seq]`, uploaded at the next forward. */
  readonly inputs: Int32Array<ArrayBuffer>;
  /** Target ids `[batch, seq]` (-1 = padding), uploaded at the next forward. */
  readonly targets: Int32Array<ArrayBuffer>;
  /** Host copy of the parameters, current after `load` or `sync`. */
  readonly params: Float32Array<ArrayBuffer>;
  /**
   * Host copy of the optimizer's first moments (Adam's `exp_avg`, SGD's `momentum_buffer`),
   * current after `load` or `sync`.
   */
  readonly firstMoment: Float32Array<ArrayBuffer>;
  /** Host copy of Adam's second moments (`exp_avg_sq`), current after `load` or `sync`. */
  readonly secondMoment: Float32Array<ArrayBuffer>;
  /** The adapter this runs on. */
  readonly adapter: { description: string; software: boolean };

  #device: GPUDevice;
  #buf: GpuBuffers;
  #programs!: Programs;
  #upload: StepUpload;
  #readback: Readback;
  #hostH: Float32Array<ArrayBuffer>;
  #hostC: Float32Array<ArrayBuffer>;
  #disposed = false;
  // What the last forward was: backward needs a training forward's activations.
  #lastForward: "train" | "eval" | null = null;

  static {
    seam.webgpu = (e) => {
      const engine = e as WebGpuEngine;
      return {
        config: engine.config,
        layout: engine.layout,
        buffers: engine.#buf,
        programs: engine.#programs,
        forward: (training, step) => engine.#forward(training, step),
        backward: () => engine.#backward(),
        download: (src, offset, bytes) => {
          engine.#check();
          return engine.#readback.download(src, offset, bytes);
        },
      };
    };
  }

  private constructor(config: Required<CoreConfig>, ctx: GpuContext) {
    this.config = config;
    this.layout = paramLayout(config);
    this.adapter = { description: ctx.description, software: ctx.software };
    this.#device = ctx.device;
    this.#buf = allocateBuffers(ctx.device, config, this.layout);
    this.#upload = new StepUpload(config, ctx.device.queue, this.#buf);
    this.#readback = new Readback(ctx.device);
    const { layers: L, batch: B, seq: T, hidden: H } = config;
    const P = this.layout.size;
    this.inputs = new Int32Array(T * B);
    this.targets = new Int32Array(T * B);
    this.params = new Float32Array(P);
    this.firstMoment = new Float32Array(P);
    this.secondMoment = new Float32Array(P);
    this.#hostH = new Float32Array(L * B * H);
    this.#hostC = new Float32Array(L * B * H);
  }

  /**
   * Lays out a WebGPU engine for `config` on the process's device (or `options.context`).
   * Rejects with {@linkcode WebGpuUnavailableError} when no adapter exists, and with a
   * RangeError when a buffer exceeds the adapter's limits.
   */
  static async create(
    config: CoreConfig,
    options: WebGpuEngineOptions = {},
  ): Promise<WebGpuEngine> {
    validateCoreConfig(config);
    if (config.layers > MAX_LAYERS) {
      throw new RangeError(
        `Invalid config for WebGPU: ${config.layers} layers, over ${MAX_LAYERS}: ` +
          `use the WASM backend`,
      );
    }
    const ctx = options.context ?? await gpuContext();
    if (!ctx) {
      throw new WebGpuUnavailableError(
        "WebGPU backend unavailable: no adapter found: install a GPU driver or Mesa's " +
          "software Vulkan driver (apt-get install mesa-vulkan-drivers), or use --backend wasm",
      );
    }
    const net = new WebGpuEngine({
      ...config,
      cell: config.cell ?? "lstm",
      embedding: config.embedding ?? 0,
      seed: config.seed ?? 0,
    }, ctx);
    net.#programs = await buildPrograms(ctx.device, net.config, net.layout, net.#buf);
    return net;
  }

  /** Stops using the GPU buffers (they are destroyed); using the engine afterwards throws. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    destroyBuffers(this.#buf);
    this.#readback.destroy();
  }

  /** Destroys the GPU buffers (`using` calls this). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(): void {
    if (this.#disposed) {
      throw new Error("Core disposed: create a new WebGpuEngine to run it again");
    }
  }

  // Encodes `record` into one command encoder and submits it.
  #submit(record: (encoder: GPUCommandEncoder) => void): void {
    const encoder = this.#device.createCommandEncoder();
    record(encoder);
    this.#device.queue.submit([encoder.finish()]);
  }

  #writeBatch(training: boolean, uniform: Partial<StepUniform>): void {
    this.#upload.write(this.inputs, this.targets, training, uniform);
  }

  #forward(training: boolean, step: number): void {
    this.#check();
    this.#writeBatch(training, { step });
    const p = this.#programs;
    this.#submit((e) => encode(e, training ? p.forwardTrain : p.forwardEval));
    this.#lastForward = training ? "train" : "eval";
  }

  #backward(): void {
    this.#check();
    if (this.#lastForward !== "train") {
      throw new Error(
        "Backward without forward: call forward({ training: true }) first, then backward once",
      );
    }
    this.#lastForward = null;
    this.#submit((e) => {
      for (const l of this.#buf.layers) e.clearBuffer(l.dc);
      encode(e, this.#programs.backward);
    });
  }

  /**
   * One whole training step, recorded into one command encoder: forward, backward, global norm
   * (clipping folded into the update), optimizer update (skipped on the GPU when loss or norm
   * is not finite), state carried. The step is submitted when this is called; the returned
   * promise waits only for the three scalars, so a caller may submit the next step before it
   * awaits this one (at most two steps in flight).
   */
  async trainStep(o: TrainStepOptions): Promise<StepResult> {
    this.#check();
    const t = o.step + 1;
    const beta1 = 0.9, beta2 = 0.999;
    const bc1 = Math.fround(1 - beta1 ** t), bc2 = Math.fround(1 - beta2 ** t);
    this.#writeBatch(true, {
      step: o.step,
      clipNorm: o.clip > 0 && o.clipMode === "norm" ? o.clip : 0,
      clipValue: o.clip > 0 && o.clipMode === "value" ? o.clip : 0,
      lrOverBc1: Math.fround(Math.fround(o.lr) / bc1),
      invSqrtBc2: Math.fround(1 / Math.sqrt(bc2)),
      beta1,
      beta2,
      eps: 1e-8,
      lr: o.lr,
      momentum: o.momentum,
      sgdFirst: t === 1,
      // AdamW's factor in f64, rounded once (torch's param.mul_(1 - lr * weight_decay)).
      decay: o.optimizer === "adam" ? 1 - o.lr * (o.weightDecay ?? 0) : o.weightDecay ?? 0,
    });
    const p = this.#programs;
    const staging = this.#readback.nextStepStaging();
    this.#submit((e) => {
      for (const l of this.#buf.layers) e.clearBuffer(l.dc);
      encode(e, p.forwardTrain, p.backward, p.clip, o.optimizer === "adam" ? p.adam : p.sgd);
      encodeCarry(e, this.config, this.#buf);
      e.copyBufferToBuffer(this.#buf.scalars, 0, staging, 0, STEP_SCALAR_BYTES);
    });
    this.#lastForward = null;
    const s = await this.#readback.mapRead(staging, STEP_SCALAR_BYTES);
    return { loss: s[SCALAR.loss], gradNorm: s[SCALAR.norm], applied: s[SCALAR.ok] !== 0 };
  }

  /** Makes the final state of the last forward the next initial state. */
  carryState(): void {
    this.#check();
    this.#submit((e) => encodeCarry(e, this.config, this.#buf));
  }

  /** Zeroes the initial state of every layer. */
  resetState(): void {
    this.#check();
    const bytes = this.config.batch * this.config.hidden * 4;
    this.#submit((e) => {
      for (const l of this.#buf.layers) {
        e.clearBuffer(l.h, 0, bytes);
        e.clearBuffer(l.c, 0, bytes);
      }
    });
  }

  async evaluateBatches(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    fresh: boolean | ((index: number) => boolean),
  ): Promise<EvaluateTotals> {
    this.#check();
    const b = this.#buf;
    const bytes = this.config.batch * this.config.hidden * 4;
    this.#submit((e) => {
      for (const [l, lb] of b.layers.entries()) {
        e.copyBufferToBuffer(lb.h, 0, b.savedState, 2 * l * bytes, bytes);
        e.copyBufferToBuffer(lb.c, 0, b.savedState, (2 * l + 1) * bytes, bytes);
      }
    });
    this.resetState();
    let sum = 0, targets = 0, means = 0;
    const counts = new Float64Array(HISTORY);
    for (let first = 0; first < count; first += HISTORY) {
      const n = Math.min(HISTORY, count - first);
      for (let i = 0; i < n; i++) {
        fill(first + i, this.inputs, this.targets);
        if (fresh === true || (fresh !== false && fresh(first + i))) this.resetState();
        counts[i] = countTargets(this.targets);
        this.#writeBatch(false, { lossSlot: SCALAR.history + i });
        this.#submit((e) => {
          encode(e, this.#programs.forwardEval);
          encodeCarry(e, this.config, b);
        });
      }
      const losses = await this.#readback.download(b.scalars, SCALAR.history * 4, n * 4);
      for (const [i, loss] of losses.entries()) {
        means += loss;
        if (counts[i] > 0) sum += loss * counts[i];
        targets += counts[i];
      }
    }
    this.#submit((e) => {
      for (const [l, lb] of b.layers.entries()) {
        e.copyBufferToBuffer(b.savedState, 2 * l * bytes, lb.h, 0, bytes);
        e.copyBufferToBuffer(b.savedState, (2 * l + 1) * bytes, lb.c, 0, bytes);
      }
    });
    this.#lastForward = null;
    return { sum, count: targets, meanOfBatches: means / count };
  }

  load(state: EngineState): void {
    this.#check();
    const q = this.#device.queue;
    const b = this.#buf;
    const put = (
      host: Float32Array<ArrayBuffer>,
      src: Float32Array | undefined,
      gpu: GPUBuffer,
    ) => {
      if (!src) return;
      if (src.length !== host.length) {
        throw new RangeError(`Invalid state: ${src.length} floats, expected ${host.length}`);
      }
      host.set(src);
      q.writeBuffer(gpu, 0, host);
    };
    put(this.params, state.params, b.params);
    put(this.firstMoment, state.firstMoment ?? state.adamM, b.m);
    put(this.secondMoment, state.secondMoment ?? state.adamV, b.v);
    const size = this.config.batch * this.config.hidden;
    for (const [which, src] of [["h", state.h], ["c", state.c]] as const) {
      if (!src) continue;
      const host = which === "h" ? this.#hostH : this.#hostC;
      if (src.length !== host.length) {
        throw new RangeError(
          `Invalid state: ${which} has ${src.length} floats, expected ${host.length}`,
        );
      }
      host.set(src);
      for (const [l, lb] of b.layers.entries()) q.writeBuffer(lb[which], 0, host, l * size, size);
    }
  }

  async sync(): Promise<void> {
    this.#check();
    const P = this.layout.size;
    const { batch: B, hidden: H, layers: L } = this.config;
    const state = B * H * 4;
    const total = 3 * P * 4 + 2 * L * state;
    const staging = this.#readback.staging(total);
    const b = this.#buf;
    this.#submit((e) => {
      e.copyBufferToBuffer(b.params, 0, staging, 0, P * 4);
      e.copyBufferToBuffer(b.m, 0, staging, P * 4, P * 4);
      e.copyBufferToBuffer(b.v, 0, staging, 2 * P * 4, P * 4);
      for (const [l, lb] of b.layers.entries()) {
        e.copyBufferToBuffer(lb.h, 0, staging, 3 * P * 4 + l * state, state);
        e.copyBufferToBuffer(lb.c, 0, staging, 3 * P * 4 + (L + l) * state, state);
      }
    });
    const all = await this.#readback.mapRead(staging, total);
    this.params.set(all.subarray(0, P));
    this.firstMoment.set(all.subarray(P, 2 * P));
    this.secondMoment.set(all.subarray(2 * P, 3 * P));
    this.#hostH.set(all.subarray(3 * P, 3 * P + L * B * H));
    this.#hostC.set(all.subarray(3 * P + L * B * H));
  }

  readCarried(h: Float32Array, c: Float32Array): void {
    h.set(this.#hostH);
    // Only the LSTM has a cell state; the GRU keeps W_hn h + b_hn (or its gradient) in c.
    if (this.config.cell === "lstm") c.set(this.#hostC);
  }

  /** @deprecated Use `firstMoment` (the same array). */
  get adamM(): Float32Array<ArrayBuffer> {
    return this.firstMoment;
  }

  /** @deprecated Use `secondMoment` (the same array). */
  get adamV(): Float32Array<ArrayBuffer> {
    return this.secondMoment;
  }
}
