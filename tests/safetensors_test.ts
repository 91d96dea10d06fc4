import assert from "node:assert/strict";
import {
  decodeSafetensors,
  type Dtype,
  encodeSafetensors,
  f32Values,
  SafetensorsError,
  type TensorEntry,
} from "../src/io/safetensors.ts";
import { rng } from "./_helpers.ts";

const enc = new TextEncoder();

/** Builds a file from a raw header string (no padding) and a data buffer. */
function rawFile(header: string, data: Uint8Array | number = 0): Uint8Array {
  const h = enc.encode(header);
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Asserts that fn throws a one-line SafetensorsError whose message matches re. */
function throwsSt(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
    assert.equal(e.name, "SafetensorsError");
    assert.match(e.message, re);
    assert.ok(!/[\n\r]/.test(e.message), `multi-line message: ${e.message}`);
    return true;
  });
}

const decode = (b: Uint8Array) => () => decodeSafetensors(b);

const i32File = (extra = "") =>
  rawFile(
    `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}${extra}}`,
    new Uint8Array(16).map((_, i) => i),
  );

// ---------------------------------------------------------------------------------------------
// Round trip and golden bytes

Deno.test("safetensors: round trip of several tensors, metadata, zero-sized and rank-0", () => {
  const w = new Float32Array([1, -2.5, 3, 4, NaN, Infinity]);
  const tensors: Record<string, { shape: number[]; data: Float32Array } | TensorEntry> = {
    "fc.weight": { shape: [2, 3], data: w },
    "fc.bias": { shape: [3], data: new Float32Array([0.5, 0.25, -0.125]) },
    "empty": { shape: [4, 0], data: new Float32Array(0) },
    "scalar": { shape: [], data: new Float32Array([42]) },
    "ids": { dtype: "I32", shape: [2], bytes: new Uint8Array([1, 0, 0, 0, 255, 255, 255, 255]) },
    "mask": { dtype: "U8", shape: [3], bytes: new Uint8Array([1, 0, 1]) },
    "ünï/códé": { shape: [1], data: new Float32Array([7]) },
  };
  const meta = { format: "pt", "note": 'quotes " and \\ and\nnewline', ["__proto__"]: "x" };
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true });
  }
  const bytes = encodeSafetensors(tensors, metadata);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const { tensors: got, metadata: gotMeta } = decodeSafetensors(bytes);
  assert.deepEqual(Object.keys(gotMeta).sort(), ["__proto__", "format", "note"]);
  assert.equal(gotMeta.note, meta.note);
  assert.equal(Object.getOwnPropertyDescriptor(gotMeta, "__proto__")?.value, "x");
  assert.equal(got.size, Object.keys(tensors).length);
  for (const [name, t] of Object.entries(tensors)) {
    const e = got.get(name)!;
    assert.ok(e, name);
    assert.deepEqual(e.shape, t.shape);
    if ("dtype" in t) {
      assert.equal(e.dtype, t.dtype);
      assert.deepEqual([...e.bytes], [...t.bytes]);
    } else {
      assert.equal(e.dtype, "F32");
      assert.deepEqual(f32Values(e, name), t.data);
    }
  }
  // Writer order: alignment descending (F32, I32, U8), then name.
  assert.deepEqual([...got.keys()], [
    "empty",
    "fc.bias",
    "fc.weight",
    "scalar",
    "ünï/códé",
    "ids",
    "mask",
  ]);
  // Encoding is deterministic and re-encoding the decoded tensors gives the same bytes.
  const again = encodeSafetensors(Object.fromEntries(got), gotMeta);
  assert.deepEqual(again, bytes);
});

Deno.test("safetensors: golden bytes of test_serialization (attn.0, N=64)", () => {
  const data = new Float32Array([0, 1, 2, 3, 4, 5]);
  const bytes = encodeSafetensors({ "attn.0": { shape: [1, 2, 3], data } });
  const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  assert.equal(header.length, 64);
  const le = new Uint8Array(24);
  const dv = new DataView(le.buffer);
  for (let i = 0; i < 6; i++) dv.setFloat32(4 * i, i, true);
  assert.deepEqual(
    bytes,
    concat(new Uint8Array([64, 0, 0, 0, 0, 0, 0, 0]), enc.encode(header), le),
  );
});

