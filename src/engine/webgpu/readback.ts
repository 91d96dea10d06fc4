// Copies from GPU buffers back to the host: staging buffers kept by size, and the two small
// ones a training step's scalars alternate between (step k + 1 is submitted before step k's
// scalars are read).

/** Bytes of a step's scalars read back: loss, norm, coefficient, applied flag and padding. */
export const STEP_SCALAR_BYTES = 32;

/** The staging buffers of one core and the reads through them. */
export class Readback {
  #device: GPUDevice;
  #staging = new Map<number, GPUBuffer>();
  #stepStaging: GPUBuffer[] = [];
  #stepCount = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** A mappable buffer of at least `bytes` (one per rounded size, reused). */
  staging(bytes: number): GPUBuffer {
    const size = Math.ceil(bytes / 16) * 16;
    let s = this.#staging.get(size);
    if (!s) {
      s = this.#mappable(size);
      this.#staging.set(size, s);
    }
    return s;
  }

  /** The next of the two step-scalar staging buffers, in turn. */
  nextStepStaging(): GPUBuffer {
    if (this.#stepStaging.length === 0) {
      for (let i = 0; i < 2; i++) this.#stepStaging.push(this.#mappable(STEP_SCALAR_BYTES));
    }
    return this.#stepStaging[this.#stepCount++ % 2];
  }

  /** `bytes` of `src` from `offset`, as floats, once the GPU work before it is done. */
  async download(src: GPUBuffer, offset: number, bytes: number): Promise<Float32Array> {
    const staging = this.staging(bytes);
    const encoder = this.#device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
    this.#device.queue.submit([encoder.finish()]);
    return await this.mapRead(staging, bytes);
  }

  /** The first `bytes` of `staging`, as floats, once the copies into it are done. */
  async mapRead(staging: GPUBuffer, bytes: number): Promise<Float32Array> {
    await staging.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 16) * 16);
    const out = new Float32Array(staging.getMappedRange(0, Math.ceil(bytes / 16) * 16).slice(0));
    staging.unmap();
    return out.subarray(0, bytes / 4);
  }

  /** Destroys the staging buffers. */
  destroy(): void {
    for (const s of this.#staging.values()) s.destroy();
    for (const s of this.#stepStaging) s.destroy();
  }

  #mappable(size: number): GPUBuffer {
    return this.#device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }
}
