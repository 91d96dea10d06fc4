// Strict safetensors encoder and decoder (see FORMATS.md section 1).
//
// The reader validates the whole header (steps 1-7 of the reference `read_metadata` /
// `Metadata::validate`) before it hands out any tensor view, and it is stricter than the Rust
// reference where the reference is lax: duplicate keys, unknown fields in a tensor entry,
// integers that are not safe JavaScript integers, and lone surrogate escapes are all rejected.
// The header JSON is read by a small schema-directed parser rather than `JSON.parse`, because
// `JSON.parse` silently keeps the last of two duplicate keys and accepts floats for integers.

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
 * assert.throws(
 *   () => decodeSafetensors(new Uint8Array(3)),
 *   (e) => e instanceof SafetensorsError && /too small/.test(e.message),
 * );
 * ```
 */
export class SafetensorsError extends Error {
  /** Always `"SafetensorsError"`. */
  override name = "SafetensorsError";
}

/** Bits per element of each dtype, in the reference enum order (= ascending alignment). */
const DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

/**
 * A safetensors element type (bit sizes: F4 = 4, F6_* = 6, BOOL/U8/I8/F8_* = 8,
 * I16/U16/F16/BF16 = 16, I32/U32/F32 = 32, C64/F64/I64/U64 = 64).
 *
 * @example Usage
 * ```ts
 * import type { Dtype } from "./safetensors.ts";
 *
 * const dtype: Dtype = "BF16";
 * ```
 */
export type Dtype = keyof typeof DTYPE_BITS;

const DTYPE_ORDER: ReadonlyMap<string, number> = new Map(
  Object.keys(DTYPE_BITS).map((d, i) => [d, i]),
);

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

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: string): s is Dtype {
  return DTYPE_ORDER.has(s);
}

/** Quotes a user-supplied string for an error message: escaped to one line and truncated. */
function q(s: string): string {
  let t = s.length > 60 ? s.slice(0, 57) + "..." : s;
  // Escape controls, format characters (BOM, bidi marks), separators and lone surrogates.
  t = JSON.stringify(t).slice(1, -1).replace(/(?! )[\p{C}\p{Z}]/gu, (c) => {
    return c.split("").map((u) => "\\u" + u.charCodeAt(0).toString(16).padStart(4, "0")).join("");
  });
  return `'${t}'`;
}

function showShape(shape: readonly (number | string)[]): string {
  return shape.length > 8
    ? `[${shape.slice(0, 8).join(", ")}, ... (${shape.length} dims)]`
    : `[${shape.join(", ")}]`;
}

/** Maps UTF-16 code units so that comparing them orders strings by code point (= UTF-8 bytes). */
function fixup(u: number): number {
  if (u >= 0xd800 && u <= 0xdfff) return u + 0x2000;
  return u >= 0xe000 ? u - 0x800 : u;
}

function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * Element count of a shape as an exact BigInt (the empty product is 1), or null when a running
 * product exceeds u64, as the reference's `checked_mul` fold does (even if a later 0 follows).
 */
function elementCount(shape: readonly number[]): bigint | null {
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    if (n * shape[i] > Number.MAX_SAFE_INTEGER) {
      let big = BigInt(n); // still exact: only the product that just overflowed is inexact
      for (let k = i; k < shape.length; k++) {
        big *= BigInt(shape[k]);
        if (big > U64_MAX) return null;
      }
      return big;
    }
    n *= shape[i];
  }
  return BigInt(n);
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
 * @throws {SafetensorsError} If a name is reserved or not well-formed Unicode, a shape is not a
 * list of non-negative safe integers, the data length does not match the shape, a metadata value
 * is not a string, or the header would exceed 100,000,000 bytes.
 */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array } | TensorEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`Cannot encode safetensors: ${msg}`);
  };
  if (tensors === null || typeof tensors !== "object" || Array.isArray(tensors)) {
    fail("tensors must be an object mapping names to tensors");
  }
  let metaEntries: [string, string][] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      fail("metadata must be an object mapping strings to strings");
    }
    metaEntries = Object.entries(metadata);
  }
  const tensorEntries = Object.entries(tensors);

  // A cheap lower bound first (one byte per UTF-16 unit), so a huge string is refused before
  // anything else looks at it; the exact size is computed before the header is built.
  const strings: string[] = [];
  for (const [k, v] of metaEntries) {
    strings.push(k);
    if (typeof v === "string") strings.push(v);
  }
  for (const [name] of tensorEntries) strings.push(name);
  let lowerBound = 0;
  for (const s of strings) lowerBound += s.length;
  if (lowerBound > MAX_HEADER_SIZE) {
    fail(`header would be at least ${lowerBound} bytes, over the limit of ${MAX_HEADER_SIZE}`);
  }

  for (const [k, v] of metaEntries) {
    if (typeof v !== "string") {
      fail(`metadata value for key ${q(k)} must be a string, got ${describe(v)}`);
    }
    if (!k.isWellFormed() || !v.isWellFormed()) {
      fail(`metadata entry ${q(k)} contains a lone UTF-16 surrogate`);
    }
  }

  type Prepared = { name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array };
  const prepared: Prepared[] = [];
  for (const [name, t] of tensorEntries) {
    if (name === "__metadata__") fail("the tensor name '__metadata__' is reserved for metadata");
    if (!name.isWellFormed()) fail(`tensor name ${q(name)} contains a lone UTF-16 surrogate`);
    if (t === null || typeof t !== "object") {
      fail(`tensor ${q(name)} must be an object, got ${describe(t)}`);
    }
    const shape = (t as { shape?: unknown }).shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      const got = Array.isArray(shape) ? showShape(shape.map(String)) : describe(shape);
      fail(`tensor ${q(name)} shape must be a list of non-negative safe integers, got ${got}`);
    }
    const dims = (shape as number[]).slice();
    const maybeCount = elementCount(dims);
    if (maybeCount === null) {
      fail(`tensor ${q(name)} shape ${showShape(dims)} overflows the u64 element count`);
    }
    const count = maybeCount as bigint;
    if ("dtype" in t) {
      const { dtype, bytes } = t as TensorEntry;
      if (typeof dtype !== "string" || !isDtype(dtype)) {
        fail(`tensor ${q(name)} has unknown dtype ${describe(dtype)}`);
      }
      if (!(bytes instanceof Uint8Array)) {
        fail(`tensor ${q(name)} bytes must be a Uint8Array, got ${describe(bytes)}`);
      }
      const bits = count * BigInt(DTYPE_BITS[dtype]);
      if (bits % 8n !== 0n) {
        fail(`tensor ${q(name)} of ${dtype} with shape ${showShape(dims)} is not whole bytes`);
      }
      if (BigInt(bytes.length) !== bits / 8n) {
        fail(
          `tensor ${q(name)} has ${bytes.length} bytes but shape ${showShape(dims)} of ` +
            `${dtype} needs ${bits / 8n}`,
        );
      }
      prepared.push({ name, dtype, shape: dims, bytes });
    } else {
      const data = (t as { data?: unknown }).data;
      if (!(data instanceof Float32Array)) {
        fail(`tensor ${q(name)} needs a Float32Array 'data' or a 'dtype' and 'bytes'`);
      }
      const f32 = data as Float32Array;
      if (BigInt(f32.length) !== count) {
        fail(
          `tensor ${q(name)} has ${f32.length} values but shape ${showShape(dims)} ` +
            `holds ${count}`,
        );
      }
      prepared.push({ name, dtype: "F32", shape: dims, bytes: f32LeBytes(f32) });
    }
  }

  prepared.sort((a, b) =>
    (DTYPE_ORDER.get(b.dtype)! - DTYPE_ORDER.get(a.dtype)!) || compareUtf8(a.name, b.name)
  );

  const sortedMeta = metaEntries.slice().sort((a, b) => compareUtf8(a[0], b[0]));
  const buildHeader = (str: (s: string) => string): string => {
    const parts: string[] = [];
    if (sortedMeta.length > 0) {
      const inner = sortedMeta.map(([k, v]) => `${str(k)}:${str(v)}`);
      parts.push(`"__metadata__":{${inner.join(",")}}`);
    }
    let offset = 0;
    for (const p of prepared) {
      const end = offset + p.bytes.length;
      parts.push(
        `${str(p.name)}:{"dtype":"${p.dtype}","shape":[${p.shape.join(",")}],` +
          `"data_offsets":[${offset},${end}]}`,
      );
      offset = end;
    }
    return `{${parts.join(",")}}`;
  };
  // Exact size = the ASCII skeleton with every string empty, plus each string's encoded size.
  let exact = buildHeader(() => '""').length;
  for (const s of strings) exact += jsonByteLength(s) - 2;
  const n = Math.ceil(exact / 8) * 8;
  if (n > MAX_HEADER_SIZE) {
    fail(`header is ${n} bytes, over the limit of ${MAX_HEADER_SIZE}`);
  }
  const header = new TextEncoder().encode(buildHeader(JSON.stringify));
  if (header.length !== exact) throw new Error("safetensors writer: header size mismatch (bug)");
  const offset = prepared.reduce((sum, p) => sum + p.bytes.length, 0);

  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + n);
  let at = 8 + n;
  for (const p of prepared) {
    out.set(p.bytes, at);
    at += p.bytes.length;
  }
  return out;
}

/** The UTF-8 byte length of `JSON.stringify(s)`, without building it. */
function jsonByteLength(s: string): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) n += 2;
    else if (c < 0x20) n += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 6;
    } else if (c >= 0xd800 && c <= 0xdfff) n += 6;
    else n += 3;
  }
  return n;
}

/** The little-endian bytes of a Float32Array, bit-exact (NaN payloads kept). */
function f32LeBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, 4);
  return bytes;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    bytes.subarray(i, i + width).reverse();
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array || ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "string") return `string ${q(v)}`;
  if (typeof v === "object") return "an object";
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${v}`;
  return typeof v;
}