Deno.test("safetensors: golden bytes of test_empty (empty dict, framework metadata)", () => {
  assert.deepEqual(
    encodeSafetensors({}),
    new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]),
  );
  const withMeta = encodeSafetensors({}, { framework: "pt" });
  const header = '{"__metadata__":{"framework":"pt"}}' + " ".repeat(5);
  assert.equal(header.length, 40);
  assert.deepEqual(
    withMeta,
    concat(new Uint8Array([40, 0, 0, 0, 0, 0, 0, 0]), enc.encode(header)),
  );
  assert.deepEqual(decodeSafetensors(withMeta).metadata, { framework: "pt" });
  assert.equal(decodeSafetensors(encodeSafetensors({})).tensors.size, 0);
});

// ---------------------------------------------------------------------------------------------
// Bad-input checklist (docs/checkpoints.md, "What a loader rejects", items 1-15)

Deno.test("safetensors bad input 1: under 8 bytes -> header too small", () => {
  throwsSt(decode(new Uint8Array(0)), /^Invalid safetensors: file is 0 bytes, too small/);
  throwsSt(decode(new Uint8Array(7)), /file is 7 bytes, too small/);
});

Deno.test("safetensors bad input 2: N ~ 1.8e19 -> header too large", () => {
  const b = new Uint8Array([0x3c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7b, 0x7d]);
  throwsSt(decode(b), /header length 1844\d+ is over the limit of 100000000 bytes/);
  const justOver = new Uint8Array(8);
  new DataView(justOver.buffer).setBigUint64(0, 100_000_001n, true);
  throwsSt(decode(justOver), /header length 100000001 is over the limit/);
});

Deno.test("safetensors bad input 3: N past the end -> invalid header length", () => {
  throwsSt(
    decode(new Uint8Array([0x3c, 0, 0, 0, 0, 0, 0, 0])),
    /header length 60 runs past the end of the 8-byte file/,
  );
  // attacks/safetensors_abuse_attempt_1.py: N rewritten to 1000 on a small file.
  const f = i32File();
  new DataView(f.buffer).setBigUint64(0, 1000n, true);
  throwsSt(decode(f), new RegExp(`header length 1000 runs past the end of the ${f.length}-byte`));
});

Deno.test("safetensors bad input 4: non-UTF-8 header", () => {
  throwsSt(decode(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0xff])), /header is not valid UTF-8/);
  // An overlong encoding and a UTF-8-encoded surrogate are also invalid.
  throwsSt(decode(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xaf])), /not valid UTF-8/);
  const surrogate = new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 0xed, 0xa0, 0x80]);
  throwsSt(decode(surrogate), /not valid UTF-8/);
});

Deno.test("safetensors bad input 5: header '{' -> not JSON", () => {
  // The JSON.parse message (V8's wording) follows the prefix, escaped to one line.
  throwsSt(decode(rawFile("{")), /^Invalid safetensors: header is not valid JSON: .*position 1/);
  throwsSt(decode(rawFile("[]")), /header is not a JSON object \(got an array\)/);
  throwsSt(decode(rawFile('"{}"')), /header is not a JSON object \(got string '\{\}'\)/);
  throwsSt(decode(rawFile("{} x")), /header is not valid JSON: .*after JSON at position 3/);
  throwsSt(decode(rawFile("{}{}")), /header is not valid JSON: .*after JSON at position 2/);
  throwsSt(decode(rawFile('{"a":1,}')), /header is not valid JSON/);
  throwsSt(decode(rawFile('{"a":1}')), /tensor 'a' must be an object, got number 1$/);
  throwsSt(decode(rawFile("\uFEFF{}")), /header is not valid JSON: .*'\\ufeff'/);
  // A raw newline inside the quoted source in V8's message is escaped.
  throwsSt(decode(rawFile('{"a":\n x}')), /not valid JSON: Unexpected token 'x', .*\\n x/);
});

