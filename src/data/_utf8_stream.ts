// Strict UTF-8 over a file read in chunks, with decodeText's normalisation (a leading BOM
// dropped, CRLF and lone CR read as LF): one pass counts the code points (and hashes the
// bytes), a second writes their ids. Neither holds more than a chunk, so a file of any size
// reads in bounded memory; a bad byte is located exactly as decodeText locates it.
//
// Both passes run the same hand-written decoder over bytes rather than TextDecoder: it has to
// find the first bad byte's offset anyway, and a loop that counts (or looks up) each code
// point as it decodes it makes no string at all.

import { TextError } from "./text.ts";

/** Bytes read at a time (4 MiB: large enough that system calls cost nothing). */
export const DEFAULT_CHUNK = 4 << 20;

/** What the first pass learns of a text. */
export interface TextScan {
  /** The file's size in bytes and modification time (ms) when it was read. */
  size: number;
  mtimeMs: number;
  /** SHA-256 of the file's bytes, hex. */
  hash: string;
  /** Code points after normalisation. */
  count: number;
  /** The distinct code points, ascending. */
  codePoints: Int32Array;
  /** How many times each of `codePoints` occurs, in the same order. */
  counts: number[];
}

// Code points the last call of countChunk / encodeChunk produced (a module variable keeps the
// hot loops free of allocations and their results in registers).
let produced = 0;

/** Code points the last call of countChunk / encodeChunk produced (for _stream_corpus.ts). */
export function producedCount(): number {
  return produced;
}

