// The WebGPU backend: the same stacked LSTM, GRU or tanh RNN as the WASM core, one-hot or
// embedded input (PyTorch equations, flat parameter layout, the same dropout hash), as WGSL
// kernels over GPU buffers laid out once per config. A training step records every timestep of
// every layer into one command encoder and submits it without waiting; only the loss, the
// gradient norm and the applied flag come back. Parameters, moments and the carried state stay
// on the GPU until `sync()` copies them out.

import { type CoreConfig, gateBlocks, validateCoreConfig } from "../model/config.ts";
import { layerInputSize, type ParamLayout, paramLayout } from "../model/params.ts";
import {
  checkTokens,
  type Engine,
  type EngineState,
  type StepResult,
  type TrainStepOptions,
} from "./engine.ts";
import { type GpuContext, gpuContext } from "./gpu_device.ts";
import * as wgsl from "./_wgsl.ts";
import { type Kernel, MAX_LAYERS, SCALAR, SITE_STRIDE, STEP_UNIFORM_BYTES } from "./_wgsl.ts";

/** Raised when the WebGPU backend cannot run: no adapter was found. */
export class WebGpuUnavailableError extends Error {
  /** Always `WebGpuUnavailableError`. */
  override name = "WebGpuUnavailableError";
}

// Loss slots in the scalars buffer for evaluation: read back once per this many batches.
const HISTORY = 1024;

interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: [number, number];
}

interface LayerBuffers {
  gates: GPUBuffer;
  h: GPUBuffer;
  c: GPUBuffer;
  dh: GPUBuffer;
  dc: GPUBuffer;
  mask: GPUBuffer | null;
  dropped: GPUBuffer | null;
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

function pipelineFor(device: GPUDevice, k: Kernel): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, cache = new Map());
  let p = cache.get(k.key);
  if (!p) {
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
      ...k.buffers.map((access, i) => ({
        binding: i + 2,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: access === "read" ? "read-only-storage" as const : "storage" as const },
      })),
    ];
    const layout = device.createPipelineLayout({
      bindGroupLayouts: [device.createBindGroupLayout({ entries })],
    });
    p = device.createComputePipelineAsync({
      layout,
      compute: { module: device.createShaderModule({ code: k.code }), entryPoint: "main" },
    });
    cache.set(k.key, p);
    p.catch(() => cache.delete(k.key));
  }
  return p;
}

/** Options for {@linkcode WebGpuCore.create}. */
export interface WebGpuCoreOptions {
  /** The device to run on (default: the process's, from `navigator.gpu`). */
  context?: GpuContext;
}

