// What every WGSL kernel of the WebGPU engine shares: the `Kernel` a generator returns, the
// binding convention (declarations generated from the kernel's buffer list), the step and
// dispatch uniforms, the math of assembly/simd.ts on one lane, the finiteness test and NaN,
// and the fixed-order workgroup reduction.
//
// Every shape, stride and offset is a WGSL constant baked into the source, so a kernel's key
// (its name and constants) decides its pipeline. Values that change per step (learning rate,
// dropout keys, loss slot) come from the step uniform; the timestep of a recurrent kernel from
// the dispatch uniform.
//
// One binding convention for all kernels:
//   @binding(0) the step uniform `su` (`Step`, rewritten before each step)
//   @binding(1) the dispatch uniform `site` (`Site`: the timestep, fixed with the bind group)
//   @binding(2…) storage buffers, in the order of the kernel's `buffers`

/** Access of one storage binding. */
export type Access = "read" | "read_write";

/** One storage buffer a kernel binds: its WGSL name, access and element type. */
export interface BufferSpec {
  /** The name the kernel's WGSL uses. */
  name: string;
  /** `read` or `read_write`. */
  access: Access;
  /** The array's element type. */
  element: "f32" | "i32" | "u32";
}

/** A read-only storage buffer of `element`s. */
export const read = (name: string, element: BufferSpec["element"] = "f32"): BufferSpec => ({
  name,
  access: "read",
  element,
});

/** A read-write storage buffer of `element`s. */
export const readWrite = (name: string, element: BufferSpec["element"] = "f32"): BufferSpec => ({
  name,
  access: "read_write",
  element,
});

/** A compute kernel: WGSL source, its storage buffers (from binding 2) and its grid. */
export interface Kernel {
  /** The name and every baked-in constant: equal keys have equal sources. */
  key: string;
  /** The WGSL module, entry point `main`. */
  code: string;
  /** The storage buffers, bound in this order from {@linkcode FIRST_STORAGE_BINDING}. */
  buffers: BufferSpec[];
  /** Workgroups to dispatch, x and y. */
  grid: [number, number];
}

/** Binding of the step uniform. */
export const STEP_BINDING = 0;
/** Binding of the dispatch uniform. */
export const SITE_BINDING = 1;
/** Binding of a kernel's first storage buffer. */
export const FIRST_STORAGE_BINDING = 2;

/** Largest number of layers whose dropout keys the step uniform holds. */
export const MAX_LAYERS = 64;
/** Bytes of the step uniform. */
export const STEP_UNIFORM_BYTES = 64 + MAX_LAYERS * 16;
/** Stride of the dispatch uniforms (the largest minUniformBufferOffsetAlignment allowed). */
export const SITE_STRIDE = 256;
/** Bytes of one dispatch uniform. */
export const SITE_BYTES = 16;
/**
 * The bits of the NaN kernels write, in the step uniform's `nanBits`. A NaN as a WGSL constant
 * (`bitcast<f32>(0x7fc00000u)` of a `const`) is a const-expression, which Chromium's shader
 * compiler rejects ("value nan cannot be represented as 'f32'"): read from a uniform, it is a
 * runtime value every compiler accepts.
 */
export const NAN_BITS = 0x7fc00000;

/** Indices into the scalars buffer. */
export const SCALAR = { loss: 0, sumSquares: 1, norm: 2, coef: 3, ok: 4, history: 8 } as const;

/** Sizes every per-timestep kernel bakes in: batch, seq, hidden size, vocabulary. */
export interface Dims {
  B: number;
  T: number;
  H: number;
  V: number;
}

// The uniforms (field order is the host's: src/engine/webgpu/upload.ts writes them).
const UNIFORMS = /* wgsl */ `
struct Step {
  invCount: f32, lossSlot: u32, clipNorm: f32, clipValue: f32,
  lrOverBc1: f32, invSqrtBc2: f32, beta1: f32, beta2: f32,
  eps: f32, momentum: f32, sgdFirst: u32, dropScale: f32,
  dropP: f32, lr: f32, nanBits: u32, decay: f32,
  keys: array<vec4<u32>, ${MAX_LAYERS}>,
}
struct Site { t: u32, p1: u32, p2: u32, p3: u32 }`;

