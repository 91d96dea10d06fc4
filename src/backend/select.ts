// Picking and creating the engine that trains: the WASM core behind the backend interface, and
// `auto`'s rule (WebGPU on a hardware adapter for large batches, WASM otherwise).

import type { CoreConfig } from "../model/config.ts";
import type {
  BackendChoice,
  BackendState,
  LstmBackend,
  StepResult,
  TrainStepOptions,
} from "./backend.ts";
import { gpuContext } from "./_gpu_device.ts";
import { WasmLstm } from "./wasm.ts";
import { WebGpuLstm } from "./webgpu.ts";

/**
 * Smallest batch for which `auto` trains on a hardware WebGPU adapter. What was measured
 * (`deno task bench:webgpu`, bench/README.md): on Mesa's software adapter (lavapipe, 2 cores)
 * WebGPU ran at 0.03× WASM's chars/s at every batch from 32 to 1024, at H 128 and 512, so `auto`
 * never picks a software adapter. No hardware GPU was available to measure the crossover on:
 * this value is an unmeasured default, to be replaced by the bench's crossover on a GPU.
 */
export const AUTO_WEBGPU_MIN_BATCH = 128;

/** The backend names `backend` options and `--backend` accept. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "wasm", "webgpu"];

/** Options for {@linkcode createBackend}. */
export interface CreateBackendOptions {
  /** `auto` (default), `wasm` or `webgpu`. */
  backend?: BackendChoice;
  /** Threads for the WASM core. */
  threads?: number;
  /** Receives why `auto` chose WASM, once per reason and process. */
  onNote?: (message: string) => void;
}

const said = new Set<string>();

/**
 * Creates the engine for `config`: WASM, WebGPU (rejects when no adapter exists or the config
 * does not fit it), or, with `auto`, WebGPU on a hardware adapter when the batch is at least
 * {@linkcode AUTO_WEBGPU_MIN_BATCH}, WASM otherwise.
 *
 * @example
 * ```ts
 * import { createBackend } from "./select.ts";
 * const core = await createBackend(
 *   { vocabSize: 5, hidden: 8, layers: 1, dropout: 0, batch: 2, seq: 3 },
 *   { backend: "wasm", threads: 1 },
 * );
 * console.log(core.kind); // "wasm"
 * core.dispose();
 * ```
 */
export async function createBackend(
  config: CoreConfig,
  options: CreateBackendOptions = {},
): Promise<LstmBackend> {
  const choice = options.backend ?? "auto";
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new RangeError(
      `Invalid option: backend must be auto, wasm or webgpu, got ${String(choice)}`,
    );
  }
  const wasm = () => new WasmBackend(WasmLstm.create(config, { threads: options.threads ?? 1 }));
  if (choice === "wasm") return wasm();
  if (choice === "webgpu") return await WebGpuLstm.create(config);
  const reason = await autoDeclines(config);
  if (reason === null) {
    try {
      return await WebGpuLstm.create(config);
    } catch (e) {
      note(options, `WebGPU not used (${(e as Error).message}): training on WASM`);
      return wasm();
    }
  }
  if (reason) note(options, reason);
  return wasm();
}

function note(options: CreateBackendOptions, message: string): void {
  if (said.has(message)) return;
  said.add(message);
  options.onNote?.(message);
}

// Why `auto` stays on WASM (a note for the user, or "" when there is nothing to say), or null
// when it takes WebGPU.
async function autoDeclines(config: CoreConfig): Promise<string | null> {
  if (config.batch < AUTO_WEBGPU_MIN_BATCH) return "";
  const ctx = await gpuContext();
  if (!ctx) return "WebGPU not used: no adapter found: training on WASM";
  if (ctx.software) {
    return `WebGPU not used: ${ctx.description} is a software adapter, slower than WASM: ` +
      "training on WASM (--backend webgpu forces it)";
  }
  return null;
}

/** The WASM core behind the backend interface: host arrays are views of its memory. */
export class WasmBackend implements LstmBackend {
  /** Always `wasm`. */
  readonly kind = "wasm" as const;
  /** The core it drives. */
  readonly core: WasmLstm;

  /** Wraps `core`; disposing the backend disposes it. */
  constructor(core: WasmLstm) {
    this.core = core;
  }

  get config(): WasmLstm["config"] {
    return this.core.config;
  }
  get layout(): WasmLstm["layout"] {
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

  load(state: BackendState): void {
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
    if (o.optimizer === "adam") c.adamStep(o.step + 1, { lr: o.lr });
    else c.sgdStep(o.step + 1, { lr: o.lr, momentum: o.momentum });
    c.carryState();
    return Promise.resolve({ loss, gradNorm, applied: true });
  }

  evaluateBatches(
    count: number,
    fill: (index: number, inputs: Int32Array, targets: Int32Array) => void,
    independentRows: boolean,
  ): Promise<number> {
    const c = this.core;
    const { layers: L, batch: B, hidden: H } = c.config;
    const h = new Float32Array(L * B * H), cs = new Float32Array(L * B * H);
    this.readCarried(h, cs);
    c.resetState();
    let total = 0;
    for (let i = 0; i < count; i++) {
      fill(i, c.inputs, c.targets);
      if (independentRows) c.resetState();
      total += c.forward({ training: false, reuseWeights: true });
      c.carryState();
    }
    this.load({ h, c: cs });
    return Promise.resolve(total / count);
  }

  dispose(): void {
    this.core.dispose();
  }

  /** Disposes the core (`using` calls this). */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