Deno.test("safetensors bad input 6: overlapping offsets (test_json_attack) -> invalid offset", () => {
  const entries = (count: number) =>
    Array.from(
      { length: count },
      (_, i) => `"weight_${i}":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`,
    ).join(",");
  throwsSt(
    decode(rawFile(`{${entries(10)}}`, 16)),
    /tensor 'weight_\d' has data_offsets \[0, 16\] overlapping the data before byte 16/,
  );
  // abuse_attempt_3: the same with 100k entries.
  throwsSt(decode(rawFile(`{${entries(100_000)}}`, 16)), /overlapping/);
  // A gap and reversed offsets are invalid offsets too.
  throwsSt(
    decode(rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', 2)),
    /tensor 'a' has data_offsets \[1, 2\] leaving a gap after byte 0/,
  );
  throwsSt(
    decode(rawFile('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4)),
    /data_offsets \[4, 0\] that end before they begin/,
  );
});

Deno.test("safetensors bad input 7: trailing or missing data -> incomplete buffer", () => {
  assert.equal(decodeSafetensors(i32File()).tensors.get("test")!.bytes.length, 16);
  const polyglot = concat(i32File(), enc.encode("extra_bogus_data_for_polyglot_file"));
  throwsSt(decode(polyglot), /data buffer is 50 bytes but the tensors cover 16 \(trailing bytes/);
  const f = i32File();
  throwsSt(
    decode(f.subarray(0, f.length - 2)),
    /data buffer is 14 bytes but the tensors cover 16 \(file is truncated\)/,
  );
});

Deno.test("safetensors bad input 8: offsets not matching shape -> tensor invalid info", () => {
  throwsSt(
    decode(rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,4]}}', 4)),
    /tensor 'test' has data_offsets \[0, 4\] but shape \[2, 2\] of I32 needs 16 bytes/,
  );
  throwsSt(
    decode(rawFile('{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}', 16)),
    /^Invalid safetensors: tensor 'fc.weight' has data_offsets \[0, 16\] but shape \[2, 3\] of F32 needs 24 bytes$/,
  );
});

Deno.test("safetensors bad input 9: huge shapes -> rejected (unsafe integer / overflow)", () => {
  for (const dim of ["18446744073709551614", "9223372036854775807"]) {
    throwsSt(
      decode(rawFile(`{"test":{"dtype":"I32","shape":[2,${dim}],"data_offsets":[0,16]}}`, 16)),
      new RegExp(`shape dimension of tensor 'test' ${dim} is over 2\\^53 - 1`),
    );
  }
  // Safe dimensions whose product overflows u64 (2^52 * 2^52 * 2^52).
  const d = 2 ** 52;
  throwsSt(
    decode(rawFile(`{"t":{"dtype":"U8","shape":[${d},${d},${d}],"data_offsets":[0,0]}}`)),
    /tensor 't' shape \[\d+, \d+, \d+\] overflows the element count/,
  );
  // As with the reference's checked_mul fold, a running product over u64 fails even before a 0.
  throwsSt(
    decode(rawFile(`{"t":{"dtype":"U8","shape":[${d},${d},0],"data_offsets":[0,0]}}`)),
    /overflows the element count/,
  );
  throwsSt(
    () => encodeSafetensors({ t: { shape: [d, d, 0], data: new Float32Array(0) } }),
    /^Cannot encode safetensors: tensor 't' shape \[\d+, \d+, 0\] overflows the u64 element count$/,
  );
  // A running product over 2^53 but within u64 is fine when a later dimension is 0.
  assert.deepEqual(
    decodeSafetensors(rawFile(`{"t":{"dtype":"U8","shape":[${d},2048,0],"data_offsets":[0,0]}}`))
      .tensors.get("t")!.shape,
    [d, 2048, 0],
  );
  // 2^61 elements fit in u64, but 2^61 * 32 bits do not.
  throwsSt(
    decode(rawFile(`{"t":{"dtype":"I32","shape":[${2 ** 40},${2 ** 21}],"data_offsets":[0,0]}}`)),
    /tensor 't' shape \[1099511627776, 2097152\] of I32 overflows the bit size/,
  );
});

Deno.test("safetensors bad input 10: F4 [1,3] (12 bits) -> rejected, F4 is unsupported", () => {
  // charlstm reads and writes F32, I32 and U8 only, so the sub-byte dtypes never get as far as
  // the misaligned-slice check.
  throwsSt(
    decode(rawFile('{"t":{"dtype":"F4","shape":[1,3],"data_offsets":[0,2]}}', 2)),
    /^Invalid safetensors: tensor 't' has unsupported dtype 'F4': charlstm reads and writes F32, F16, I32, U8$/,
  );
  throwsSt(
    () =>
      encodeSafetensors({ t: { dtype: "F4" as Dtype, shape: [1, 3], bytes: new Uint8Array(2) } }),
    /^Cannot encode safetensors: tensor 't' has unsupported dtype 'F4'/,
  );
});

Deno.test("safetensors bad input 11: writer refuses a header over 100,000,000 bytes", () => {
  throwsSt(
    () => encodeSafetensors({}, { big: "a".repeat(100_000_000) }),
    /^Cannot encode safetensors: header would be at least 100000003 bytes, over the limit/,
  );
  // Under the cheap bound but over the limit once JSON-escaped (6 bytes per \\u0001).
  throwsSt(
    () => encodeSafetensors({}, { k: "\u0001".repeat(16_666_667) }),
    /^Cannot encode safetensors: header is 100000032 bytes, over the limit of 100000000$/,
  );
});

Deno.test("safetensors bad input 12: non-string metadata value", () => {
  throwsSt(
    decode(rawFile('{"__metadata__":{"unquoted_int":0}}')),
    /metadata value for key 'unquoted_int' must be a string, got number 0$/,
  );
  throwsSt(decode(rawFile('{"__metadata__":null}')), /expected an object of strings/);
  throwsSt(decode(rawFile('{"__metadata__":{"a":["x"]}}')), /got an array$/);
  throwsSt(
    () => encodeSafetensors({}, { n: 5 } as unknown as Record<string, string>),
    /^Cannot encode safetensors: metadata value for key 'n' must be a string, got number 5/,
  );
});

Deno.test("safetensors bad input 13: duplicate keys are rejected", () => {
  const t = (o: number) => `{"dtype":"U8","shape":[2],"data_offsets":[${o},${o + 2}]}`;
  // JSON.parse keeps the last of two duplicates. When the twins repeat the same offsets, what
  // is left still tiles the buffer exactly, so only the explicit duplicate scan catches these.
  throwsSt(
    decode(rawFile(`{"w":${t(0)},"w":${t(0)}}`, 2)),
    /^Invalid safetensors: duplicate key 'w'$/,
  );
  throwsSt(decode(rawFile(`{"w":${t(0)},"v":${t(2)},"w":${t(0)}}`, 4)), /duplicate key 'w'$/);
  // Twins that disagree about the dtype of the same bytes: a parser differential.
  throwsSt(
    decode(rawFile(`{"w":${t(0)},"w" :{"dtype":"I32","shape":[],"data_offsets":[0,4]}}`, 4)),
    /duplicate key 'w'$/,
  );
  // Twins with different offsets would also break the offsets walk; the scan names them first.
  throwsSt(decode(rawFile(`{"w":${t(0)},"v":${t(2)},"w":${t(2)}}`, 4)), /duplicate key 'w'/);
  // The same name spelled with an escape is still a duplicate.
  throwsSt(decode(rawFile(`{"w":${t(0)},"\\u0077":${t(2)}}`, 4)), /duplicate key 'w'/);
  throwsSt(
    decode(rawFile('{"__metadata__":{},"__metadata__":{}}')),
    /duplicate key '__metadata__'/,
  );
  throwsSt(
    decode(rawFile('{"__metadata__":{"a":"1","a":"2"}}')),
    /duplicate key 'a' in '__metadata__'$/,
  );
  throwsSt(
    decode(rawFile('{"w":{"dtype":"U8","dtype":"I8","shape":[0],"data_offsets":[0,0]}}')),
    /duplicate key 'dtype' in 'w'$/,
  );
  // Not duplicates: equal keys in different objects, values equal to keys, and key-like text
  // inside strings.
  const ok = decodeSafetensors(rawFile(
    '{"__metadata__":{"w":"w","dtype":"{\\"w\\":1, \\"w\\":2}"},"w":{"dtype":"U8","shape":[0],' +
      '"data_offsets":[0,0]},"dtype":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
  ));
  assert.deepEqual(ok.metadata, { w: "w", dtype: '{"w":1, "w":2}' });
  assert.deepEqual([...ok.tensors.keys()], ["w", "dtype"]);
});

Deno.test("safetensors bad input 14: writer refuses a tensor named __metadata__", () => {
  throwsSt(
    () => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }),
    /^Cannot encode safetensors: the tensor name '__metadata__' is reserved/,
  );
});

