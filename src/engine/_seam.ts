// The one door from the engines' private state to the probes that tests and benchmarks use
// (_probe.ts): each engine class hands over one accessor, once, in a static block, when its
// module loads. Nothing is registered per engine created and nothing is checked per kernel.

import type { CoreConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import type { WasmPasses } from "./_wasm_passes.ts";
import type { GpuBuffers } from "./webgpu/buffers.ts";
import type { Programs } from "./webgpu/step.ts";

/** What a WebGpuEngine shows the probes. */
export interface GpuInside {
  /** The engine's config. */
  readonly config: Readonly<Required<CoreConfig>>;
  /** The engine's parameter layout. */
  readonly layout: ParamLayout;
  /** The engine's GPU buffers. */
  readonly buffers: GpuBuffers;
  /** The engine's dispatch lists. */
  readonly programs: Programs;
  /** Uploads the batch and submits a forward pass (dropout of optimizer step `step` if training). */
  forward(training: boolean, step: number): void;
  /** Submits the backward pass of the last training forward. */
  backward(): void;
  /** `bytes` of `src` from `offset`, once the work submitted before is done. */
  download(src: GPUBuffer, offset: number, bytes: number): Promise<Float32Array>;
}

/**
 * The accessors, set by each engine class's static block. They take the engine as an `object`
 * (the probes check its class first), so this file imports neither engine: no import circle.
 */
export const seam: {
  wasm?: (engine: object) => WasmPasses;
  webgpu?: (engine: object) => GpuInside;
} = {};
