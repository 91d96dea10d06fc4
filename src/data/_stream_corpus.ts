// openCorpus for a Blob or a ReadableStream of bytes (a page's dropped File): one pass, since a
// stream cannot be read twice. Each chunk goes through _utf8_stream.ts's decoder twice, in
// memory: countChunk finds its new characters (numbered as they first come), then encodeChunk
// writes their ids to an IdSink (memory, or a page's OPFS file; _id_store.ts), whose width
// grows with the vocabulary. At the end the ids are renumbered in code-point order, so the
// corpus is exactly the one a path would give. A bad byte is named as decodeText names it: its
// line and column are counted from the ids before it (each LF, CRLF or lone CR is one LF id).

import type { TokenHeader } from "./_token_file.ts";
import { widthFor } from "./_token_file.ts";
import { countChunk, encodeChunk, producedCount, walkChunks } from "./_utf8_stream.ts";
import { type IdSink, memorySink, opfsOffered, opfsSink } from "./_id_store.ts";
import { TextError } from "./text.ts";

/** What streamCorpus takes of openCorpus's options (corpus.ts's CorpusOptions), and the chunk. */
export interface StreamOptions {
  name?: string;
  onProgress?: (bytes: number, total: number | undefined) => void;
  storage?: "opfs" | "memory";
  chunk: number;
}

/** Reads `source` into a store of ids and the header that describes them. */
export async function streamCorpus(
  source: Blob | ReadableStream<Uint8Array>,
  options: StreamOptions,
): Promise<{ header: TokenHeader; store: IdSink }> {
  const isBlob = typeof Blob !== "undefined" && source instanceof Blob;
  if (!isBlob && !(source instanceof ReadableStream)) {
    throw new TypeError(
      "Cannot open the corpus: expected a path, a URL, a Blob or a ReadableStream, got " +
        (source === null ? "null" : typeof source),
    );
  }
  const file = isBlob ? source as File : null;
  const name = options.name ??
    (file ? (typeof file.name === "string" && file.name) || "the blob" : "the stream");
  const storage = options.storage ?? (opfsOffered() ? "opfs" : "memory");
  if (storage === "opfs" && !opfsOffered()) {
    throw new TypeError(
      "Cannot open the corpus in OPFS: this context has no synchronous OPFS access (a page's " +
        'dedicated Worker has): use storage: "memory"',
    );
  }
  const total = file ? file.size : undefined;
  const sink = storage === "opfs" ? await opfsSink(name) : memorySink(name, total);
  try {
    const stream = file ? file.stream() : source as ReadableStream<Uint8Array>;
    const read = await encode(stream, name, sink, options, total);
    const header: TokenHeader = {
      version: 1,
      width: sink.width,
      count: sink.count,
      vocab: Array.from(read.codePoints, (cp) => String.fromCodePoint(cp)).join(""),
      source: { size: read.size, mtimeMs: file?.lastModified ?? 0, hash: "" },
      lowercase: false,
    };
    return { header, store: sink };
  } catch (error) {
    sink.discard();
    if (error instanceof TextError || error instanceof TypeError) throw error;
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new TextError(`Cannot read ${name}: ${reason}`);
  }
}

async function encode(
  stream: ReadableStream<Uint8Array>,
  name: string,
  sink: IdSink,
  options: StreamOptions,
  total: number | undefined,
): Promise<{ size: number; codePoints: Int32Array }> {
  const chunk = options.chunk;
  const reader = stream.getReader();
  const ids = new Uint32Array(chunk + 4);
  const counts = new Float64Array(0x110000);
  const ascii = new Int32Array(0x80); // a chunk's ASCII counts, folded into counts after it
  const table = new Int32Array(0x110000).fill(-1);
  const wide: number[] = [];
  const order: number[] = []; // the code point of each id, as first come
  let seenWide = 0;
  let pending: Uint8Array = new Uint8Array(0);
  let done = false;
  let size = 0;
  let read = 0;
  // Fills buf[at, at + want) from the stream's chunks; fewer bytes only at its end.
  const fill = async (buf: Uint8Array, at: number, want: number) => {
    let got = 0;
    while (got < want && !done) {
      if (pending.length === 0) {
        const next = await reader.read();
        if (next.done) {
          done = true;
          break;
        }
        if (!(next.value instanceof Uint8Array)) {
          throw new TypeError(`Cannot read ${name}: the stream must give Uint8Array chunks`);
        }
        pending = next.value;
        size += pending.length;
      }
      const take = Math.min(pending.length, want - got);
      buf.set(pending.subarray(0, take), at + got);
      got += take;
      pending = pending.subarray(take);
    }
    return got;
  };
  // One pass: each chunk counted (to meet its new characters), then encoded with their ids.
  const step = (buf: Uint8Array, i: number, end: number, eof: boolean, words: Uint32Array) => {
    const stop = countChunk(buf, i, end, eof, words, ascii, counts, wide);
    for (let b = 0; b < 0x80; b++) counts[b] += ascii[b];
    ascii.fill(0);
    for (let cp = 0; cp < 0x80; cp++) {
      if (counts[cp] > 0 && table[cp] < 0) table[cp] = order.push(cp) - 1;
    }
    for (; seenWide < wide.length; seenWide++) {
      table[wide[seenWide]] = order.push(wide[seenWide]) - 1;
    }
    const width = widthFor(order.length);
    if (width > sink.width) sink.widen(width as 2 | 4);
    encodeChunk(buf, i, end, eof, words, table, ids);
    sink.append(ids, producedCount());
    return stop;
  };
  try {
    await walkChunks(
      fill,
      chunk,
      step,
      (bytes) => {
        read += bytes.length;
        options.onProgress?.(read, total);
      },
      (offset, byte) => invalid(sink, name, table[0x0a], offset, byte),
    );
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (sink.count === 0) {
    throw new TextError(`Cannot read ${name}: the file has no characters: give a non-empty text`);
  }
  // Ids in code-point order: Vocab.fromText's, and a token file's.
  const sorted = order.slice().sort((a, b) => a - b);
  const rank = new Map(sorted.map((cp, id) => [cp, id]));
  const map = Uint32Array.from(order, (cp) => rank.get(cp)!);
  if (map.some((id, i) => id !== i)) sink.remap(map);
  return { size, codePoints: Int32Array.from(sorted) };
}

// decodeText's message for the bad byte at `offset`, its line and column counted from the ids
// before it (`lf`: the id of LF, or -1 if none came).
function invalid(sink: IdSink, name: string, lf: number, offset: number, byte: number): TextError {
  let line = 1;
  let lineStart = 0;
  const span = sink.open();
  const block = 1 << 20;
  const bytes = new Uint8Array(block * sink.width);
  for (let start = 0; start < sink.count && lf >= 0; start += block) {
    const k = Math.min(block, sink.count - start);
    span.read(start * sink.width, bytes.subarray(0, k * sink.width));
    const ids = sink.width === 1
      ? bytes
      : sink.width === 2
      ? new Uint16Array(bytes.buffer, 0, k)
      : new Uint32Array(bytes.buffer, 0, k);
    for (let i = 0; i < k; i++) {
      if (ids[i] === lf) {
        line++;
        lineStart = start + i + 1;
      }
    }
  }
  span.close();
  const hex = byte.toString(16).toUpperCase().padStart(2, "0");
  return new TextError(
    `Invalid UTF-8 in ${name}: byte 0x${hex} at offset ${offset} ` +
      `(line ${line}, column ${sink.count - lineStart + 1}) does not start a valid sequence`,
  );
}