Deno.test("safetensors bad input 15: metadata with zero tensors is valid JSON", () => {
  const bytes = encodeSafetensors({}, { a: "1", b: "2" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.equal(header.trimEnd(), '{"__metadata__":{"a":"1","b":"2"}}');
  assert.deepEqual(JSON.parse(header), { __metadata__: { a: "1", b: "2" } });
  assert.deepEqual(decodeSafetensors(bytes), { tensors: new Map(), metadata: { a: "1", b: "2" } });
});

Deno.test("safetensors: stricter-than-reference schema checks", () => {
  const e = (body: string, data = 0) => decode(rawFile(`{"t":{${body}}}`, data));
  throwsSt(
    e('"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1', 4),
    /unknown field 'extra' in tensor 't'/,
  );
  throwsSt(e('"dtype":"F32","shape":[1]', 4), /tensor 't' is missing field 'data_offsets'/);
  throwsSt(e('"dtype":"F33","shape":[1],"data_offsets":[0,4]', 4), /unsupported dtype 'F33'/);
  throwsSt(e('"dtype":32,"shape":[1],"data_offsets":[0,4]', 4), /unsupported dtype number 32/);
  throwsSt(e('"dtype":"F32","shape":3,"data_offsets":[0,4]', 4), /expected a list .* number 3/);
  throwsSt(e('"dtype":"F32","shape":[1.0],"data_offsets":[0,4]', 4), /1\.0 is not an integer/);
  throwsSt(e('"dtype":"F32","shape":[1e0],"data_offsets":[0,4]', 4), /1e0 is not an integer/);
  throwsSt(e('"dtype":"F32","shape":[-1],"data_offsets":[0,4]', 4), /-1 is negative/);
  throwsSt(
    e('"dtype":"F32","shape":[1],"data_offsets":[0,4,8]', 4),
    /data_offsets must have 2 entries, not 3/,
  );
  throwsSt(
    e(`"dtype":"U8","shape":[0],"data_offsets":[0,${2 ** 53}]`),
    /data offset of tensor 't' 9007199254740992 is over 2\^53 - 1/,
  );
  throwsSt(
    decode(rawFile('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}')),
    /lone UTF-16 surrogate/,
  );
  throwsSt(decode(rawFile('{"a\\x":{}}')), /not valid JSON: Bad escaped character/);
  throwsSt(decode(rawFile('{"a\tb":{}}')), /not valid JSON: Bad control character/);
  throwsSt(() => decodeSafetensors([1, 2] as unknown as Uint8Array), /expected a Uint8Array/);
});

Deno.test("safetensors: writer refuses inconsistent tensors", () => {
  throwsSt(
    () => encodeSafetensors({ w: { shape: [2, 3], data: new Float32Array(5) } }),
    /^Cannot encode safetensors: tensor 'w' has 5 values but shape \[2, 3\] holds 6$/,
  );
  throwsSt(
    () => encodeSafetensors({ w: { dtype: "I32", shape: [2], bytes: new Uint8Array(7) } }),
    /tensor 'w' has 7 bytes but shape \[2\] of I32 needs 8/,
  );
  throwsSt(
    () => encodeSafetensors({ w: { shape: [-1], data: new Float32Array(0) } }),
    /tensor 'w' shape must be a list of non-negative safe integers, got \[-1\]/,
  );
  throwsSt(
    () =>
      encodeSafetensors({
        w: { dtype: "X" as "F32", shape: [0], bytes: new Uint8Array(0) },
      }),
    /unsupported dtype 'X'/,
  );
  throwsSt(
    () => encodeSafetensors({ "\ud800": { shape: [0], data: new Float32Array(0) } }),
    /lone UTF-16 surrogate/,
  );
});

Deno.test("safetensors: f32Values copies and checks the dtype", () => {
  const bytes = encodeSafetensors({
    a: { dtype: "U8", shape: [1], bytes: new Uint8Array([1]) },
    b: { shape: [2], data: new Float32Array([1.5, -3]) },
  });
  const { tensors } = decodeSafetensors(bytes);
  throwsSt(() => f32Values(tensors.get("a")!, "a"), /tensor 'a' has dtype U8, expected F32/);
  // An unaligned view (offset 1) still decodes.
  const src = new Uint8Array(9);
  src.set(new Uint8Array(new Float32Array([1.5, -3]).buffer), 1);
  assert.deepEqual(
    f32Values({ dtype: "F32", shape: [2], bytes: src.subarray(1) }, "x"),
    new Float32Array([1.5, -3]),
  );
  assert.deepEqual(f32Values(tensors.get("b")!, "b"), new Float32Array([1.5, -3]));
});

Deno.test("safetensors: JSON.parse edge cases: float and huge integers are rejected", () => {
  const e = (shape: string, offsets = "[0,4]") =>
    decode(rawFile(`{"t":{"dtype":"U8","shape":${shape},"data_offsets":${offsets}}}`, 4));
  // JSON.parse reads all of these as numbers; the header's source text decides.
  throwsSt(e("[4.0]"), /shape dimension of tensor 't' 4\.0 is not an integer$/);
  throwsSt(e("[1.5]"), /shape dimension of tensor 't' 1\.5 is not an integer$/);
  throwsSt(e("[4E0]"), /4E0 is not an integer$/);
  throwsSt(e("[0.4e1]"), /0\.4e1 is not an integer$/);
  throwsSt(e("[4]", "[0,4.0]"), /data offset of tensor 't' 4\.0 is not an integer$/);
  throwsSt(e("[4]", "[-0,4]"), /data offset of tensor 't' -0 is negative$/);
  throwsSt(e("[1e400]"), /1e400 is not an integer$/);
  throwsSt(e("[-1e400]"), /-1e400 is negative$/);
  throwsSt(e("[18446744073709551616]"), /18446744073709551616 is over 2\^53 - 1$/);
  // 2^53 + 1 reads as 2^53 in a double; 2^53 - 1 is the largest accepted value.
  throwsSt(e("[9007199254740993]"), /9007199254740993 is over 2\^53 - 1$/);
  throwsSt(e("[1,9007199254740991]"), /needs 9007199254740991 bytes/);
  throwsSt(e(`[${"9".repeat(400)}]`), /'t' 9{27}\.\.\. is over 2\^53 - 1$/);
  throwsSt(e('["4"]'), /shape dimension of tensor 't' must be an integer, got string '4'$/);
  throwsSt(e("[true]"), /must be an integer, got boolean true$/);
  throwsSt(e("[[4]]"), /must be an integer, got an array$/);
  throwsSt(decode(rawFile("1.5")), /header is not a JSON object \(got number 1\.5\)$/);
  throwsSt(decode(rawFile("4")), /header is not a JSON object \(got number 4\)$/);
});

Deno.test("safetensors: JSON.parse edge cases: __metadata__ values must be strings", () => {
  for (
    const [value, got] of [
      ["0", "number 0"],
      ["1.5", "number 1.5"],
      ["1e400", "number 1e400"],
      ["true", "boolean true"],
      ["null", "null"],
      ['{"b":"c"}', "an object"],
      ['["x"]', "an array"],
    ]
  ) {
    throwsSt(
      decode(rawFile(`{"__metadata__":{"ok":"yes","a":${value}}}`)),
      new RegExp(
        `^Invalid safetensors: metadata value for key 'a' must be a string, got ${
          got.replace(/[.]/g, "\\.")
        }$`,
      ),
    );
  }
  throwsSt(decode(rawFile('{"__metadata__":"x"}')), /__metadata__, got string 'x'$/);
  throwsSt(decode(rawFile('{"__metadata__":["x"]}')), /__metadata__, got an array$/);
  throwsSt(decode(rawFile('{"__metadata__":{"k":"\\udc00"}}')), /lone UTF-16 surrogate/);
  // "__proto__" stays an ordinary key.
  const { metadata } = decodeSafetensors(rawFile('{"__metadata__":{"__proto__":"p"}}'));
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
  assert.deepEqual(Object.entries(metadata), [["__proto__", "p"]]);
});

Deno.test("safetensors: dtypes charlstm does not read or write are refused by name", () => {
  for (const dtype of ["BF16", "F64", "I64", "BOOL", "I8", "U64", "f32", ""]) {
    throwsSt(
      decode(rawFile(`{"t":{"dtype":"${dtype}","shape":[0],"data_offsets":[0,0]}}`)),
      new RegExp(
        `^Invalid safetensors: tensor 't' has unsupported dtype '${dtype}': ` +
          "charlstm reads and writes F32, F16, I32, U8$",
      ),
    );
    throwsSt(
      () =>
        encodeSafetensors({ t: { dtype: dtype as Dtype, shape: [0], bytes: new Uint8Array() } }),
      new RegExp(`^Cannot encode safetensors: tensor 't' has unsupported dtype '${dtype}'`),
    );
  }
});

Deno.test("safetensors: absurdly nested JSON is refused with a SafetensorsError", () => {
  const deep = `{"t":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
  throwsSt(decode(rawFile(deep)), /header is nested too deeply/);
  // Shallow nesting reaches the schema check.
  throwsSt(decode(rawFile('{"t":{"dtype":"U8","shape":[[[]]],"data_offsets":[0,0]}}')), /an array/);
});

// ---------------------------------------------------------------------------------------------
// Acceptance cases (item 16)

Deno.test("safetensors accept 16: leading and trailing JSON whitespace", () => {
  for (const h of ["{}\r \t\n", "\t\n{}\r ", " { \n } ", '{ "__metadata__" : { "a" : "b" } }']) {
    const { tensors } = decodeSafetensors(rawFile(h));
    assert.equal(tensors.size, 0);
  }
  assert.deepEqual(decodeSafetensors(rawFile('\n{"__metadata__":{"a":"b"}}\t')).metadata, {
    a: "b",
  });
});

Deno.test("safetensors accept 16: zero-sized, rank-0, and any key order", () => {
  const zero = decodeSafetensors(
    rawFile('{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0,0]}}'),
  );
  assert.deepEqual(zero.tensors.get("test"), {
    dtype: "I32",
    shape: [2, 0],
    bytes: new Uint8Array(),
  });
  const scalar = decodeSafetensors(
    rawFile(
      '{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}',
      new Uint8Array([5, 0, 0, 0]),
    ),
  );
  assert.deepEqual(scalar.tensors.get("test"), {
    dtype: "I32",
    shape: [],
    bytes: new Uint8Array([5, 0, 0, 0]),
  });
  const shuffled = decodeSafetensors(
    rawFile(
      '{"b":{"data_offsets":[4,6],"shape":[2],"dtype":"U8"},' +
        '"__metadata__":{"k":"v"},' +
        '"a":{"shape":[1],"dtype":"F32","data_offsets":[0,4]},' +
        '"c":{"dtype":"U8","shape":[0],"data_offsets":[6,6]}}',
      new Uint8Array([0, 0, 0x80, 0x3f, 8, 9]),
    ),
  );
  assert.deepEqual([...shuffled.tensors.keys()], ["a", "b", "c"]);
  assert.deepEqual(f32Values(shuffled.tensors.get("a")!, "a"), new Float32Array([1]));
  assert.deepEqual([...shuffled.tensors.get("b")!.bytes], [8, 9]);
  assert.deepEqual(shuffled.metadata, { k: "v" });
});

// ---------------------------------------------------------------------------------------------
// Property test: arbitrary bytes never produce anything but success or SafetensorsError

function decodesOrThrowsTyped(b: Uint8Array): boolean {
  try {
    const { tensors } = decodeSafetensors(b);
    for (const t of tensors.values()) assert.ok(t.bytes.buffer === b.buffer);
    return true;
  } catch (e) {
    if (!(e instanceof SafetensorsError)) {
      throw new Error(`non-SafetensorsError for input [${[...b].join(",")}]: ${String(e)}`);
    }
    assert.ok(!/[\n\r]/.test(e.message));
    // The catch-all wrapper must never fire: every failure should be a deliberate check.
    assert.doesNotMatch(e.message, /unexpected failure/);
    return false;
  }
}

Deno.test("safetensors property: 2000 random byte strings decode or throw SafetensorsError", () => {
  const rnd = rng(0x5eed);
  const alphabet = enc.encode('{}[]":, \t\n0123456789-.eE\\uabdfFIU_tshpnr');
  const int = (n: number) => Math.floor(rnd() * n);
  for (let k = 0; k < 2000; k++) {
    const len = int(80);
    const b = new Uint8Array(len);
    const jsonish = k % 2 === 1;
    for (let i = 0; i < len; i++) b[i] = jsonish ? alphabet[int(alphabet.length)] : int(256);
    if (k % 4 !== 0 && len >= 8) {
      // A plausible header length so the parser, not just the size checks, gets exercised.
      new DataView(b.buffer).setBigUint64(0, BigInt(int(len - 7)), true);
    }
    decodesOrThrowsTyped(b);
  }
});

Deno.test("safetensors property: 2000 mutations of a valid file decode or throw SafetensorsError", () => {
  const valid = encodeSafetensors({
    "layer.0.w": { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    "b": { shape: [], data: new Float32Array([1]) },
    "ids": { dtype: "I32", shape: [4], bytes: new Uint8Array(16) },
    "z": { dtype: "U8", shape: [0, 5], bytes: new Uint8Array(0) },
  }, { framework: "pt", "k\u00e9y": "v\u2603" });
  assert.ok(decodesOrThrowsTyped(valid));
  const rnd = rng(42);
  const int = (n: number) => Math.floor(rnd() * n);
  const tokens = [...'{}[]":,0123456789-.eE \\'].map((c) => c.charCodeAt(0));
  let decoded = 0;
  for (let k = 0; k < 2000; k++) {
    let b: Uint8Array = valid.slice();
    const steps = 1 + int(3);
    for (let s = 0; s < steps && b.length > 0; s++) {
      const at = int(b.length);
      switch (int(6)) {
        case 0:
          b[at] ^= 1 << int(8);
          break;
        case 1:
          b[at] = tokens[int(tokens.length)];
          break;
        case 2:
          b = b.slice(0, at);
          break;
        case 3:
          b = concat(b.subarray(0, at), new Uint8Array([int(256)]), b.subarray(at));
          break;
        case 4:
          b = concat(b.subarray(0, at), b.subarray(at + 1 + int(4)));
          break;
        default:
          b[int(Math.min(8, b.length))] = int(256);
      }
    }
    if (decodesOrThrowsTyped(b)) decoded++;
  }
  assert.ok(decoded > 0 && decoded < 2000, `decoded ${decoded} of 2000`);
});