/**
 * A stacked LSTM, GRU or tanh RNN with one-hot or embedded input and a linear softmax output on
 * WebGPU, laid out for a fixed (batch, seq): the same semantics, parameter layout and dropout
 * masks as `WasmCore`.
 *
 * Compute methods record and submit GPU work without waiting; the `read…` methods and
 * `trainStep` wait for it.
 *
 * @example
 * ```ts
 * import { WebGpuCore } from "./webgpu_core.ts";
 * const net = await WebGpuCore.create({
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
export class WebGpuCore implements Engine {
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
  /** Host copy of Adam's first moments, current after `load` or `sync`. */
  readonly adamM: Float32Array<ArrayBuffer>;
  /** Host copy of Adam's second moments, current after `load` or `sync`. */
  readonly adamV: Float32Array<ArrayBuffer>;
  /** The adapter this runs on. */
  readonly adapter: { description: string; software: boolean };

  #device: GPUDevice;
  #buf: {
    params: GPUBuffer;
    grads: GPUBuffer;
    m: GPUBuffer;
    v: GPUBuffer;
    tokens: GPUBuffer;
    targets: GPUBuffer;
    groupStart: GPUBuffer;
    rowsByToken: GPUBuffer;
    logits: GPUBuffer;
    dlogits: GPUBuffer;
    rowLoss: GPUBuffer;
    partials: GPUBuffer;
    scalars: GPUBuffer;
    stepUniform: GPUBuffer;
    siteUniform: GPUBuffer;
    carryScratch: GPUBuffer;
    savedState: GPUBuffer;
    layers: LayerBuffers[];
    /** Layer 0's input with a learned embedding, and its gradient: [T·B, N]. */
    embedded: GPUBuffer | null;
    dEmbedded: GPUBuffer | null;
  };
  #programs!: {
    forwardTrain: Dispatch[];
    forwardEval: Dispatch[];
    backward: Dispatch[];
    clip: Dispatch[];
    adam: Dispatch[];
    sgd: Dispatch[];
  };
  #staging = new Map<number, GPUBuffer>();
  // Two staging buffers for step results, used in turn: the training loop submits step k + 1
  // before it reads step k's scalars back.
  #stepStaging: GPUBuffer[] = [];
  #stepCount = 0;
  #stepData = new ArrayBuffer(STEP_UNIFORM_BYTES);
  #stepF32 = new Float32Array(this.#stepData);
  #stepU32 = new Uint32Array(this.#stepData);
  #hostH: Float32Array<ArrayBuffer>;
  #hostC: Float32Array<ArrayBuffer>;
  #groupStart: Uint32Array<ArrayBuffer>;
  #groupNext: Uint32Array<ArrayBuffer>;
  #rowsByToken: Uint32Array<ArrayBuffer>;
  #disposed = false;
  #lastForward: "train" | "eval" | null = null;

  private constructor(config: Required<CoreConfig>, ctx: GpuContext) {
    this.config = config;
    this.layout = paramLayout(config);
    this.adapter = { description: ctx.description, software: ctx.software };
    const device = this.#device = ctx.device;
    const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, embedding: N } = config;
    const G = gateBlocks(config.cell) * H;
    const P = this.layout.size;
    const rows = T * B;
    const limit = device.limits.maxStorageBufferBindingSize;
    const largest = Math.max(rows * G, rows * V, rows * N, P) * 4;
    if (largest > limit) {
      throw new RangeError(
        `Invalid config for WebGPU: batch ${B} × seq ${T} needs a ${mib(largest)} buffer, ` +
          `over this adapter's ${mib(limit)} binding limit: reduce batch or seq, ` +
          `or use the WASM backend`,
      );
    }
    // tokenRowSums dispatches one workgroup row per four characters.
    const rowsOfGroups = Math.ceil(V / 4);
    if (rowsOfGroups > device.limits.maxComputeWorkgroupsPerDimension) {
      throw new RangeError(
        `Invalid config for WebGPU: vocabulary ${V} is over ${
          4 * device.limits.maxComputeWorkgroupsPerDimension
        } characters: use the WASM backend`,
      );
    }
    const storage = (floats: number) =>
      device.createBuffer({
        size: Math.max(16, Math.ceil(floats / 4) * 16),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
    const state = B * H;
    this.#buf = {
      params: storage(P),
      grads: storage(P),
      m: storage(P),
      v: storage(P),
      tokens: storage(rows),
      targets: storage(rows),
      groupStart: storage(V + 1),
      rowsByToken: storage(rows),
      logits: storage(rows * V),
      dlogits: storage(rows * V),
      rowLoss: storage(rows),
      partials: storage(2 * wgsl.NORM_PARTIALS),
      scalars: storage(SCALAR.history + HISTORY),
      stepUniform: device.createBuffer({
        size: STEP_UNIFORM_BYTES,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      }),
      siteUniform: device.createBuffer({
        size: T * SITE_STRIDE,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      }),
      carryScratch: storage(2 * state),
      savedState: storage(2 * L * state),
      layers: Array.from({ length: L }, () => ({
        gates: storage(rows * G),
        h: storage((T + 1) * state),
        c: storage((T + 1) * state),
        dh: storage((T + 1) * state),
        dc: storage(state),
        mask: config.dropout > 0 ? storage(rows * H) : null,
        dropped: config.dropout > 0 ? storage(rows * H) : null,
      })),
      embedded: N ? storage(rows * N) : null,
      dEmbedded: N ? storage(rows * N) : null,
    };
    const sites = new Uint32Array(T * SITE_STRIDE / 4);
    for (let t = 0; t < T; t++) sites[t * SITE_STRIDE / 4] = t;
    device.queue.writeBuffer(this.#buf.siteUniform, 0, sites);
    this.inputs = new Int32Array(rows);
    this.targets = new Int32Array(rows);
    this.params = new Float32Array(P);
    this.adamM = new Float32Array(P);
    this.adamV = new Float32Array(P);
    this.#hostH = new Float32Array(L * state);
    this.#hostC = new Float32Array(L * state);
    this.#groupStart = new Uint32Array(V + 1);
    this.#groupNext = new Uint32Array(V);
    this.#rowsByToken = new Uint32Array(rows);
  }

  /**
   * Lays out a WebGPU core for `config` on the process's device (or `options.context`).
   * Rejects with {@linkcode WebGpuUnavailableError} when no adapter exists, and with a
   * RangeError when a buffer exceeds the adapter's limits.
   */
  static async create(config: CoreConfig, options: WebGpuCoreOptions = {}): Promise<WebGpuCore> {
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
    const net = new WebGpuCore({
      ...config,
      cell: config.cell ?? "lstm",
      embedding: config.embedding ?? 0,
      seed: config.seed ?? 0,
    }, ctx);
    await net.#buildPrograms();
    return net;
  }

  /** Stops using the GPU buffers (they are destroyed); using the core afterwards throws. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const b = this.#buf;
    for (const buffer of Object.values(b)) if (buffer instanceof GPUBuffer) buffer.destroy();
    for (const l of b.layers) {
      for (const buffer of Object.values(l)) if (buffer instanceof GPUBuffer) buffer.destroy();
    }
    for (const s of this.#staging.values()) s.destroy();
    for (const s of this.#stepStaging) s.destroy();
  }

  /** Destroys the GPU buffers (`using` calls this). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  async #buildPrograms(): Promise<void> {
    const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V, dropout, cell } = this.config;
    const N = this.config.embedding;
    const b = this.#buf;
    const rows = T * B;
    const P = this.layout.size;
    const dims = { B, T, H, V };
    const G = gateBlocks(cell) * H;
    const gru = cell === "gru";
    // The GRU's b_hn belongs inside the reset product (the step kernel adds it), not the gates.
    const bhhCols = gru ? 2 * H : G;
    const encoder = this.layout.embedding?.offset ?? -1;
    const w = (l: number) => {
      const t = this.layout.layers[l];
      return { wih: t.wih.offset, whh: t.whh.offset, bih: t.bih.offset, bhh: t.bhh.offset };
    };
    const fcW = this.layout.fcWeight.offset, fcB = this.layout.fcBias.offset;
    const pending: Promise<void>[] = [];
    const op = (k: Kernel, buffers: GPUBuffer[], t = 0): Dispatch => {
      const d = { grid: k.grid } as Dispatch;
      pending.push(
        pipelineFor(this.#device, k).then((pipeline) => {
          d.pipeline = pipeline;
          d.bindGroup = this.#device.createBindGroup({
            layout: pipeline.getBindGroupLayout(0),
            entries: [
              { binding: 0, resource: { buffer: b.stepUniform } },
              {
                binding: 1,
                resource: { buffer: b.siteUniform, offset: t * SITE_STRIDE, size: 16 },
              },
              ...buffers.map((buffer, i) => ({ binding: i + 2, resource: { buffer } })),
            ],
          });
        }),
      );
      return d;
    };
    const gemm = (
      s: Partial<wgsl.GemmShape> & Pick<wgsl.GemmShape, "M" | "N" | "K">,
      a: GPUBuffer,
      bm: GPUBuffer,
      c: GPUBuffer,
    ) =>
      op(
        wgsl.gemm({
          transA: false,
          transB: false,
          aOff: 0,
          lda: s.transA ? s.M : s.K,
          bOff: 0,
          ldb: s.transB ? s.K : s.N,
          cOff: 0,
          ldc: s.N,
          accumulate: false,
          bias1: -1,
          bias2: -1,
          ...s,
        }),
        [a, bm, c],
      );
    // A layer's output as the next layer's input: the dropped copy, or h slots 1..T.
    const output = (l: number, dropping: boolean) =>
      dropping
        ? { buffer: b.layers[l].dropped!, offset: 0 }
        : { buffer: b.layers[l].h, offset: B * H };
    // A dense layer's input: the embedded rows for layer 0, else the output of the layer below.
    const denseInput = (l: number, dropping: boolean) =>
      l === 0 ? { buffer: b.embedded!, offset: 0 } : output(l - 1, dropping);

    const forward = (training: boolean): Dispatch[] => {
      const dropping = training && dropout > 0;
      const list: Dispatch[] = [];
      for (let l = 0; l < L; l++) {
        const lb = b.layers[l];
        const p = w(l);
        const inSize = layerInputSize(this.config, l);
        if (l === 0 && !N) {
          list.push(
            op(wgsl.gatherInput(dims, G, p.wih, p.bih, p.bhh, bhhCols), [
              b.tokens,
              b.params,
              lb.gates,
            ]),
          );
        } else {
          if (l === 0) {
            list.push(
              op(wgsl.embeddingGather(dims, N, encoder), [b.tokens, b.params, b.embedded!]),
            );
          }
          const x = denseInput(l, dropping);
          list.push(gemm(
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
        for (let t = 0; t < T; t++) {
          list.push(
            op(wgsl.stepForward(dims, cell, p.whh, p.bhh), [b.params, lb.gates, lb.h, lb.c], t),
          );
        }
        if (dropping) {
          list.push(op(wgsl.dropout(rows * H, B * H, l), [lb.h, lb.mask!, lb.dropped!]));
        }
      }
      const y = output(L - 1, dropping);
      list.push(gemm(
        {
          M: rows,
          N: V,
          K: H,
          aOff: y.offset,
          lda: H,
          transB: true,
          bOff: fcW,
          bias1: fcB,
        },
        y.buffer,
        b.params,
        b.logits,
      ));
      list.push(
        training
          ? op(wgsl.crossEntropy(dims, true), [b.logits, b.targets, b.rowLoss, b.dlogits])
          : op(wgsl.crossEntropy(dims, false), [b.logits, b.targets, b.rowLoss]),
      );
      list.push(op(wgsl.lossSum(rows), [b.rowLoss, b.scalars]));
      return list;
    };

    const backward = (): Dispatch[] => {
      const dropping = dropout > 0;
      const list: Dispatch[] = [];
      const top = output(L - 1, dropping);
      list.push(gemm(
        {
          M: V,
          N: H,
          K: rows,
          transA: true,
          lda: V,
          bOff: top.offset,
          cOff: fcW,
        },
        b.dlogits,
        top.buffer,
        b.grads,
      ));
      list.push(op(wgsl.columnSums(rows, V, fcB, -1), [b.dlogits, b.grads]));
      list.push(
        gemm(
          { M: rows, N: H, K: V, bOff: fcW, cOff: B * H },
          b.dlogits,
          b.params,
          b.layers[L - 1].dh,
        ),
      );
      if (dropping) {
        list.push(
          op(wgsl.multiplyInto(rows * H, B * H), [b.layers[L - 1].mask!, b.layers[L - 1].dh]),
        );
      }
      for (let l = L - 1; l >= 0; l--) {
        const lb = b.layers[l];
        const p = w(l);
        const inSize = layerInputSize(this.config, l);
        for (let t = T - 1; t >= 0; t--) {
          list.push(
            op(wgsl.stepBackward(dims, cell, p.whh), [
              b.params,
              lb.gates,
              lb.h,
              lb.c,
              lb.dh,
              lb.dc,
            ], t),
          );
        }
        if (gru) {
          // The GRU's d(a_r), d(a_z) meet W_hh's first 2H rows; d(W_hn h + b_hn), left in c
          // slots 1..T, its last H. dh slot 0 already holds the direct path dh_0 ⊙ z_0.
          list.push(
            gemm(
              { M: B, N: H, K: 2 * H, lda: G, bOff: p.whh, accumulate: true },
              lb.gates,
              b.params,
              lb.dh,
            ),
            gemm(
              { M: B, N: H, K: H, aOff: B * H, bOff: p.whh + 2 * H * H, accumulate: true },
              lb.c,
              b.params,
              lb.dh,
            ),
            gemm(
              { M: 2 * H, N: H, K: rows, transA: true, lda: G, cOff: p.whh },
              lb.gates,
              lb.h,
              b.grads,
            ),
            gemm(
              {
                M: H,
                N: H,
                K: rows,
                transA: true,
                aOff: B * H,
                lda: H,
                cOff: p.whh + 2 * H * H,
              },
              lb.c,
              lb.h,
              b.grads,
            ),
            op(wgsl.columnSums(rows, G, p.bih, -1), [lb.gates, b.grads]),
            op(wgsl.columnSums(rows, 2 * H, p.bhh, -1, G), [lb.gates, b.grads]),
            op(wgsl.columnSums(rows, H, p.bhh + 2 * H, -1, H, B * H), [lb.c, b.grads]),
          );
        } else {
          list.push(gemm({ M: B, N: H, K: G, bOff: p.whh }, lb.gates, b.params, lb.dh));
          list.push(
            gemm(
              { M: G, N: H, K: rows, transA: true, lda: G, cOff: p.whh },
              lb.gates,
              lb.h,
              b.grads,
            ),
          );
          list.push(op(wgsl.columnSums(rows, G, p.bih, p.bhh), [lb.gates, b.grads]));
        }
        if (l === 0 && !N) {
          list.push(
            op(wgsl.tokenRowSums(dims, G, p.wih, false), [
              b.groupStart,
              b.rowsByToken,
              lb.gates,
              b.grads,
            ]),
          );
        } else {
          const x = denseInput(l, dropping);
          list.push(gemm(
            {
              M: G,
              N: inSize,
              K: rows,
              transA: true,
              lda: G,
              bOff: x.offset,
              cOff: p.wih,
            },
            lb.gates,
            x.buffer,
            b.grads,
          ));
          // The input gradient: into the embedding's rows, or dh slots 1..T of the layer below.
          const dx = l === 0 ? { buffer: b.dEmbedded!, offset: 0 } : {
            buffer: b.layers[l - 1].dh,
            offset: B * H,
          };
          list.push(
            gemm(
              { M: rows, N: inSize, K: G, bOff: p.wih, cOff: dx.offset },
              lb.gates,
              b.params,
              dx.buffer,
            ),
          );
          if (l === 0) {
            list.push(
              op(wgsl.tokenRowSums(dims, N, encoder, true), [
                b.groupStart,
                b.rowsByToken,
                b.dEmbedded!,
                b.grads,
              ]),
            );
          } else if (dropping) {
            const below = b.layers[l - 1];
            list.push(op(wgsl.multiplyInto(rows * H, B * H), [below.mask!, below.dh]));
          }
        }
      }
      return list;
    };

    this.#programs = {
      forwardTrain: forward(true),
      forwardEval: forward(false),
      backward: backward(),
      clip: [
        op(wgsl.sumSquares(P), [b.grads, b.partials]),
        op(wgsl.finishNorm(), [b.partials, b.scalars]),
      ],
      adam: [op(wgsl.optimizerStep(P, "adam"), [b.scalars, b.grads, b.params, b.m, b.v])],
      sgd: [op(wgsl.optimizerStep(P, "sgd"), [b.scalars, b.grads, b.params, b.m, b.v])],
    };
    this.#device.pushErrorScope("validation");
    await Promise.all(pending);
    const error = await this.#device.popErrorScope();
    if (error) throw new Error(`WebGPU pipeline creation failed: ${error.message}`);
  }

  /** Dispatches a training step issues (forward, backward, clip, optimizer). */
  get dispatchesPerStep(): number {
    const p = this.#programs;
    return p.forwardTrain.length + p.backward.length + p.clip.length + p.adam.length;
  }

  #check(): void {
    if (this.#disposed) throw new Error("Core disposed: create a new WebGpuCore to run it again");
  }

  #encode(encoder: GPUCommandEncoder, ...programs: Dispatch[][]): void {
    const pass = encoder.beginComputePass();
    for (const list of programs) {
      for (const d of list) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(d.grid[0], d.grid[1]);
      }
    }
    pass.end();
  }

  // Uploads the batch (and, for training, the rows grouped by token) and the step uniform.
  #upload(training: boolean, uniform: Partial<StepUniform>): void {
    const { batch: B, seq: T, vocabSize: V } = this.config;
    checkTokens(this.inputs, V, "inputs", false);
    checkTokens(this.targets, V, "targets", true);
    const q = this.#device.queue;
    q.writeBuffer(this.#buf.tokens, 0, this.inputs);
    q.writeBuffer(this.#buf.targets, 0, this.targets);
    let counted = 0;
    for (const t of this.targets) if (t >= 0) counted++;
    if (training) {
      // Rows of layer 0 grouped by input token: a counting sort, rows in order within a group.
      const start = this.#groupStart.fill(0);
      for (const token of this.inputs) start[token + 1]++;
      for (let v = 0; v < V; v++) start[v + 1] += start[v];
      const next = this.#groupNext;
      next.set(start.subarray(0, V));
      for (let r = 0; r < T * B; r++) {
        const t = Math.floor(r / B), b = r - t * B;
        this.#rowsByToken[next[this.inputs[b * T + t]]++] = r;
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
    const p = Math.fround(this.config.dropout);
    f[11] = Math.fround(1 / Math.fround(1 - p));
    f[12] = p;
    f[13] = s.lr ?? 0;
    const step = s.step ?? 0;
    for (let l = 0; l < this.config.layers; l++) {
      u[16 + l * 4] = dropoutKey(this.config.seed, step, l);
    }
    this.#device.queue.writeBuffer(this.#buf.stepUniform, 0, this.#stepData);
  }

  /**
   * Records and submits a forward pass over `inputs` (the loss lands on the GPU; read it with
   * `readLoss`). With `training` (default true), dropout masks of optimizer step `step` apply
   * and backward may follow.
   */
  forward(options: { training?: boolean; step?: number } = {}): void {
    this.#check();
    const training = options.training ?? true;
    const step = options.step ?? 0;
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`Invalid step: ${step}: expected a non-negative integer`);
    }
    this.#upload(training, { step });
    const encoder = this.#device.createCommandEncoder();
    this.#encode(encoder, training ? this.#programs.forwardTrain : this.#programs.forwardEval);
    this.#device.queue.submit([encoder.finish()]);
    this.#lastForward = training ? "train" : "eval";
  }

  /** Records and submits the backward pass of the last training forward (gradients on GPU). */
  backward(): void {
    this.#check();
    if (this.#lastForward !== "train") {
      throw new Error(
        "Backward without forward: call forward({ training: true }) first, then backward once",
      );
    }
    this.#lastForward = null;
    const encoder = this.#device.createCommandEncoder();
    for (const l of this.#buf.layers) encoder.clearBuffer(l.dc);
    this.#encode(encoder, this.#programs.backward);
    this.#device.queue.submit([encoder.finish()]);
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
    this.#upload(true, {
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
    });
    const p = this.#programs;
    const encoder = this.#device.createCommandEncoder();
    for (const l of this.#buf.layers) encoder.clearBuffer(l.dc);
    this.#encode(
      encoder,
      p.forwardTrain,
      p.backward,
      p.clip,
      o.optimizer === "adam" ? p.adam : p.sgd,
    );
    this.#encodeCarry(encoder);
    if (this.#stepStaging.length === 0) {
      for (let i = 0; i < 2; i++) {
        this.#stepStaging.push(this.#device.createBuffer({
          size: 32,
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        }));
      }
    }
    const staging = this.#stepStaging[this.#stepCount++ % 2];
    encoder.copyBufferToBuffer(this.#buf.scalars, 0, staging, 0, 32);
    this.#device.queue.submit([encoder.finish()]);
    this.#lastForward = null;
    const s = await this.#mapRead(staging, 32);
    return { loss: s[SCALAR.loss], gradNorm: s[SCALAR.norm], applied: s[SCALAR.ok] !== 0 };
  }

  #encodeCarry(encoder: GPUCommandEncoder): void {
    const { batch: B, hidden: H, seq: T } = this.config;
    const bytes = B * H * 4;
    for (const l of this.#buf.layers) {
      encoder.copyBufferToBuffer(l.h, T * bytes, this.#buf.carryScratch, 0, bytes);
      encoder.copyBufferToBuffer(l.c, T * bytes, this.#buf.carryScratch, bytes, bytes);
      encoder.copyBufferToBuffer(this.#buf.carryScratch, 0, l.h, 0, bytes);
      encoder.copyBufferToBuffer(this.#buf.carryScratch, bytes, l.c, 0, bytes);
    }
  }

  /** Makes the final state of the last forward the next initial state. */
  carryState(): void {
    this.#check();
    const encoder = this.#device.createCommandEncoder();
    this.#encodeCarry(encoder);
    this.#device.queue.submit([encoder.finish()]);
  }

  /** Zeroes the initial state of every layer. */
  resetState(): void {
    this.#check();
    const bytes = this.config.batch * this.config.hidden * 4;
    const encoder = this.#device.createCommandEncoder();
    for (const l of this.#buf.layers) {
      encoder.clearBuffer(l.h, 0, bytes);
      encoder.clearBuffer(l.c, 0, bytes);
    }
    this.#device.queue.submit([encoder.finish()]);
  }

  async evaluateBatches(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    independentRows: boolean,
  ): Promise<number> {
    this.#check();
    const { batch: B, hidden: H } = this.config;
    const bytes = B * H * 4;
    const L = this.config.layers;
    const save = this.#device.createCommandEncoder();
    for (let l = 0; l < L; l++) {
      const lb = this.#buf.layers[l];
      save.copyBufferToBuffer(lb.h, 0, this.#buf.savedState, 2 * l * bytes, bytes);
      save.copyBufferToBuffer(lb.c, 0, this.#buf.savedState, (2 * l + 1) * bytes, bytes);
    }
    this.#device.queue.submit([save.finish()]);
    this.resetState();
    let total = 0;
    for (let first = 0; first < count; first += HISTORY) {
      const n = Math.min(HISTORY, count - first);
      for (let i = 0; i < n; i++) {
        fill(first + i, this.inputs, this.targets);
        if (independentRows) this.resetState();
        this.#upload(false, { lossSlot: SCALAR.history + i });
        const encoder = this.#device.createCommandEncoder();
        this.#encode(encoder, this.#programs.forwardEval);
        this.#encodeCarry(encoder);
        this.#device.queue.submit([encoder.finish()]);
      }
      const losses = await this.#download(this.#buf.scalars, SCALAR.history * 4, n * 4);
      for (const loss of losses) total += loss;
    }
    const restore = this.#device.createCommandEncoder();
    for (let l = 0; l < L; l++) {
      const lb = this.#buf.layers[l];
      restore.copyBufferToBuffer(this.#buf.savedState, 2 * l * bytes, lb.h, 0, bytes);
      restore.copyBufferToBuffer(this.#buf.savedState, (2 * l + 1) * bytes, lb.c, 0, bytes);
    }
    this.#device.queue.submit([restore.finish()]);
    this.#lastForward = null;
    return total / count;
  }

  load(state: EngineState): void {
    this.#check();
    const q = this.#device.queue;
    const b = this.#buf;
    const { batch: B, hidden: H, layers: L } = this.config;
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
    put(this.adamM, state.adamM, b.m);
    put(this.adamV, state.adamV, b.v);
    const size = B * H;
    for (const [which, src] of [["h", state.h], ["c", state.c]] as const) {
      if (!src) continue;
      const host = which === "h" ? this.#hostH : this.#hostC;
      if (src.length !== host.length) {
        throw new RangeError(
          `Invalid state: ${which} has ${src.length} floats, expected ${host.length}`,
        );
      }
      host.set(src);
      for (let l = 0; l < L; l++) {
        q.writeBuffer(b.layers[l][which], 0, host, l * size, size);
      }
    }
  }

  async sync(): Promise<void> {
    this.#check();
    const P = this.layout.size;
    const { batch: B, hidden: H, layers: L } = this.config;
    const state = B * H * 4;
    const total = 3 * P * 4 + 2 * L * state;
    const staging = this.#stagingBuffer(total);
    const encoder = this.#device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.#buf.params, 0, staging, 0, P * 4);
    encoder.copyBufferToBuffer(this.#buf.m, 0, staging, P * 4, P * 4);
    encoder.copyBufferToBuffer(this.#buf.v, 0, staging, 2 * P * 4, P * 4);
    for (let l = 0; l < L; l++) {
      encoder.copyBufferToBuffer(this.#buf.layers[l].h, 0, staging, 3 * P * 4 + l * state, state);
      encoder.copyBufferToBuffer(
        this.#buf.layers[l].c,
        0,
        staging,
        3 * P * 4 + (L + l) * state,
        state,
      );
    }
    this.#device.queue.submit([encoder.finish()]);
    const all = await this.#mapRead(staging, total);
    this.params.set(all.subarray(0, P));
    this.adamM.set(all.subarray(P, 2 * P));
    this.adamV.set(all.subarray(2 * P, 3 * P));
    this.#hostH.set(all.subarray(3 * P, 3 * P + L * B * H));
    this.#hostC.set(all.subarray(3 * P + L * B * H));
  }

  readCarried(h: Float32Array, c: Float32Array): void {
    h.set(this.#hostH);
    // Only the LSTM has a cell state; the GRU keeps W_hn h + b_hn (or its gradient) in c.
    if (this.config.cell === "lstm") c.set(this.#hostC);
  }

  /** The mean loss of the last forward. */
  async readLoss(): Promise<number> {
    return (await this.#download(this.#buf.scalars, SCALAR.loss * 4, 4))[0];
  }

  /** Gradients after `backward`, in the layout of `params`. */
  readGrads(): Promise<Float32Array> {
    return this.#download(this.#buf.grads, 0, this.layout.size * 4);
  }

  /** Logits of the last forward, time-major `[seq, batch, vocab]`. */
  readLogits(): Promise<Float32Array> {
    const { batch: B, seq: T, vocabSize: V } = this.config;
    return this.#download(this.#buf.logits, 0, T * B * V * 4);
  }

  /**
   * A state of `layer`, `[batch, hidden]`: `h`/`c` at slot `slot` (0 = initial, seq = final),
   * `dh0`/`dc0` (gradients of the initial state after backward). `c` and `dc0` are the LSTM's;
   * the GRU keeps scratch in `c` (as the WASM core), the RNN nothing.
   */
  readState(layer: number, which: "h" | "c" | "dh0" | "dc0", slot = 0): Promise<Float32Array> {
    const { batch: B, hidden: H, layers: L } = this.config;
    if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
      throw new RangeError(`Invalid layer: ${layer}: expected an integer in [0, ${L})`);
    }
    const lb = this.#buf.layers[layer];
    const bytes = B * H * 4;
    if (which === "dh0") return this.#download(lb.dh, 0, bytes);
    if (which === "dc0") return this.#download(lb.dc, 0, bytes);
    return this.#download(which === "h" ? lb.h : lb.c, slot * bytes, bytes);
  }

  /** The dropout mask last applied to `layer`'s output, or null without dropout. */
  async readDropoutMask(layer: number): Promise<Float32Array | null> {
    const m = this.#buf.layers[layer]?.mask;
    if (!m) return null;
    const { batch: B, seq: T, hidden: H } = this.config;
    return await this.#download(m, 0, T * B * H * 4);
  }

  #stagingBuffer(bytes: number): GPUBuffer {
    const size = Math.ceil(bytes / 16) * 16;
    let s = this.#staging.get(size);
    if (!s) {
      s = this.#device.createBuffer({
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      this.#staging.set(size, s);
    }
    return s;
  }

  async #download(src: GPUBuffer, offset: number, bytes: number): Promise<Float32Array> {
    this.#check();
    const staging = this.#stagingBuffer(bytes);
    const encoder = this.#device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
    this.#device.queue.submit([encoder.finish()]);
    return await this.#mapRead(staging, bytes);
  }

  async #mapRead(staging: GPUBuffer, bytes: number): Promise<Float32Array> {
    await staging.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 16) * 16);
    const out = new Float32Array(staging.getMappedRange(0, Math.ceil(bytes / 16) * 16).slice(0));
    staging.unmap();
    return out.subarray(0, bytes / 4);
  }
}

interface StepUniform {
  invCount: number;
  lossSlot: number;
  clipNorm: number;
  clipValue: number;
  lrOverBc1: number;
  invSqrtBc2: number;
  beta1: number;
  beta2: number;
  eps: number;
  momentum: number;
  sgdFirst: boolean;
  lr: number;
  step: number;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

// assembly/dropout.ts's lowbias32 and key derivation, so masks are bitwise the same.
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function dropoutKey(seed: number, step: number, site: number): number {
  return mix32((seed ^ mix32((step ^ mix32((site + 0x9e3779b9) >>> 0)) >>> 0)) >>> 0);
}
