// Strict safetensors encoder and decoder for charlstm's checkpoints (docs/checkpoints.md, "The
// file").
//
// The reader parses the header with `JSON.parse`, checks it against the format's schema, and runs
// every check of the reference reader before it hands out any tensor view. Only charlstm's dtypes
// are supported (F32, F16, I32, U8); any other is refused by name. Data is little-endian, as is every
// host Deno runs on. The numbered list of docs/checkpoints.md, "What a loader rejects", item →
// where it is enforced:
//   1-4 file size, header length, UTF-8 → decode, steps 1-4
//   5 not JSON, not an object → parseHeader       12 non-string metadata value → checkMetadata
//   6-8 overlap or gap, trailing or missing data, size ≠ shape → decode, steps 6-7
//   9 huge shapes → integersOnly + intList (not a safe integer), elementCount (u64 overflow)
//   10 F4 misaligned slice → checkDtype (F4 is not supported)
//   13 duplicate keys → findDuplicateKey (JSON.parse keeps the last of two, and the offsets walk
//      alone misses a duplicate that repeats its twin's offsets)
//   11, 14, 15 writer: header size, reserved __metadata__, metadata alone → encodeSafetensors
//   16 accepted: JSON whitespace, empty and rank-0 tensors, any key order
//   17 fuzzing: every failure is a one-line SafetensorsError → decodeSafetensors
// Stricter than the reference: unknown fields in a tensor entry, numbers that are not plain
// non-negative safe integers (`1.0`, `1e0`, `-0`), lone UTF-16 surrogates in names or metadata.

/**
 * Error thrown for any malformed safetensors input or any tensor set the writer refuses. The
 * message is one line: `Invalid safetensors: <problem>` from the reader, `Cannot encode
 * safetensors: <problem>` from the writer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, SafetensorsError } from "./safetensors.ts";
 *
 * assert.throws(() => decodeSafetensors(new Uint8Array(3)), SafetensorsError);
 * ```
 */
export class SafetensorsError extends Error {
  /** Always `"SafetensorsError"`. */
  override name = "SafetensorsError";
}

/**
 * A safetensors element type that charlstm reads and writes (F32 and I32: 4 bytes, F16: 2, U8:
 * 1; F16 holds the bundled models' weights).
 *
 * @example Usage
 * ```ts
 * import type { Dtype } from "./safetensors.ts";
 *
 * const dtype: Dtype = "I32";
 * ```
 */
export type Dtype = "F32" | "F16" | "I32" | "U8";

/** Bytes per element of each supported dtype, in the reference enum order (= alignment). */
const DTYPE_BYTES: Record<Dtype, number> = { U8: 1, F16: 2, I32: 4, F32: 4 };
const DTYPE_RANK = new Map(Object.keys(DTYPE_BYTES).map((d, i) => [d, i]));

/**
 * One tensor: its dtype, its shape, and its raw little-endian row-major bytes.
 *
 * @example Usage
 * ```ts
 * import type { TensorEntry } from "./safetensors.ts";
 *
 * const ids: TensorEntry = { dtype: "I32", shape: [2], bytes: new Uint8Array(8) };
 * ```
 */
export interface TensorEntry {
  /** Element type. */
  dtype: Dtype;
  /** Dimensions; `[]` is a scalar holding one element. */
  shape: number[];
  /** Raw little-endian data. From the reader this is a view into the input buffer. */
  bytes: Uint8Array;
}

/** Largest header the reference accepts or writes (`MAX_HEADER_SIZE`, in bytes). */
const MAX_HEADER_SIZE = 100_000_000;
const U64_MAX = (1n << 64n) - 1n;

type Fail = (problem: string) => never;
const failWith = (prefix: string): Fail => (problem) => {
  throw new SafetensorsError(prefix + problem);
};
/** Strict UTF-8 that keeps a byte-order mark, so that JSON.parse rejects it. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Escapes controls, format characters (BOM, bidi marks), separators and lone surrogates. */
function oneLine(s: string): string {
  return JSON.stringify(s).slice(1, -1).replace(/(?! )[\p{C}\p{Z}]/gu, (c) => {
    return c.split("").map((u) => "\\u" + u.charCodeAt(0).toString(16).padStart(4, "0")).join("");
  });
}

/** Quotes a user-supplied string for an error message: escaped to one line and truncated. */
function q(s: string): string {
  return `'${oneLine(s.length > 60 ? s.slice(0, 57) + "..." : s)}'`;
}