/** A description for an error message, built only when the error happens. */
type What = string | (() => string);
const w = (what: What): string => typeof what === "string" ? what : what();

interface RawEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * A schema-directed parser for the safetensors header: one object whose values are either the
 * `__metadata__` string map or tensor entries with exactly `dtype`, `shape` and `data_offsets`.
 * It never recurses, rejects duplicate keys at every level, and keeps integers exact.
 */
class HeaderParser {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(problem: string): never {
    throw new SafetensorsError(
      `Invalid safetensors: header is not valid JSON for the format: ${problem} ` +
        `at header character ${this.i}`,
    );
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
    this.i = i;
  }

  /** Describes what sits at the cursor, for error messages. */
  private found(): string {
    if (this.i >= this.s.length) return "end of header";
    const c = this.s[this.i];
    if (c === "{") return "an object";
    if (c === "[") return "an array";
    if (c === '"') return "a string";
    if (c === "-" || (c >= "0" && c <= "9")) return "a number";
    if (/^(true|false)/.test(this.s.slice(this.i, this.i + 5))) return "a boolean";
    if (this.s.startsWith("null", this.i)) return "null";
    return q(String.fromCodePoint(this.s.codePointAt(this.i)!));
  }

  private expect(ch: string, what: What): void {
    if (this.s[this.i] !== ch) this.fail(`expected ${w(what)} but found ${this.found()}`);
    this.i++;
  }

