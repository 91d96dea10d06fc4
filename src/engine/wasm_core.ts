// The WASM core: owns one WebAssembly.Memory laid out once per config (see _wasm_plan.ts) and
// runs a stacked LSTM's, GRU's or tanh RNN's forward, loss, backward and optimizer over it.
// Parameters, gradients and activations are Float32Array views at fixed offsets; a training
// step allocates nothing and copies nothing per timestep.

import { CELLS, type CoreConfig, gateBlocks, validateCoreConfig } from "../model/config.ts";
import { type ParamLayout, paramLayout } from "../model/params.ts";
import {
  type CoreExports,
  coreMemory,
  type CoreVariant,
  instantiateCore,
  resolveVariant,
} from "./wasm_module.ts";
import { type KernelTiming, probes } from "./_wasm_probe.ts";
import type { AdamOptions, ForwardOptions, SgdOptions, WasmCoreOptions } from "./wasm_options.ts";
import { KERNELS, ThreadPool } from "./_thread_pool.ts";
import {
  estimateBytes,
  MAX_BYTES,
  type MemoryPlan,
  PAGE,
  planMemory,
  SAMPLE_DESC,
} from "./_wasm_plan.ts";
import { checkTokens } from "./engine.ts";
import { checkThreads, threadsUnavailable } from "./threads.ts";

const KERNEL_INDEX = Object.fromEntries(KERNELS.map((k, i) => [k, i])) as Record<
  (typeof KERNELS)[number],
  number
>;

/**
 * A stacked LSTM, GRU or tanh RNN (`config.cell`) with one-hot or embedded input and a linear
 * softmax output, laid out in one WebAssembly.Memory for a fixed (batch, seq).
 *
 * Inputs and targets are `[batch, seq]` token ids (row b is one sequence); logits are
 * time-major `[seq, batch, vocab]`. Parameters follow the PyTorch CharRNN state_dict.
 *
 * @example Forward and backward by hand
 * ```ts
 * import { WasmCore } from "./wasm_core.ts";
 * const net = WasmCore.create({ vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 });
 * net.params.fill(0.1);
 * net.inputs.set([0, 1, 2, 3, 4, 0]);
 * net.targets.set([1, 2, 3, 4, 0, 1]);
 * const loss = net.forward();
 * net.backward();
 * console.log(loss, net.grad("fc.bias"));
 * ```
 */
export class WasmCore {
  /** The validated config this core is laid out for. */
  readonly config: Readonly<Required<CoreConfig>>;
  /** Which compiled core runs. */
  readonly variant: CoreVariant;
  /** Named tensor offsets inside `params` and `grads`. */
  readonly layout: ParamLayout;
  /** Every parameter, one flat array (see `layout`). */
  readonly params: Float32Array;
  /** Gradients of the mean loss, same layout as `params`; written by `backward`. */
  readonly grads: Float32Array;
  /** Adam's first moments (PyTorch `exp_avg`), same layout as `params`. */
  readonly adamM: Float32Array;
  /** Adam's second moments (PyTorch `exp_avg_sq`), same layout as `params`. */
  readonly adamV: Float32Array;
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

  #core: CoreExports;
  #plan: MemoryPlan;
  #pool: ThreadPool | null = null;
  #threaded = false;
  #disposed = false;
  #packedValid = false;
  // Milliseconds and calls per kernel while a profile runs (bench/profile.ts, through the
  // probe), or null.
  #timings: Map<string, KernelTiming> | null = null;
  #sampleReady = false;
  #lastForward: { training: boolean; withGrad: boolean } | null = null;
  // Each layer's state views (h0, c0, hT, cT, dc), made once: carrying state and zeroing dc
  // run every step.
  #states: Record<"h0" | "c0" | "hT" | "cT" | "dc", Float32Array>[];