function showShape(shape: readonly unknown[]): string {
  const more = shape.length > 8 ? `, ... (${shape.length} dims)` : "";
  return `[${shape.slice(0, 8).join(", ")}${more}]`;
}

/** A JSON number that is not a plain non-negative safe integer, kept as its source text. */
class BadNumber {
  constructor(readonly source: string) {}
}

function describe(v: unknown): string {
  if (v === null || Array.isArray(v)) return v === null ? "null" : "an array";
  if (v instanceof BadNumber) return `number ${v.source.slice(0, 30)}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "string") return `string ${q(v)}`;
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${v}`;
  return typeof v === "object" ? "an object" : typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof BadNumber);
}

/** Orders strings by code point (= by UTF-8 bytes, as the reference sorts names). */
function compareUtf8(a: string, b: string): number {
  const fix = (u: number) => u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return fix(a.charCodeAt(i)) - fix(b.charCodeAt(i));
  }
  return a.length - b.length;
}

/**
 * Element count of a shape of safe integers (the empty product is 1), or null when a running
 * product exceeds u64, as the reference's `checked_mul` fold does (even if a later 0 follows).
 */
function elementCount(shape: readonly number[]): bigint | null {
  let n = 1n;
  for (const d of shape) if ((n *= BigInt(d)) > U64_MAX) return null;
  return n;
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Returns a supported dtype, or refuses the tensor with a message naming the dtype. */
function checkDtype(d: unknown, bad: Fail): Dtype {
  if (typeof d === "string" && DTYPE_RANK.has(d)) return d as Dtype;
  const got = typeof d === "string" ? q(d) : describe(d);
  return bad(`has unsupported dtype ${got}: charlstm reads and writes F32, F16, I32, U8`);
}

/** Checks metadata entries: string values, and well-formed Unicode throughout. */
function checkMetadata(entries: [string, unknown][], fail: Fail): void {
  for (const [k, v] of entries) {
    if (typeof v !== "string") {
      fail(`metadata value for key ${q(k)} must be a string, got ${describe(v)}`);
    }
    if (!k.isWellFormed() || !v.isWellFormed()) {
      fail(`metadata entry ${q(k)} contains a lone UTF-16 surrogate`);
    }
  }
}

/**
 * Serializes tensors and optional string metadata to safetensors bytes.
 *
 * A tensor is either `{ shape, data: Float32Array }` (written as F32) or a {@link TensorEntry}
 * with raw little-endian bytes. Like the reference `serialize()`, tensors are ordered by dtype
 * alignment (descending) and then by name, packed contiguously from offset 0, and described by
 * compact JSON with `__metadata__` first (its keys sorted; omitted when empty). The header is
 * padded with spaces to a multiple of 8 bytes so the data starts 8-aligned.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors, f32Values } from "./safetensors.ts";
 *
 * const bytes = encodeSafetensors(
 *   { "fc.weight": { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
 *   { format: "pt" },
 * );
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * assert.deepEqual(metadata, { format: "pt" });
 * assert.deepEqual([...f32Values(tensors.get("fc.weight")!, "fc.weight")], [1, 2, 3, 4]);
 * ```
 *
 * @param tensors Tensors by name; the name `__metadata__` is reserved and refused.
 * @param metadata Optional string-to-string map stored under `__metadata__`.
 * @returns The complete file contents.
 * @throws {SafetensorsError} If a name is reserved or not well-formed Unicode, a dtype is not
 * supported, a shape is not a list of non-negative safe integers, the data length does not match
 * the shape, a metadata value is not a string, or the header would exceed 100,000,000 bytes.
 */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array } | TensorEntry>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const fail = failWith("Cannot encode safetensors: ");
  const meta = Object.entries(metadata).sort((a, b) => compareUtf8(a[0], b[0]));
  const named = Object.entries(tensors as Record<string, unknown>);
  // A cheap lower bound first (one byte per UTF-16 unit), so a huge string is refused before it
  // is escaped; the exact size is checked once the header is built.
  const bound = [...meta.flat(), ...named.map(([name]) => name)]
    .reduce((sum, s) => sum + (typeof s === "string" ? s.length : 0), 0);
  if (bound > MAX_HEADER_SIZE) {
    fail(`header would be at least ${bound} bytes, over the limit of ${MAX_HEADER_SIZE}`);
  }
  checkMetadata(meta, fail);
  const prepared = named.map(([name, t]): TensorEntry & { name: string } => {
    const bad: Fail = (problem) => fail(`tensor ${q(name)} ${problem}`);
    if (name === "__metadata__") fail("the tensor name '__metadata__' is reserved for metadata");
    if (!name.isWellFormed()) fail(`tensor name ${q(name)} contains a lone UTF-16 surrogate`);
    if (!isObject(t)) return bad(`must be an object, got ${describe(t)}`);
    const { shape, data, bytes } = t;
    if (!isShape(shape)) {
      const got = Array.isArray(shape) ? showShape(shape) : describe(shape);
      return bad(`shape must be a list of non-negative safe integers, got ${got}`);
    }
    const dims = showShape(shape);
    const count = elementCount(shape) ?? bad(`shape ${dims} overflows the u64 element count`);
    if (!("dtype" in t)) {
      if (!(data instanceof Float32Array)) {
        return bad("needs a Float32Array 'data' or a 'dtype' and 'bytes'");
      }
      if (BigInt(data.length) !== count) {
        bad(`has ${data.length} values but shape ${dims} holds ${count}`);
      }
      const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return { name, dtype: "F32", shape: shape.slice(), bytes: view };
    }
    const dtype = checkDtype(t.dtype, bad);
    if (!(bytes instanceof Uint8Array)) {
      return bad(`bytes must be a Uint8Array, got ${describe(bytes)}`);
    }
    const need = count * BigInt(DTYPE_BYTES[dtype]);
    if (BigInt(bytes.length) !== need) {
      bad(`has ${bytes.length} bytes but shape ${dims} of ${dtype} needs ${need}`);
    }
    return { name, dtype, shape: shape.slice(), bytes };
  }).sort((a, b) =>
    (DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)!) || compareUtf8(a.name, b.name)
  );

  const str = JSON.stringify;
  const parts = meta.length > 0
    ? [`"__metadata__":{${meta.map(([k, v]) => `${str(k)}:${str(v)}`).join(",")}}`]
    : [];
  let offset = 0;
  for (const { name, dtype, shape, bytes } of prepared) {
    const span = `[${offset},${(offset += bytes.length)}]`;
    parts.push(`${str(name)}:{"dtype":"${dtype}","shape":[${shape}],"data_offsets":${span}}`);
  }
  const header = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(header.length / 8) * 8;
  if (n > MAX_HEADER_SIZE) fail(`header is ${n} bytes, over the limit of ${MAX_HEADER_SIZE}`);

  const out = new Uint8Array(8 + n + offset).fill(0x20, 8 + header.length, 8 + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(header, 8);
  let at = 8 + n;
  for (const { bytes } of prepared) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

type RawEntry = Omit<TensorEntry, "bytes"> & { name: string; begin: number; end: number };

/** JSON.parse reviver: a number passes only if its source text is a plain safe integer. */
function integersOnly(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== "number") return value;
  const source = context?.source ?? String(value);
  return /^\d+$/.test(source) && Number.isSafeInteger(value) ? value : new BadNumber(source);
}