  private string(what: What): string {
    const s = this.s;
    if (s[this.i] !== '"') this.fail(`expected ${w(what)} but found ${this.found()}`);
    const start = this.i;
    let j = start + 1;
    let escaped = false;
    for (;;) {
      if (j >= s.length) {
        this.i = start;
        this.fail("unterminated string");
      }
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        j += 2;
        continue;
      }
      if (c < 0x20) {
        this.i = j;
        this.fail("unescaped control character in string");
      }
      j++;
    }
    this.i = j + 1;
    if (!escaped) return s.slice(start + 1, j);
    let value: string;
    try {
      value = JSON.parse(s.slice(start, j + 1));
    } catch {
      this.i = start;
      this.fail("invalid escape sequence in string");
    }
    if (!value.isWellFormed()) {
      this.i = start;
      this.fail("string escape encodes a lone UTF-16 surrogate");
    }
    return value;
  }

  /** Parses a JSON number that must be a non-negative safe integer. */
  private integer(what: What): number {
    const s = this.s;
    const start = this.i;
    const digit = (k: number) => {
      const c = s.charCodeAt(k);
      return c >= 0x30 && c <= 0x39;
    };
    // Scan the whole JSON number token: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    let j = start;
    if (s.charCodeAt(j) === 0x2d) j++;
    if (!digit(j)) this.fail(`expected ${w(what)} but found ${this.found()}`);
    if (s.charCodeAt(j) === 0x30) j++;
    else while (digit(j)) j++;
    const intEnd = j;
    if (s.charCodeAt(j) === 0x2e && digit(j + 1)) {
      j += 2;
      while (digit(j)) j++;
    }
    const e = s.charCodeAt(j);
    if (e === 0x65 || e === 0x45) {
      let k = j + 1;
      const sign = s.charCodeAt(k);
      if (sign === 0x2b || sign === 0x2d) k++;
      if (digit(k)) {
        j = k + 1;
        while (digit(j)) j++;
      }
    }
    const tok = () => s.slice(start, Math.min(j, start + 30)) + (j - start > 30 ? "..." : "");
    if (s.charCodeAt(start) === 0x2d) this.fail(`${w(what)} ${tok()} is negative`);
    if (j !== intEnd) this.fail(`${w(what)} ${tok()} is not an integer`);
    let v = 0;
    for (let k = start; k < j && v <= Number.MAX_SAFE_INTEGER; k++) {
      v = v * 10 + (s.charCodeAt(k) - 0x30);
    }
    if (v > Number.MAX_SAFE_INTEGER) this.fail(`${w(what)} ${tok()} is over 2^53 - 1`);
    this.i = j;
    return v;
  }

  private intList(what: What): number[] {
    this.expect("[", () => `a list for ${w(what)}`);
    const out: number[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.integer(what));
      this.ws();
      if (this.s[this.i] === ",") {
        this.i++;
        continue;
      }
      this.expect("]", () => `',' or ']' in ${w(what)}`);
      return out;
    }
  }

  /** Parses `{ key: value, ... }`, calling `onMember` with the cursor at each value. */
  private object(what: What, onMember: (key: string) => void): void {
    this.expect("{", what);
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string("a string key");
      this.ws();
      this.expect(":", "':' after a key");
      this.ws();
      onMember(key);
      this.ws();
      if (this.s[this.i] === ",") {
        this.i++;
        continue;
      }
      this.expect("}", "',' or '}' in an object");
      return;
    }
  }

  private metadata(): Record<string, string> {
    const out: Record<string, string> = {};
    const seen = new Set<string>();
    this.object("an object of strings for __metadata__", (key) => {
      if (seen.has(key)) this.fail(`duplicate metadata key ${q(key)}`);
      seen.add(key);
      if (this.s[this.i] !== '"') {
        this.fail(`metadata value for key ${q(key)} must be a string, found ${this.found()}`);
      }
      const value = this.string("a string");
      // defineProperty so that a key such as "__proto__" becomes an ordinary own property.
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
    return out;
  }

  private entry(name: string): RawEntry {
    let dtype: Dtype | undefined;
    let shape: number[] | undefined;
    let offsets: number[] | undefined;
    const start = this.i;
    this.object(() => `an object for tensor ${q(name)}`, (field) => {
      if (field === "dtype") {
        if (dtype !== undefined) this.fail(`duplicate field 'dtype' in tensor ${q(name)}`);
        const d = this.string(() => `a dtype string for tensor ${q(name)}`);
        if (!isDtype(d)) this.fail(`tensor ${q(name)} has unknown dtype ${q(d)}`);
        dtype = d;
      } else if (field === "shape") {
        if (shape !== undefined) this.fail(`duplicate field 'shape' in tensor ${q(name)}`);
        shape = this.intList(() => `shape dimension of tensor ${q(name)}`);
      } else if (field === "data_offsets") {
        if (offsets !== undefined) {
          this.fail(`duplicate field 'data_offsets' in tensor ${q(name)}`);
        }
        const at = this.i;
        offsets = this.intList(() => `data offset of tensor ${q(name)}`);
        if (offsets.length !== 2) {
          this.i = at;
          this.fail(`tensor ${q(name)} data_offsets must have 2 entries, not ${offsets.length}`);
        }
      } else {
        this.fail(`unknown field ${q(field)} in tensor ${q(name)}`);
      }
    });
    const missing = dtype === undefined
      ? "dtype"
      : shape === undefined
      ? "shape"
      : offsets === undefined
      ? "data_offsets"
      : undefined;
    if (missing !== undefined) {
      this.i = start;
      this.fail(`tensor ${q(name)} is missing field '${missing}'`);
    }
    return { name, dtype: dtype!, shape: shape!, begin: offsets![0], end: offsets![1] };
  }

  parse(): { entries: RawEntry[]; metadata: Record<string, string> } {
    const entries: RawEntry[] = [];
    let metadata: Record<string, string> | undefined;
    const seen = new Set<string>();
    this.ws();
    this.object("a JSON object", (key) => {
      if (seen.has(key)) this.fail(`duplicate key ${q(key)}`);
      seen.add(key);
      if (key === "__metadata__") metadata = this.metadata();
      else entries.push(this.entry(key));
    });
    this.ws();
    if (this.i !== this.s.length) this.fail(`trailing ${this.found()} after the header object`);
    return { entries, metadata: metadata ?? {} };
  }
}

/**
 * Parses and validates safetensors bytes.
 *
 * Every check of the reference reader runs before any tensor is handed out: the header size
 * and bounds, strict UTF-8, the JSON schema (no duplicate keys, no unknown fields, only
 * non-negative safe integers, known dtypes, string-only metadata), contiguous non-overlapping
 * offsets that exactly cover the data buffer, and byte sizes that match each shape. Leading and
 * trailing JSON whitespace, zero-sized tensors, rank-0 shapes and any key order are accepted.
 * The returned tensor bytes are views into `bytes` (no tensor data is copied).
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
    const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new SafetensorsError(
      `Invalid safetensors: unexpected failure while reading: ${
        detail.split(/[\r\n\u2028\u2029]/)[0]
      }`,
      { cause: e },
    );
  }
}

function decode(
  bytes: Uint8Array,
): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`Invalid safetensors: ${msg}`);
  };
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array, got ${describe(bytes)}`);
  // 1. HeaderTooSmall
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, too small for the 8-byte header length`);
  }
  // 2. HeaderTooLarge
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    fail(`header length ${n64} is over the limit of ${MAX_HEADER_SIZE} bytes`);
  }
  const n = Number(n64);
  // 3. InvalidHeaderLength
  if (8 + n > bytes.length) {
    fail(`header length ${n} runs past the end of the ${bytes.length}-byte file`);
  }
  // 4. InvalidHeader (UTF-8). ignoreBOM keeps a byte-order mark so the JSON parser rejects it.
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + n),
    );
  } catch {
    return fail("header is not valid UTF-8");
  }
  // 5. InvalidHeaderDeserialization
  const { entries, metadata } = new HeaderParser(text).parse();
  // 6. InvalidOffset / ValidationOverflow / MisalignedSlice / TensorInvalidInfo
  entries.sort((a, b) => (a.begin - b.begin) || (a.end - b.end));
  let start = 0;
  for (const e of entries) {
    const offs = `[${e.begin}, ${e.end}]`;
    if (e.end < e.begin) {
      fail(`tensor ${q(e.name)} has data_offsets ${offs} that end before they begin`);
    }
    if (e.begin !== start) {
      fail(
        e.begin < start
          ? `tensor ${q(e.name)} has data_offsets ${offs} overlapping the data before byte ${start}`
          : `tensor ${q(e.name)} has data_offsets ${offs} leaving a gap after byte ${start}`,
      );
    }
    start = e.end;
    const count = elementCount(e.shape);
    if (count === null) {
      return fail(`tensor ${q(e.name)} shape ${showShape(e.shape)} overflows the element count`);
    }
    const bits = count * BigInt(DTYPE_BITS[e.dtype]);
    if (bits > U64_MAX) {
      fail(`tensor ${q(e.name)} shape ${showShape(e.shape)} of ${e.dtype} overflows the bit size`);
    }
    if (bits % 8n !== 0n) {
      fail(
        `tensor ${q(e.name)} of ${e.dtype} with shape ${showShape(e.shape)} has ${bits} bits, ` +
          `not a whole number of bytes`,
      );
    }
    if (BigInt(e.end - e.begin) !== bits / 8n) {
      fail(
        `tensor ${q(e.name)} has data_offsets ${offs} but shape ${showShape(e.shape)} of ` +
          `${e.dtype} needs ${bits / 8n} bytes`,
      );
    }
  }
  // 7. MetadataIncompleteBuffer
  const dataLength = bytes.length - 8 - n;
  if (start !== dataLength) {
    fail(
      `data buffer is ${dataLength} bytes but the tensors cover ${start} ` +
        (start < dataLength ? "(trailing bytes after the last tensor)" : "(file is truncated)"),
    );
  }
  const base = 8 + n;
  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      bytes: bytes.subarray(base + e.begin, base + e.end),
    });
  }
  return { tensors, metadata };
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
  if (entry.dtype !== "F32") {
    throw new SafetensorsError(
      `Invalid safetensors: tensor ${q(name)} has dtype ${entry.dtype}, expected F32`,
    );
  }
  const shape: unknown = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(
      `Invalid safetensors: tensor ${q(name)} shape is not a list of non-negative safe integers`,
    );
  }
  const count = elementCount(entry.shape);
  if (count === null || BigInt(entry.bytes.length) !== count * 4n) {
    throw new SafetensorsError(
      `Invalid safetensors: tensor ${q(name)} has ${entry.bytes.length} bytes but shape ` +
        `${showShape(entry.shape)} of F32 needs ${count === null ? "more" : count * 4n}`,
    );
  }
  const copy = entry.bytes.slice();
  if (!LITTLE_ENDIAN_HOST) swapBytes(copy, 4);
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}
