// Compute pipelines of the WebGPU engine: one per kernel key (its name and every constant baked
// into its WGSL), cached per device, so cores of the same config share them; and the dispatch
// lists a core records, whose pipelines compile concurrently while the lists are built.

import { bindGroup, type BufferBindings } from "./buffers.ts";
import { FIRST_STORAGE_BINDING, type Kernel, SITE_BINDING, STEP_BINDING } from "./_wgsl_common.ts";

/** One recorded dispatch: a pipeline, the bind group of its buffers, its grid. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: [number, number];
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** The pipeline of `k` on `device`, created on first use (a failed one is not kept). */
export function pipelineFor(device: GPUDevice, k: Kernel): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, cache = new Map());
  let p = cache.get(k.key);
  if (!p) {
    const uniform = (binding: number): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "uniform" },
    });
    const entries: GPUBindGroupLayoutEntry[] = [
      uniform(STEP_BINDING),
      uniform(SITE_BINDING),
      ...k.buffers.map((b, i) => ({
        binding: FIRST_STORAGE_BINDING + i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === "read" ? "read-only-storage" as const : "storage" as const },
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

/**
 * Builds dispatches over one core's buffers: each `add` starts its pipeline's creation and
 * returns the dispatch, completed (pipeline, bind group) by the time `ready` resolves.
 */
export class DispatchBuilder {
  #device: GPUDevice;
  #uniforms: BufferBindings;
  #pending: Promise<void>[] = [];

  constructor(device: GPUDevice, uniforms: BufferBindings) {
    this.#device = device;
    this.#uniforms = uniforms;
  }

  /** A dispatch of `k` over `buffers` (its storage bindings in order) at timestep `t`. */
  add(k: Kernel, buffers: GPUBuffer[], t = 0): Dispatch {
    if (buffers.length !== k.buffers.length) {
      throw new Error(`${k.key}: ${buffers.length} buffers for ${k.buffers.length} bindings`);
    }
    const d = { grid: k.grid } as Dispatch;
    this.#pending.push(
      pipelineFor(this.#device, k).then((pipeline) => {
        d.pipeline = pipeline;
        d.bindGroup = bindGroup(this.#device, pipeline, this.#uniforms, buffers, t);
      }),
    );
    return d;
  }

  /** Waits for every pipeline; rejects when one failed to compile or validate. */
  async ready(): Promise<void> {
    this.#device.pushErrorScope("validation");
    await Promise.all(this.#pending);
    const error = await this.#device.popErrorScope();
    if (error) throw new Error(`WebGPU pipeline creation failed: ${error.message}`);
  }
}

/** Records `programs` (lists of dispatches) in order into one compute pass of `encoder`. */
export function encode(encoder: GPUCommandEncoder, ...programs: Dispatch[][]): void {
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