// Counts the code points of buf[i, end) into counts, and lists the non-ASCII ones in wide as
// it first meets them (so that listing the distinct ones does not walk all 0x110000 counts). Returns where it stopped: `end`, or the
// start of a sequence (or a CR) the chunk cuts, to be carried to the next chunk; or ~i for the
// first byte at i that does not start a valid sequence (Unicode Table 3-7, as text.ts checks).
export function countChunk(
  buf: Uint8Array,
  i: number,
  end: number,
  eof: boolean,
  words: Uint32Array,
  ascii: Int32Array,
  counts: Float64Array,
  wide: number[],
): number {
  let n = 0;
  while (i < end) {
    // A run of ASCII other than CR: the loop nearly every byte of most texts takes. Integer
    // counts (folded into `counts` after each chunk, which cannot overflow them) cost half
    // what float ones do.
    const run = i;
    let b = buf[i];
    while (b < 0x80 && b !== 0x0d) {
      ascii[b]++;
      if (++i === end) break;
      if ((i & 3) === 0) {
        // Four bytes at a time while they are all ASCII other than CR.
        while (i + 4 <= end) {
          const x = words[i >> 2];
          if (!plainAscii(x)) break;
          ascii[x & 0xff]++;
          ascii[(x >>> 8) & 0xff]++;
          ascii[(x >>> 16) & 0xff]++;
          ascii[x >>> 24]++;
          i += 4;
        }
        if (i === end) break;
      }
      b = buf[i];
    }
    n += i - run;
    if (i === end) break;
    if (b === 0x0d) {
      if (i + 1 >= end && !eof) break;
      ascii[0x0a]++;
      n++;
      i += i + 1 < end && buf[i + 1] === 0x0a ? 2 : 1;
      continue;
    }
    const cp = multiByte(buf, i, end, eof);
    if (cp === CUT) break;
    if (cp < 0) {
      produced = n;
      return ~i;
    }
    if (counts[cp]++ === 0) wide.push(cp);
    n++;
    i += cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  produced = n;
  return i;
}

// Writes the ids (table[code point]) of buf[i, end) to out from k; returns as countChunk does.
export function encodeChunk(
  buf: Uint8Array,
  i: number,
  end: number,
  eof: boolean,
  words: Uint32Array,
  table: Int32Array,
  out: Uint8Array | Uint16Array | Uint32Array,
): number {
  let k = 0;
  while (i < end) {
    let b = buf[i];
    while (b < 0x80 && b !== 0x0d) {
      out[k++] = table[b];
      if (++i === end) break;
      if ((i & 3) === 0) {
        // Four bytes at a time while they are all ASCII other than CR.
        while (i + 4 <= end) {
          const x = words[i >> 2];
          if (!plainAscii(x)) break;
          out[k] = table[x & 0xff];
          out[k + 1] = table[(x >>> 8) & 0xff];
          out[k + 2] = table[(x >>> 16) & 0xff];
          out[k + 3] = table[x >>> 24];
          k += 4;
          i += 4;
        }
        if (i === end) break;
      }
      b = buf[i];
    }
    if (i === end) break;
    if (b === 0x0d) {
      if (i + 1 >= end && !eof) break;
      out[k++] = table[0x0a];
      i += i + 1 < end && buf[i + 1] === 0x0a ? 2 : 1;
      continue;
    }
    const cp = multiByte(buf, i, end, eof);
    if (cp === CUT) break;
    if (cp < 0 || table[cp] < 0) {
      produced = k;
      return ~i;
    }
    out[k++] = table[cp];
    i += cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  produced = k;
  return i;
}

const CUT = -2;

// Whether the four bytes of a little-endian word are all ASCII and none is CR (the ASCII test
// on the high bits; the classic has-a-zero-byte test on the word XOR four CRs).
function plainAscii(x: number): boolean {
  const y = x ^ 0x0d0d0d0d;
  return (x & 0x80808080) === 0 && ((y - 0x01010101) & ~y & 0x80808080) === 0;
}

// The code point of the multi-byte sequence at buf[i]; -1 if it is not well formed, CUT if the
// chunk ends inside it (and more bytes follow).
function multiByte(buf: Uint8Array, i: number, end: number, eof: boolean): number {
  const b = buf[i];
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  let cp: number;
  if (b >= 0xc2 && b <= 0xdf) {
    need = 1;
    cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    cp = b & 0x0f;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    cp = b & 0x07;
    if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  } else return -1;
  if (i + need >= end) return eof ? -1 : CUT;
  const second = buf[i + 1];
  if (second < lo || second > hi) return -1;
  cp = (cp << 6) | (second & 0x3f);
  for (let k = 2; k <= need; k++) {
    const c = buf[i + k];
    if (c < 0x80 || c > 0xbf) return -1;
    cp = (cp << 6) | (c & 0x3f);
  }
  return cp;
}

// Reads until `buf[at, at + want)` is full or the file ends; returns the bytes read.
async function readInto(
  file: Deno.FsFile,
  buf: Uint8Array,
  at: number,
  want: number,
): Promise<number> {
  let got = 0;
  while (got < want) {
    const n = await file.read(buf.subarray(at + got, at + want));
    if (n === null) break;
    got += n;
  }
  return got;
}

// Walks a file chunk by chunk through `step` (see walkChunks), its bad byte reported with the
// line and column read back from the file.
function walk(
  file: Deno.FsFile,
  name: string,
  chunk: number,
  step: (buf: Uint8Array, i: number, end: number, eof: boolean, words: Uint32Array) => number,
  each: (bytes: Uint8Array, produced: number) => void | Promise<void>,
): Promise<void> {
  return walkChunks(
    (buf, at, want) => readInto(file, buf, at, want),
    chunk,
    step,
    each,
    async (offset, byte) => new TextError(await invalidMessage(file, name, offset, byte)),
  );
}

/**
 * Walks bytes chunk by chunk through `step` (countChunk or encodeChunk bound to its tables, or
 * both), carrying cut sequences over, and skipping a leading BOM: the one loop of a file's two
 * passes and a stream's one. `read` fills `buf[at, at + want)` and returns the bytes read (fewer
 * only at the end); `each` receives the bytes read (to hash them) and the code points each chunk
 * produced; `fail` makes the error for a bad byte at an offset.
 */
export async function walkChunks(
  read: (buf: Uint8Array, at: number, want: number) => Promise<number>,
  chunk: number,
  step: (buf: Uint8Array, i: number, end: number, eof: boolean, words: Uint32Array) => number,
  each: (bytes: Uint8Array, produced: number) => void | Promise<void>,
  fail: (offset: number, byte: number) => Error | Promise<Error>,
): Promise<void> {
  // Whole words, so the fast paths read `buf` four aligned bytes at a time (little-endian: the
  // platforms Deno runs on).
  const buf = new Uint8Array(Math.ceil((chunk + 4) / 4) * 4);
  const words = new Uint32Array(buf.buffer);
  let carry = 0;
  let base = 0; // the file offset of buf[0]
  let bomChecked = false;
  for (;;) {
    const got = await read(buf, carry, chunk);
    const end = carry + got;
    const eof = got < chunk;
    let start = 0;
    if (!bomChecked) {
      if (end < 3 && !eof) {
        carry = end;
        await each(buf.subarray(end - got, end), 0);
        continue;
      }
      bomChecked = true;
      if (end >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
    }
    const stop = step(buf, start, end, eof, words);
    await each(buf.subarray(end - got, end), produced);
    if (stop < 0) throw await fail(base + ~stop, buf[~stop]);
    if (eof) {
      if (stop < end) throw await fail(base + stop, buf[stop]);
      return;
    }
    buf.copyWithin(0, stop, end);
    base += stop;
    carry = end - stop;
  }
}

/**
 * Pass 1: validates `file` as strict UTF-8, counts its code points after normalisation, and
 * hashes its bytes. Throws a TextError for a bad byte (decodeText's message) or no characters.
 */
export async function scanText(
  file: Deno.FsFile,
  name: string,
  chunk = DEFAULT_CHUNK,
): Promise<TextScan> {
  const info = await file.stat();
  const counts = new Float64Array(0x110000);
  // Loaded here, not at the top: node:crypto takes seconds to load, and a run that reuses its
  // token file never hashes.
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  let count = 0;
  const wide: number[] = [];
  const ascii = new Int32Array(0x80);
  await walk(
    file,
    name,
    chunk,
    (buf, i, end, eof, words) => countChunk(buf, i, end, eof, words, ascii, counts, wide),
    (bytes, n) => {
      hash.update(bytes);
      count += n;
      for (let b = 0; b < 0x80; b++) counts[b] += ascii[b];
      ascii.fill(0);
    },
  );
  if (count === 0) {
    throw new TextError(`Cannot read ${name}: the file has no characters: give a non-empty text`);
  }
  const codePoints: number[] = [];
  for (let cp = 0; cp < 0x80; cp++) if (counts[cp] > 0) codePoints.push(cp);
  for (const cp of wide.sort((a, b) => a - b)) codePoints.push(cp);
  return {
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    hash: hash.digest("hex"),
    count,
    codePoints: Int32Array.from(codePoints),
    counts: codePoints.map((cp) => counts[cp]),
  };
}

/**
 * Pass 2: the ids of `file`'s code points (`ids[i]` the id of code point i, ascending), handed
 * to `write` a chunk at a time as `width`-byte integers. Returns the number written. Throws a
 * TextError if the file no longer decodes to the scanned code points.
 */
export async function encodeText(
  file: Deno.FsFile,
  name: string,
  codePoints: Int32Array,
  width: 1 | 2 | 4,
  write: (bytes: Uint8Array) => Promise<void>,
  chunk = DEFAULT_CHUNK,
): Promise<number> {
  const table = new Int32Array(0x110000).fill(-1);
  codePoints.forEach((cp, id) => table[cp] = id);
  // Ids go straight into an array of the file's width: one text's encoding sees one type, so
  // the loop stays monomorphic, and nothing is copied between the loop and the write.
  const ids = width === 1
    ? new Uint8Array(chunk + 4)
    : width === 2
    ? new Uint16Array(chunk + 4)
    : new Uint32Array(chunk + 4);
  let total = 0;
  try {
    await walk(
      file,
      name,
      chunk,
      (buf, i, end, eof, words) => encodeChunk(buf, i, end, eof, words, table, ids),
      (
        _bytes,
        n,
      ) => {
        total += n;
        if (n === 0) return;
        return write(new Uint8Array(ids.buffer, 0, n * width));
      },
    );
  } catch (e) {
    if (e instanceof TextError && e.message.startsWith("Invalid UTF-8")) {
      throw new TextError(`Cannot prepare ${name}: the file changed while it was read: try again`);
    }
    throw e;
  }
  return total;
}

// decodeText's message for the bad byte at `offset`: its line and column come from a second
// read of the bytes before it (LF, CRLF and lone CR each end a line; the column counts code
// points; a leading BOM is not counted).
async function invalidMessage(
  file: Deno.FsFile,
  name: string,
  offset: number,
  byte: number,
): Promise<string> {
  await file.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(Math.min(DEFAULT_CHUNK, Math.max(offset, 1)));
  let line = 1;
  let column = 0;
  let pendingCR = false;
  let pos = 0;
  let bom = false;
  while (pos < offset) {
    const got = await readInto(file, buf, 0, Math.min(buf.length, offset - pos));
    if (got === 0) break;
    for (let i = 0; i < got; i++) {
      const b = buf[i];
      if (pos + i < 3) {
        if (pos + i === 0) bom = b === 0xef;
        else bom &&= b === (pos + i === 1 ? 0xbb : 0xbf);
      }
      if (pendingCR) {
        pendingCR = false;
        if (b !== 0x0a) {
          line++;
          column = 0;
        }
      }
      if (b === 0x0a) {
        line++;
        column = 0;
      } else if (b === 0x0d) pendingCR = true;
      else if ((b & 0xc0) !== 0x80) column++;
    }
    pos += got;
  }
  if (pendingCR) {
    line++;
    column = 0;
  }
  if (bom && offset >= 3 && line === 1) column--;
  const hex = byte.toString(16).toUpperCase().padStart(2, "0");
  return `Invalid UTF-8 in ${name}: byte 0x${hex} at offset ${offset} ` +
    `(line ${line}, column ${column + 1}) does not start a valid sequence`;
}
