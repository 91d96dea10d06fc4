// One WebGPU device per process, requested on first use with the adapter's largest storage
// buffer limits (a training layout binds buffers of hundreds of MiB).

/** The device the WebGPU backend runs on, and what its adapter is. */
export interface GpuContext {
  /** The device, with the adapter's largest storage buffer limits. */
  device: GPUDevice;
  /** The adapter's description (for example "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description: string;
  /** A software adapter (Mesa's lavapipe, SwiftShader): it runs on the CPU. */
  software: boolean;
}

type AdapterRequest = () => Promise<GPUAdapter | null>;

const defaultRequest: AdapterRequest = async () => {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  return await gpu.requestAdapter({ powerPreference: "high-performance" });
};

let request: AdapterRequest = defaultRequest;
let context: Promise<GpuContext | null> | null = null;

/**
 * Replaces how the adapter is requested (tests: a request that finds none); `null` restores
 * `navigator.gpu.requestAdapter`. Forgets the device already acquired.
 */
export function setAdapterRequest(fn: AdapterRequest | null): void {
  request = fn ?? defaultRequest;
  context = null;
}

/** The process's WebGPU device, or null when no adapter exists. */
export function gpuContext(): Promise<GpuContext | null> {
  context ??= acquire();
  return context;
}

async function acquire(): Promise<GpuContext | null> {
  const adapter = await request();
  if (!adapter) return null;
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(8, limits.maxStorageBuffersPerShaderStage),
    },
  });
  device.lost.then(() => {
    context = null;
  });
  // In Deno, destroy the device when the program (or a test module) ends, rather than leave it
  // to native teardown at exit, where a software driver's threads can still be running. Pages
  // need nothing: a browser releases a page's device itself, and "unload" handlers are
  // deprecated there.
  if ("Deno" in globalThis) globalThis.addEventListener("unload", () => device.destroy());
  const info = adapter.info;
  const description = info.description || `${info.vendor} ${info.architecture}`.trim() ||
    "unknown adapter";
  const software = Boolean(info.isFallbackAdapter) ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(description);
  return { device, description, software };
}