  private constructor(config: Required<CoreConfig>, variant: CoreVariant, threads: number) {
    this.config = config;
    this.variant = variant;
    this.threads = threads;
    this.layout = paramLayout(config);
    const needed = estimateBytes(config, this.layout.size);
    if (needed > MAX_BYTES) {
      throw new RangeError(
        `Invalid config: batch ${config.batch} × seq ${config.seq} × hidden ${config.hidden} ` +
          `needs ${(needed / 2 ** 30).toFixed(1)} GiB, over WebAssembly's 4 GiB: ` +
          `reduce batch, seq or hidden`,
      );
    }
    // One thread needs no shared memory (a web page without cross-origin isolation has none).
    const shared = threads > 1;
    // Size queries need an instance; a one-page memory is enough for them.
    const probe = instantiateCore(variant, coreMemory(1, shared));
    if (probe.heapBase() > PAGE) throw new Error("Internal error: core static data exceeds a page");
    this.#plan = planMemory(config, this.layout, probe);
    if (this.#plan.bytes > MAX_BYTES) {
      throw new RangeError(
        `Invalid config: the layout needs ${(this.#plan.bytes / 2 ** 30).toFixed(1)} GiB, ` +
          `over WebAssembly's 4 GiB: reduce batch, seq or hidden`,
      );
    }
    const pages = Math.ceil(this.#plan.bytes / PAGE);
    try {
      this.memory = coreMemory(pages, shared);
    } catch (cause) {
      throw new RangeError(
        `Out of memory: the config needs ${(pages * PAGE / 2 ** 20).toFixed(0)} MiB: ` +
          `reduce batch, seq or hidden`,
        { cause },
      );
    }
    this.#core = instantiateCore(variant, this.memory);
    const p = this.#plan;
    // Alone until the workers are up (see #run).
    this.#core.setThread(0, 1, p.sync);
    if (threads > 1) this.#pool = new ThreadPool(variant, this.memory, threads, p.sync);
    const buf = this.memory.buffer;
    const { batch: B, seq: T, vocabSize: V } = config;
    this.params = new Float32Array(buf, p.params, this.layout.size);
    this.grads = new Float32Array(buf, p.grads, this.layout.size);
    this.adamM = new Float32Array(buf, p.adamM, this.layout.size);
    this.adamV = new Float32Array(buf, p.adamV, this.layout.size);
    this.inputs = new Int32Array(buf, p.inputs, B * T);
    this.targets = new Int32Array(buf, p.targets, B * T);
    this.logits = new Float32Array(buf, p.logits, T * B * V);
    const H = config.hidden;
    const view = (at: number) => new Float32Array(buf, at, B * H);
    this.#states = p.layers.map((l) => ({
      h0: view(l.h),
      c0: view(l.c),
      hT: view(l.h + T * B * H * 4),
      cT: view(l.c + T * B * H * 4),
      dc: view(l.dc),
    }));
    probes.set(this, {
      dh0: (layer) => view(this.#layer(layer).dh),
      dc0: (layer) => this.#states[layer].dc,
      dropoutMask: (layer) => {
        const at = p.layers[layer]?.mask;
        return at ? new Float32Array(this.memory.buffer, at, T * B * H) : null;
      },
      profile: (timings) => {
        this.#timings = timings;
      },
      barriers: (n) => {
        const t0 = performance.now();
        this.#run("barriers", n);
        return performance.now() - t0;
      },
    });
  }

  /** Validates `config` (before allocating anything) and lays out a core for it. */
  static create(config: CoreConfig, options: WasmCoreOptions = {}): WasmCore {
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
    return new WasmCore(full, resolveVariant(options.variant), threads);
  }

  /**
   * Advances a batch-1, seq-1 core by one character: feeds `token`, leaves the next
   * character's logits in `logits` and the new state in `h0`/`c0` (already carried). Packs
   * the weights at the first call and reuses them until `adamStep` or `weightsChanged()`.
   */
  sampleStep(token: number): void {
    const { batch, seq, layers: L, hidden: H, vocabSize: V } = this.config;
    if (batch !== 1 || seq !== 1) {
      throw new Error(`sampleStep needs batch 1 and seq 1: this core has ${batch} × ${seq}`);
    }
    if (!(token >= 0 && token < V) || !Number.isInteger(token)) {
      throw new RangeError(`Invalid token: ${token}: outside the vocabulary [0, ${V})`);
    }
    const p = this.#plan;
    if (!this.#packedValid) {
      const desc = new Uint32Array(this.memory.buffer, p.sampleDesc, L * SAMPLE_DESC + 3);
      const table = this.#embeddingAt(p.params);
      for (let l = 0; l < L; l++) {
        const buf = p.layers[l];
        const w = this.#layerParams(p.params, l);
        const oneHot = l === 0 && !table ? 1 : 0;
        this.#run("recurrentPack", this.#cell, oneHot, buf.inSize, w.wih, w.whh, buf.packed, H);
        desc.set(
          [buf.packed, w.bih, w.bhh, buf.gates, buf.h, buf.c, buf.inSize, l === 0 ? table : 0],
          l * SAMPLE_DESC,
        );
      }
      const fcW = p.params + this.layout.fcWeight.offset * 4;
      const fcB = p.params + this.layout.fcBias.offset * 4;
      this.#run("packB", fcW, H, 1, H, V, p.fcPacked);
      desc.set([p.fcPacked, fcB, p.logits], L * SAMPLE_DESC);
      this.#packedValid = true;
      this.#sampleReady = true;
    } else if (!this.#sampleReady) {
      this.#packedValid = false; // writes the table on the way
      return this.sampleStep(token);
    }
    this.#run("sampleStep", this.#cell, token, L, H, V, p.sampleDesc);
  }

  /**
   * Resolves once the worker threads have started (they start in the background; until then
   * kernels run on the calling thread alone, with the same results). Rejects if one failed.
   */
  async whenReady(timeoutMs = 30_000): Promise<void> {
    const pool = this.#pool;
    if (!pool) return;
    const deadline = performance.now() + timeoutMs;
    while (!pool.ready) {
      if (pool.failure || performance.now() > deadline) {
        throw new Error(
          `Thread start failed: ${pool.failure ?? "timed out"}: use threads: 1 (--threads 1)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Threads running the kernels now: 1 until the workers have started. */
  get activeThreads(): number {
    if (this.#pool && !this.#threaded && this.#pool.ready) {
      this.#core.setThread(0, this.threads, this.#plan.sync);
      this.#threaded = true;
    }
    return this.#threaded ? this.threads : 1;
  }

  /** Tells the core that `params` were written directly: the next forward repacks them. */
  weightsChanged(): void {
    this.#packedValid = false;
  }

  /** Stops the worker threads (if any); using the core afterwards throws. */
  dispose(): void {
    this.#pool?.close();
    this.#pool = null;
    this.#disposed = true;
  }

  /** Stops the worker threads (`using` calls this). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // Runs a kernel on every thread: posts it to the workers, then runs it here as thread 0.
  // Until the workers have started, this thread runs every kernel alone.
  #run<K extends (typeof KERNELS)[number]>(name: K, ...args: Parameters<CoreExports[K]>): number {
    if (this.#disposed) {
      throw new Error("Core disposed: create a new WasmCore to run it again");
    }
    const timings = this.#timings;
    const t0 = timings ? performance.now() : 0;
    if (this.#pool && this.activeThreads > 1) this.#pool.post(KERNEL_INDEX[name], args as number[]);
    const result = (this.#core[name] as (...a: number[]) => number)(...(args as number[]));
    if (timings) {
      const t = timings.get(name) ?? { ms: 0, calls: 0 };
      timings.set(name, { ms: t.ms + performance.now() - t0, calls: t.calls + 1 });
    }
    return result;
  }

  /** The parameter tensor `name` (a view into `params`). */
  param(name: string): Float32Array {
    return this.#view(this.#plan.params, name);
  }

  /** The gradient of tensor `name` (a view into `grads`). */
  grad(name: string): Float32Array {
    return this.#view(this.#plan.grads, name);
  }

  #view(base: number, name: string): Float32Array {
    const spec = this.layout.byName.get(name);
    if (!spec) {
      const known = this.layout.tensors.map((t) => t.name).join(", ");
      throw new RangeError(`Unknown tensor: ${name}: expected one of ${known}`);
    }
    return new Float32Array(this.memory.buffer, base + spec.offset * 4, spec.size);
  }

  // Layer `layer`'s buffers, after checking the index (the state readers take it from users).
  #layer(layer: number) {
    const L = this.config.layers;
    if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
      throw new RangeError(`Invalid layer: ${layer}: expected an integer in [0, ${L})`);
    }
    return this.#plan.layers[layer];
  }

  /** Initial hidden state of `layer`, `[batch, hidden]`; read by `forward`. */
  h0(layer: number): Float32Array {
    this.#layer(layer);
    return this.#states[layer].h0;
  }

  /** Initial cell state of `layer`, `[batch, hidden]`; read by `forward` (LSTM only). */
  c0(layer: number): Float32Array {
    this.#layer(layer);
    return this.#states[layer].c0;
  }

  /** Final hidden state of `layer` after `forward`. */
  hT(layer: number): Float32Array {
    this.#layer(layer);
    return this.#states[layer].hT;
  }

  /** Final cell state of `layer` after `forward` (LSTM only; other cells keep scratch here). */
  cT(layer: number): Float32Array {
    this.#layer(layer);
    return this.#states[layer].cT;
  }

  /**
   * Views of what the last `forward` computed in `layer`, valid until the next forward or
   * backward (backward overwrites the gates): `h` `[seq, batch, hidden]`, the state after each
   * timestep; `c`, the LSTM's cell after each timestep (null for the other cells); `gates`
   * `[seq, batch, blocks·hidden]`, the activated gates (LSTM i, f, g, o; GRU r, z, n; RNN the
   * new state). What `inspect`'s trace reads.
   */
  activations(layer: number): { h: Float32Array; c: Float32Array | null; gates: Float32Array } {
    const buf = this.#layer(layer);
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
    return new Float64Array(this.memory.buffer, this.#plan.rowLoss, T * B);
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
    const training = options.training ?? true;
    const step = options.step ?? 0;
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`Invalid step: ${step}: expected a non-negative integer`);
    }
    const withLoss = options.loss ?? true;
    const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, dropout, seed } = this.config;
    checkTokens(this.inputs, V, "inputs", false);
    if (withLoss) checkTokens(this.targets, V, "targets", true);
    const p = this.#plan;
    const rows = T * B;
    const dropping = training && dropout > 0;
    const repack = options.reuseWeights && this.#packedValid ? 0 : 1;
    const N = this.config.embedding;
    let x = p.inputs;
    if (N) {
      this.#run(
        "embeddingForward",
        p.inputs,
        this.#embeddingAt(p.params),
        p.embedded,
        T,
        B,
        N,
      );
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
      this.#run(
        "recurrentForwardInput",
        ...[this.#cell, x, oneHot, inSize, wih, whh, bih, bhh, gates, packed, repack, T, B, H],
      );
      this.#run("recurrentForwardLoop", this.#cell, bhh, gates, buf.h, buf.c, packed, T, B, H);
      x = buf.h + B * H * 4; // slots 1..T: this layer's output, [T·B, H]
      if (dropping) {
        this.#run("dropoutMask", buf.mask, rows * H, dropout, seed, step >>> 0, l);
        this.#run("multiply", buf.dropped, x, buf.mask, rows * H);
        x = buf.dropped;
      }
    }
    const fcW = p.params + this.layout.fcWeight.offset * 4;
    const fcB = p.params + this.layout.fcBias.offset * 4;
    this.#run("linearForward", x, fcW, fcB, p.logits, p.fcPacked, repack, rows, V, H);
    this.#packedValid = true;
    this.#lastForward = { training: dropping, withGrad: training && withLoss };
    if (!withLoss) return NaN;
    const dlogits = training ? p.dlogits : 0;
    return this.#run("crossEntropy", p.logits, p.targets, dlogits, p.rowLoss, T, B, V);
  }

  /** Gradients of the last `forward`'s loss into `grads`, `dh0` and `dc0`. */
  backward(): void {
    if (!this.#lastForward?.withGrad) {
      throw new Error(
        "Backward without forward: call forward({ training: true }) first, then backward once",
      );
    }
    const dropping = this.#lastForward.training;
    this.#lastForward = null; // backward overwrites the gate activations
    const p = this.#plan;
    const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V } = this.config;
    const rows = T * B;
    const slot1 = B * H * 4;
    this.grads.fill(0);
    const top = p.layers[L - 1];
    const y = dropping ? top.dropped : top.h + slot1;
    const fc = this.layout.fcWeight.offset * 4;
    const fcb = this.layout.fcBias.offset * 4;
    this.#run(
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
    if (dropping) this.#run("multiply", top.dh + slot1, top.dh + slot1, top.mask, rows * H);
    const N = this.config.embedding;
    for (let l = L - 1; l >= 0; l--) {
      const buf = p.layers[l];
      const below = l > 0 ? p.layers[l - 1] : null;
      const x = below ? (dropping ? below.dropped : below.h + slot1) : N ? p.embedded : p.inputs;
      const w = this.#layerParams(p.params, l);
      const dw = this.#layerParams(p.grads, l);
      this.#states[l].dc.fill(0); // dLoss/dc_T: the loss ends at T (truncated BPTT)
      const oneHot = l === 0 && !N ? 1 : 0;
      const dx = below ? below.dh + slot1 : p.dEmbedded;
      const { gates, h, c, dh, dc } = buf;
      // The time loop, then the weight gradients of every timestep (two dispatches).
      const cell = this.#cell;
      this.#run("recurrentBackwardLoop", cell, w.whh, gates, h, c, dh, dc, p.scratch, T, B, H);
      this.#run(
        "recurrentWeightGrads",
        ...[cell, x, oneHot, buf.inSize, w.wih, gates, h, c, dw.wih, dw.whh, dw.bih, dw.bhh, dx],
        ...[p.scratch, T, B, H],
      );
      if (below && dropping) {
        this.#run("multiply", below.dh + slot1, below.dh + slot1, below.mask, rows * H);
      }
    }
    if (N) {
      const dTable = this.#embeddingAt(p.grads);
      this.#run("embeddingBackward", p.inputs, p.dEmbedded, dTable, T, B, N);
    }
  }

  /**
   * Scales the gradients so their global L2 norm is at most `maxNorm` (PyTorch's
   * clip_grad_norm_: coefficient maxNorm / (norm + 1e-6) when below 1). Returns the norm
   * before clipping; a non-finite norm leaves the gradients as they are.
   */
  clipGradNorm(maxNorm: number): number {
    const n = this.layout.size;
    const norm = Math.sqrt(this.#run("sumSquares", this.#plan.grads, n, this.#plan.partials));
    const coef = maxNorm / (norm + 1e-6);
    if (Number.isFinite(norm) && coef < 1) this.#run("scale", this.#plan.grads, n, coef);
    return norm;
  }

  /** Clamps every gradient to [-c, c] (element-wise clipping). */
  clipGradValue(c: number): void {
    this.#run("clipValue", this.#plan.grads, this.layout.size, c);
  }

  /**
   * One SGD update of `params` from `grads` (PyTorch's torch.optim.SGD, dampening 0); the
   * momentum buffer is `adamM`. `step` counts from 1 (the first step starts the buffer).
   */
  sgdStep(step: number, options: SgdOptions): void {
    const p = this.#plan;
    this.#packedValid = false;
    this.#run(
      "sgdStep",
      p.params,
      p.grads,
      p.adamM,
      this.layout.size,
      options.lr,
      options.momentum ?? 0,
      step === 1 ? 1 : 0,
      options.weightDecay ?? 0,
    );
  }

  /**
   * One Adam update of `params` from `grads` (AdamW's when `weightDecay` is given); `step`
   * counts from 1 (bias correction).
   */
  adamStep(step: number, options: AdamOptions): void {
    const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = options;
    const p = this.#plan;
    this.#packedValid = false;
    this.#run(
      "adamStep",
      p.params,
      p.grads,
      p.adamM,
      p.adamV,
      this.layout.size,
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
    return CELLS.indexOf(this.config.cell);
  }

  // Byte address of the embedding table in the parameter-layout region at `base` (0: none).
  #embeddingAt(base: number): number {
    const t = this.layout.embedding;
    return t ? base + t.offset * 4 : 0;
  }

  // Byte addresses of layer `l`'s tensors in the parameter-layout region at `base`.
  #layerParams(base: number, l: number) {
    const t = this.layout.layers[l];
    return {
      wih: base + t.wih.offset * 4,
      whh: base + t.whh.offset * 4,
      bih: base + t.bih.offset * 4,
      bhh: base + t.bhh.offset * 4,
    };
  }
}
