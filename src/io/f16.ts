// IEEE 754 half precision (safetensors' F16) for the bundled models' weights: float32 → float16
// rounds to nearest, ties to even, exactly as PyTorch's `tensor.half()` and `Math.f16round`
// do (subnormals included); float16 → float32 is exact. Written out by hand rather than with
// Float16Array so that it runs in every browser the studio supports.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bits nearest to `x` (ties to even; beyond the range: ±Infinity). */
function halfBits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Infinity, NaN
  const e = exp - 112; // the float16 exponent field: 127 - 15 = 112
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A subnormal float16 (or zero): the value is m · 2^-24.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    let m = mant >>> shift;
    if (rem > half || (rem === half && (m & 1))) m++; // 0x400 is the smallest normal: right
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry into the exponent is right too
  return sign | h;
}

let table: Float32Array | null = null;

/** Every float16 bit pattern's value, built once (256 KB). */
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    table[h] = e === 0
      ? sign * m * 2 ** -24
      : e === 0x1f
      ? (m ? NaN : sign * Infinity)
      : sign * (1024 + m) * 2 ** (e - 25);
  }
  return table;
}

/**
 * Float32 values as little-endian float16 bytes (safetensors' F16), each rounded to the
 * nearest float16, ties to even.
 *
 * @example Rounding to half precision and back
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16Bytes, f16Values } from "./f16.ts";
 *
 * const bytes = f16Bytes(new Float32Array([1, 0.1, -65504]));
 * assert.equal(bytes.length, 6);
 * assert.deepEqual([...f16Values(bytes)], [1, 0.0999755859375, -65504]);
 * ```
 *
 * @param values The values.
 * @returns Two bytes per value.
 */
export function f16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, halfBits(values[i]), true);
  return out;
}

/**
 * Little-endian float16 bytes as float32 values (exact: every float16 is a float32).
 *
 * @example Reading F16 data
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16Values } from "./f16.ts";
 *
 * assert.deepEqual([...f16Values(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]))], [1, -2]);
 * ```
 *
 * @param bytes Two bytes per value (an odd length is refused).
 * @returns The values.
 * @throws {RangeError} If the length is odd.
 */
export function f16Values(bytes: Uint8Array): Float32Array {
  if (bytes.length % 2 !== 0) {
    throw new RangeError(`Cannot read float16 data: ${bytes.length} bytes is an odd length`);
  }
  const t = halfTable();
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = t[bytes[j] | (bytes[j + 1] << 8)];
  return out;
}