/**
 * The first key repeated within one object of `text` (already valid JSON), with the key that
 * holds that object. JSON.parse keeps the last of two duplicates and cannot report them.
 */
function findDuplicateKey(text: string): { key: string; parent?: string } | undefined {
  const open: { keys: Set<string> | null; parent?: string }[] = [];
  const colon = /[ \t\n\r]*:/y;
  let lastKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") {
      const outer = open[open.length - 1]; // a container in an array takes the array's key
      const parent = outer?.keys ? lastKey : outer?.parent;
      open.push({ keys: c === "{" ? new Set() : null, parent });
    } else if (c === "}" || c === "]") open.pop();
    else if (c === '"') {
      const start = i;
      while (text[++i] !== '"') if (text[i] === "\\") i++;
      const top = open[open.length - 1];
      colon.lastIndex = i + 1;
      if (!top.keys || !colon.test(text)) continue;
      const raw = text.slice(start, i + 1);
      const key: string = raw.includes("\\") ? JSON.parse(raw) : raw.slice(1, -1);
      if (top.keys.has(key)) return { key, parent: top.parent };
      top.keys.add(lastKey = key);
    }
  }
}

/** Checks a list of non-negative safe integers; `label` and `name` say what one element is. */
function intList(v: unknown, label: string, name: string, fail: Fail): number[] {
  const what = () => `${label} of tensor ${q(name)}`;
  if (!Array.isArray(v)) return fail(`expected a list for ${what()}, got ${describe(v)}`);
  for (const x of v) {
    if (typeof x === "number") continue; // integersOnly let it through: a safe integer >= 0
    if (!(x instanceof BadNumber)) return fail(`${what()} must be an integer, got ${describe(x)}`);
    const s = x.source;
    const why = s[0] === "-" ? "negative" : /[.eE]/.test(s) ? "not an integer" : "over 2^53 - 1";
    fail(`${what()} ${s.length > 30 ? s.slice(0, 27) + "..." : s} is ${why}`);
  }
  return v;
}