// assembly/simd.ts's exp4, sigmoid4 and tanh4 on one lane (Cephes polynomials).
const MATH = /* wgsl */ `
fn exp_c(x0: f32) -> f32 {
  let x = min(max(x0, -87.3), 88.3);
  let n = round(x * 1.44269504088896341);
  var r = n * -0.693359375 + x;
  r = n * 2.12194440e-4 + r;
  var p = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  let y = (p * r) * r + r + 1.0;
  return y * bitcast<f32>(u32(i32(n) + 127) << 23u);
}
fn sigmoid_c(x: f32) -> f32 { return 1.0 / (1.0 + exp_c(-x)); }
fn tanh_c(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.625) {
    let z = x * x;
    var p = -5.70498872745e-3;
    p = p * z + 2.06390887954e-2;
    p = p * z + -5.37397155531e-2;
    p = p * z + 1.33314422036e-1;
    p = p * z + -3.33332819422e-1;
    return (p * z) * x + x;
  }
  let big = 1.0 - 2.0 / (exp_c(ax + ax) + 1.0);
  return select(big, -big, x < 0.0);
}
// Bit tests, not float compares: a shader compiler may assume floats are finite.
fn finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
// A runtime NaN, from the step uniform: a constant one does not compile everywhere (NAN_BITS).
fn nan_f32() -> f32 { return bitcast<f32>(su.nanBits); }
`;

/**
 * A fixed-order sum over a workgroup of 256 with a flag OR-ed alongside: `reduce256(li, s, bad)`
 * leaves Σ s in part[0] and the OR of `bad` in badPart[0] (a tree over the 256 slots).
 */
export const REDUCE_256 = /* wgsl */ `
var<workgroup> part: array<f32, 256>;
var<workgroup> badPart: array<u32, 256>;
fn reduce256(li: u32, s: f32, bad: u32) {
  part[li] = s;
  badPart[li] = bad;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (li < w) { part[li] += part[li + w]; badPart[li] |= badPart[li + w]; }
    workgroupBarrier();
  }
}`;

/** The index of a 1-D kernel's invocation over a {@linkcode grid1} of `size`-wide groups. */
export const flatIndex = (size: number) => `id.x + id.y * 65535u * ${size}u`;

const u = (n: number) => `${n >>> 0}u`;
const consts = (c: Record<string, number | boolean>) =>
  Object.entries(c).map(([k, v]) =>
    typeof v === "boolean" ? `const ${k}: bool = ${v};` : `const ${k}: u32 = ${u(v)};`
  ).join("\n");
const keyOf = (name: string, c: Record<string, number | boolean>) =>
  `${name}(${Object.entries(c).map(([k, v]) => `${k}=${v}`).join(",")})`;

/** The bindings of a kernel over `buffers`, in the one convention. */
function bindings(buffers: BufferSpec[]): string {
  return [
    `@group(0) @binding(${STEP_BINDING}) var<uniform> su: Step;`,
    `@group(0) @binding(${SITE_BINDING}) var<uniform> site: Site;`,
    ...buffers.map((b, i) =>
      `@group(0) @binding(${FIRST_STORAGE_BINDING + i}) ` +
      `var<storage, ${b.access}> ${b.name}: array<${b.element}>;`
    ),
  ].join("\n");
}

/**
 * A kernel named `name` with constants `c` (its key), binding `buffers`, entry point `main` in
 * `body`, dispatched over `grid` workgroups.
 */
export function kernel(
  name: string,
  c: Record<string, number | boolean>,
  buffers: BufferSpec[],
  body: string,
  grid: [number, number],
): Kernel {
  return {
    key: keyOf(name, c),
    code: `${UNIFORMS}\n${bindings(buffers)}\n${MATH}\n${consts(c)}\n${body}`,
    buffers,
    grid: [Math.max(1, grid[0]), Math.max(1, grid[1])],
  };
}

/** ⌈a / b⌉. */
export const cdiv = (a: number, b: number): number => Math.ceil(a / b);

/** A grid of ⌈n / size⌉ workgroups, folded into y past the 65535 a dimension allows. */
export function grid1(n: number, size: number): [number, number] {
  const groups = cdiv(n, size);
  return groups <= 65535 ? [groups, 1] : [65535, cdiv(groups, 65535)];
}