const FIELDS = ["dtype", "shape", "data_offsets"];

/** Parses the header text and checks it against the schema (step 5 of the reference). */
function parseHeader(text: string, fail: Fail): { entries: RawEntry[]; metadata: object } {
  let header: unknown;
  try {
    header = JSON.parse(text, integersOnly);
  } catch (e) {
    // The reviver recurses, so absurd nesting overflows the stack: no real header nests so deep.
    if (e instanceof RangeError) fail("header is nested too deeply for a safetensors header");
    fail(`header is not valid JSON: ${oneLine((e as Error).message.slice(0, 200))}`);
  }
  if (!isObject(header)) return fail(`header is not a JSON object (got ${describe(header)})`);
  const dup = findDuplicateKey(text);
  if (dup) {
    fail(`duplicate key ${q(dup.key)}${dup.parent === undefined ? "" : ` in ${q(dup.parent)}`}`);
  }
  let metadata = {}; // JSON.parse made any "__proto__" key an own property, as it should be
  const entries: RawEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isObject(value)) {
        fail(`expected an object of strings for __metadata__, got ${describe(value)}`);
      }
      checkMetadata(Object.entries(value), fail);
      metadata = value;
      continue;
    }
    const bad: Fail = (problem) => fail(`tensor ${q(name)} ${problem}`);
    if (!name.isWellFormed()) fail(`tensor name ${q(name)} contains a lone UTF-16 surrogate`);
    if (!isObject(value)) return bad(`must be an object, got ${describe(value)}`);
    const unknown = Object.keys(value).find((k) => !FIELDS.includes(k));
    if (unknown !== undefined) fail(`unknown field ${q(unknown)} in tensor ${q(name)}`);
    const missing = FIELDS.find((k) => !Object.hasOwn(value, k));
    if (missing !== undefined) bad(`is missing field '${missing}'`);
    const dtype = checkDtype(value.dtype, bad);
    const shape = intList(value.shape, "shape dimension", name, fail);
    const offsets = intList(value.data_offsets, "data offset", name, fail);
    if (offsets.length !== 2) bad(`data_offsets must have 2 entries, not ${offsets.length}`);
    entries.push({ name, dtype, shape, begin: offsets[0], end: offsets[1] });
  }
  return { entries, metadata };
}

/**
 * Parses and validates safetensors bytes.
 *
 * Every check of the reference reader runs before any tensor is handed out: the header size
 * and bounds, strict UTF-8, the JSON schema (no duplicate keys, no unknown fields, only
 * non-negative safe integers, supported dtypes, string-only metadata), contiguous
 * non-overlapping offsets that exactly cover the data buffer, and byte sizes that match each
 * shape. Leading and trailing JSON whitespace, zero-sized tensors, rank-0 shapes and any key
 * order are accepted. The returned tensor bytes are views into `bytes` (no data is copied).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, SafetensorsError } from "./safetensors.ts";
 *
 * const header = '{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}';
 * const file = new Uint8Array(8 + header.length + 2);
 * new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
 * file.set(new TextEncoder().encode(header), 8);
 * file.set([7, 9], 8 + header.length);
 * const { tensors } = decodeSafetensors(file);
 * assert.deepEqual([...tensors.get("x")!.bytes], [7, 9]);
 *
 * assert.throws(() => decodeSafetensors(file.subarray(0, 5)), SafetensorsError);
 * ```
 *
 * @param bytes The whole file.
 * @returns The tensors by name (in offset order) and the `__metadata__` map (`{}` if absent).
 * @throws {SafetensorsError} For any malformed input; no other error type escapes.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  try {
    return decode(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    const detail = oneLine(String(e).slice(0, 200)); // "RangeError: ..."
    const message = `Invalid safetensors: unexpected failure while reading: ${detail}`;
    throw new SafetensorsError(message, { cause: e });
  }
}

function decode(bytes: Uint8Array) {
  const fail = failWith("Invalid safetensors: ");
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array, got ${describe(bytes)}`);
  const size = bytes.length;
  // 1. HeaderTooSmall
  if (size < 8) fail(`file is ${size} bytes, too small for the 8-byte header length`);
  // 2. HeaderTooLarge
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > MAX_HEADER_SIZE) {
    fail(`header length ${n64} is over the limit of ${MAX_HEADER_SIZE} bytes`);
  }
  const n = Number(n64);
  // 3. InvalidHeaderLength
  if (8 + n > size) fail(`header length ${n} runs past the end of the ${size}-byte file`);
  // 4. InvalidHeader (UTF-8)
  let text = "";
  try {
    text = UTF8.decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header is not valid UTF-8");
  }
  // 5. InvalidHeaderDeserialization
  const { entries, metadata } = parseHeader(text, fail);
  // 6. InvalidOffset / ValidationOverflow / TensorInvalidInfo, in offset order
  entries.sort((a, b) => (a.begin - b.begin) || (a.end - b.end));
  let start = 0;
  for (const { name, dtype, shape, begin, end } of entries) {
    // Messages are built only on failure: a header may hold millions of entries.
    const bad = (problem: string) => fail(`tensor ${q(name)} ${problem}`);
    const offs = () => `has data_offsets [${begin}, ${end}]`;
    if (end < begin) bad(`${offs()} that end before they begin`);
    if (begin < start) bad(`${offs()} overlapping the data before byte ${start}`);
    if (begin > start) bad(`${offs()} leaving a gap after byte ${start}`);
    start = end;
    const count = elementCount(shape) ??
      bad(`shape ${showShape(shape)} overflows the element count`);
    const need = count * BigInt(DTYPE_BYTES[dtype]);
    const of = () => `shape ${showShape(shape)} of ${dtype}`;
    if (need * 8n > U64_MAX) bad(`${of()} overflows the bit size`);
    if (BigInt(end - begin) !== need) bad(`${offs()} but ${of()} needs ${need} bytes`);
  }
  // 7. MetadataIncompleteBuffer
  const length = size - 8 - n;
  if (start !== length) {
    const why = start < length ? "trailing bytes after the last tensor" : "file is truncated";
    fail(`data buffer is ${length} bytes but the tensors cover ${start} (${why})`);
  }
  const tensors = new Map<string, TensorEntry>();
  for (const { name, dtype, shape, begin, end } of entries) {
    tensors.set(name, { dtype, shape, bytes: bytes.subarray(8 + n + begin, 8 + n + end) });
  }
  return { tensors, metadata: metadata as Record<string, string> };
}

/**
 * Returns an F32 tensor's values as a fresh Float32Array (a copy, so the alignment of the
 * source bytes never matters).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32Values } from "./safetensors.ts";
 *
 * const bytes = new Uint8Array(new Float32Array([1.5, -2]).buffer);
 * assert.deepEqual([...f32Values({ dtype: "F32", shape: [2], bytes }, "w")], [1.5, -2]);
 * ```
 *
 * @param entry The tensor.
 * @param name The tensor's name, used in error messages.
 * @returns The values, decoded as little-endian float32.
 * @throws {SafetensorsError} If the dtype is not F32 or the byte length does not match the shape.
 */
export function f32Values(entry: TensorEntry, name: string): Float32Array {
  const fail = failWith(`Invalid safetensors: tensor ${q(name)} `);
  if (entry.dtype !== "F32") fail(`has dtype ${entry.dtype}, expected F32`);
  if (!isShape(entry.shape)) fail("shape is not a list of non-negative safe integers");
  const need = (elementCount(entry.shape) ?? -1n) * 4n;
  if (BigInt(entry.bytes.length) !== need) {
    const has = `has ${entry.bytes.length} bytes but shape ${showShape(entry.shape)}`;
    fail(`${has} of F32 needs ${need < 0n ? "over 2^64 elements" : need}`);
  }
  return new Float32Array(entry.bytes.slice().buffer);
}
