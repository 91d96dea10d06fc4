// A corpus too large for one string: the text read once as a stream into a token file (one
// integer per character), then read by position. See _utf8_stream.ts for the reading and
// _token_file.ts for the file and where it is cached.

import { DEFAULT_CHUNK, encodeText, scanText } from "./_utf8_stream.ts";
import {
  cacheName,
  defaultCacheDirs,
  encodeHeader,
  readHeader,
  type TokenHeader,
  widthFor,
} from "./_token_file.ts";
import { TextError } from "./text.ts";
import { Vocab } from "./vocab.ts";
import { fileStore, writableDir } from "./_id_store.ts";
import type { IdSpan, IdStore } from "./id_store.ts";
import { streamCorpus } from "./_stream_corpus.ts";

/** The key of openCorpus's chunk size in bytes: an option for tests only. */
export const CHUNK_SIZE: unique symbol = Symbol("charlstm.chunkSize");
/** The key of a byte count after which writing the token file fails: for tests only. */
export const FAIL_WRITE_AFTER: unique symbol = Symbol("charlstm.failWriteAfter");

/** Options for {@linkcode openCorpus}. */
export interface CorpusOptions {
  /**
   * The folder of token files (default: `$XDG_CACHE_HOME/charlstm/tokens`, else
   * `~/.cache/charlstm/tokens`, else the temporary folder's `charlstm-tokens`: the first one
   * that is writable).
   */
  cacheDir?: string;
  /** Called with a line before and after a text is read into a token file. */
  onNote?: (message: string) => void;
  /** A Blob's or stream's name in messages (default: a File's name, else "the blob" or "the stream"). */
  name?: string;
  /** Called as a Blob or stream is read: the bytes read so far, and all of them where known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /**
   * Where a Blob's or stream's ids go: `"opfs"`, a file of the page's Origin Private File System
   * (a dedicated Worker's synchronous access handle: the ids stay out of memory), or `"memory"`
   * (1, 2 or 4 bytes a character). The default is `"opfs"` where it is offered, else `"memory"`
   * (Deno has no OPFS).
   */
  storage?: "opfs" | "memory";
  /** @ignore */
  [CHUNK_SIZE]?: number;
  /** @ignore */
  [FAIL_WRITE_AFTER]?: number;
}

/**
 * A text encoded once into ids and read by position: its vocabulary (the distinct characters,
 * sorted by code point, exactly `Vocab.fromText(text)`), its length in characters (code points),
 * and any stretch of its ids. Made by {@linkcode openCorpus}: from a path, its ids are in a token
 * file and it holds no open file between reads; from a Blob or a stream, they are in memory, or
 * in a page's dedicated Worker in an Origin Private File System file (see {@linkcode Corpus.close}).
 *
 * @example Reading a corpus by position
 * ```ts
 * import { openCorpus } from "./corpus.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello\r\nworld\n");
 * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
 * console.log(corpus.length, corpus.vocab.chars.length); // 12 8
 * console.log(corpus.text(6, 5)); // world
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Corpus {
  /** The text's path, as given (a Blob's or stream's name). */
  readonly path: string;
  /** The token file ("" where the ids are not in a file of the file system). */
  readonly tokenPath: string;
  /** The text's characters in id order. */
  readonly vocab: Vocab;
  /** Characters (code points) in the text. */
  readonly length: number;
  /** Bytes per id: 1, 2 or 4. */
  readonly width: 1 | 2 | 4;
  /**
   * The text's size, modification time and SHA-256 when it was read (a Blob's or stream's hash
   * is "": a page has no incremental SHA-256).
   */
  readonly source: { readonly size: number; readonly mtimeMs: number; readonly hash: string };
  /**
   * How many times each character occurs, in id order; undefined where they were not kept (a
   * token file written before counts were, a Blob or stream): `corpusVocab` then counts them by
   * reading the ids.
   */
  readonly counts: readonly number[] | undefined;
  readonly #store: IdStore;

  /**
   * A corpus from its header and the store of its ids (use {@linkcode openCorpus}).
   *
   * @example Usage
   * ```ts ignore
   * import { Corpus } from "./corpus.ts";
   * ```
   */
  constructor(header: TokenHeader, store: IdStore) {
    this.path = store.name;
    this.tokenPath = store.tokenPath;
    this.vocab = new Vocab([...header.vocab]);
    this.length = header.count;
    this.width = header.width;
    this.source = Object.freeze({ ...header.source });
    this.counts = header.counts ? Object.freeze([...header.counts]) : undefined;
    this.#store = store;
  }

  /**
   * Opens the ids for many reads; close the reader when done (`using` does).
   *
   * @example Usage
   * ```ts
   * import { openCorpus } from "./corpus.ts";
   *
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/a.txt`, "abcabc");
   * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
   * {
   *   using reader = corpus.reader();
   *   const ids = new Int32Array(3);
   *   reader.read(3, ids);
   *   console.log([...ids]); // [0, 1, 2]
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param map Replaces each id (`map[id]`), e.g. with another vocabulary's ids.
   * @returns A reader of ids by position.
   */
  reader(map?: Int32Array): CorpusReader {
    return new CorpusReader(this.#store.open(), { width: this.width, length: this.length, map });
  }

  /**
   * The ids of characters `start` to `start + count - 1`.
   *
   * @example Usage
   * ```ts
   * import { openCorpus } from "./corpus.ts";
   *
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/a.txt`, "banana");
   * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
   * console.log([...corpus.read(0, 3)]); // [1, 0, 2]
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param start The first character's position.
   * @param count How many.
   * @returns Their ids.
   */
  read(start: number, count: number): Int32Array {
    const out = new Int32Array(count);
    using reader = this.reader();
    reader.read(start, out);
    return out;
  }

  /**
   * Characters `start` to `start + count - 1` as a string (fewer at the end of the text).
   *
   * @example Usage
   * ```ts
   * import { openCorpus } from "./corpus.ts";
   *
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/a.txt`, "banana");
   * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
   * console.log(corpus.text(2, 100)); // nana
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param start The first character's position.
   * @param count How many at most.
   * @returns The characters.
   */
  text(start: number, count: number): string {
    return this.vocab.decode(this.read(start, Math.max(0, Math.min(count, this.length - start))));
  }

  /**
   * Lets go of the ids where the corpus holds them: a page's Origin Private File System file is
   * closed and removed (a later read throws); a token file on disk stays, for the next run.
   *
   * @example Usage
   * ```ts
   * import { openCorpus } from "./corpus.ts";
   *
   * const corpus = await openCorpus(new Blob(["banana"]));
   * console.log(corpus.text(0, 3)); // ban
   * corpus.close();
   * ```
   */
  close(): void {
    this.#store.close?.();
  }
}

/**
 * Reads a corpus's ids by position from its open store (positioned reads, synchronous).
 *
 * @example Usage
 * ```ts
 * import { openCorpus } from "./corpus.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "abab");
 * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
 * const reader = corpus.reader(Int32Array.from([7, 9]));
 * const out = new Int32Array(4);
 * reader.read(0, out);
 * reader.close();
 * console.log([...out]); // [7, 9, 7, 9]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CorpusReader {
  #span: IdSpan | null;
  readonly #width: 1 | 2 | 4;
  readonly #length: number;
  readonly #map: Int32Array | undefined;
  #bytes = new Uint8Array(0);

  /**
   * Reads from an open store (use {@linkcode Corpus.reader}).
   *
   * @example Usage
   * ```ts ignore
   * import { CorpusReader } from "./corpus.ts";
   * ```
   */
  constructor(
    span: IdSpan,
    shape: { width: 1 | 2 | 4; length: number; map?: Int32Array | undefined },
  ) {
    this.#span = span;
    this.#width = shape.width;
    this.#length = shape.length;
    this.#map = shape.map;
  }

  /**
   * Fills `out` from `at` with the ids of the characters from `start` on.
   *
   * @example Usage
   * ```ts ignore
   * reader.read(100, new Int32Array(64));
   * ```
   *
   * @param start The first character's position.
   * @param out Receives the ids.
   * @param at Where in `out` to start (default 0).
   * @param count How many (default: the rest of `out`).
   * @throws {RangeError} If the stretch is not inside the text.
   */
  read(start: number, out: Int32Array, at = 0, count = out.length - at): void {
    if (!(start >= 0 && start + count <= this.#length && Number.isInteger(start))) {
      throw new RangeError(
        `Invalid position: characters ${start} to ${start + count} are not inside the ` +
          `corpus's ${this.#length}`,
      );
    }
    if (this.#span === null) throw new RangeError("Cannot read: the reader is closed");
    const width = this.#width;
    const size = count * width;
    if (this.#bytes.length < size) this.#bytes = new Uint8Array(Math.max(size, 4096));
    const bytes = this.#bytes.subarray(0, size);
    this.#span.read(start * width, bytes);
    const ids = width === 1
      ? bytes
      : width === 2
      ? new Uint16Array(bytes.buffer, 0, count)
      : new Uint32Array(bytes.buffer, 0, count);
    const map = this.#map;
    if (map) { for (let i = 0; i < count; i++) out[at + i] = map[ids[i]]; }
    else out.set(ids, at);
  }

  /**
   * Closes what it reads from.
   *
   * @example Usage
   * ```ts ignore
   * reader.close();
   * ```
   */
  close(): void {
    this.#span?.close();
    this.#span = null;
  }

  /** Closes what it reads from (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens a text of any size as a {@linkcode Corpus}: the first time, reads it as a stream (strict
 * UTF-8, with the errors and positions of `readText`; a leading BOM dropped and CRLF and CR read
 * as LF), builds its vocabulary and writes its token file (to a temporary name, renamed when
 * whole, so neither a full disk nor a crash leaves a file a later run would take); afterwards,
 * takes the token file while the text's size and modification time are those it was written
 * from. Memory stays bounded (a few MB) whatever the text's size.
 *
 * A `Blob` (a page's dropped `File`) or a `ReadableStream` of bytes is read once, with the same
 * decoder and errors, into ids kept in memory (1, 2 or 4 bytes a character) or, in a page's
 * dedicated Worker, in an Origin Private File System file (see `storage`): a page trains on a
 * file of any size without holding its text. Its batches and numbers are those of its string.
 *
 * @example Usage
 * ```ts
 * import { openCorpus } from "./corpus.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "to be or not to be");
 * const corpus = await openCorpus(`${dir}/a.txt`, { cacheDir: dir });
 * console.log(corpus.length, corpus.vocab.chars.join("")); // 18 " benort"
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example A Blob, as a page has a dropped file
 * ```ts
 * import { openCorpus } from "./corpus.ts";
 *
 * const file = new File(["to be\r\nor not"], "hamlet.txt");
 * const corpus = await openCorpus(file, { onProgress: (bytes) => console.log(bytes) });
 * console.log(corpus.path, corpus.length, JSON.stringify(corpus.text(0, 8))); // hamlet.txt 12 "to be\nor"
 * corpus.close();
 * ```
 *
 * @param path The text file (UTF-8), or a Blob or stream of its bytes.
 * @param options Where token files go; a Blob's or stream's name, progress and storage.
 * @returns The corpus.
 * @throws {TextError} If the file is missing, unreadable, empty or not UTF-8 (`Cannot read …`,
 * `Invalid UTF-8 in …`), or its token file cannot be written (`Cannot prepare …`).
 */
export async function openCorpus(
  path: string | URL | Blob | ReadableStream<Uint8Array>,
  options: CorpusOptions = {},
): Promise<Corpus> {
  if (typeof path !== "string" && !(path instanceof URL)) {
    const chunk = options[CHUNK_SIZE] ?? DEFAULT_CHUNK;
    const { header, store } = await streamCorpus(path, { ...options, chunk });
    return new Corpus(header, store);
  }
  const name = path instanceof URL ? path.href : path;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
    if (!info.isFile) throw new Error("not a file");
  } catch (error) {
    throw readError(name, error);
  }
  const mtimeMs = info.mtime?.getTime() ?? 0;
  let key: string;
  try {
    key = await cacheName(path, info.size, mtimeMs);
  } catch (error) {
    throw readError(name, error);
  }
  const dirs = options.cacheDir === undefined ? defaultCacheDirs() : [options.cacheDir];
  for (const dir of dirs) {
    const found = readHeader(`${dir}/${key}`);
    if (
      found && found.header.source.size === info.size && found.header.source.mtimeMs === mtimeMs
    ) {
      return new Corpus(found.header, fileStore(name, `${dir}/${key}`, found.dataOffset));
    }
  }
  const dir = await writableDir(dirs, name);
  return await prepare(path, name, `${dir}/${key}`, options);
}

function readError(name: string, error: unknown): TextError {
  if ((error as Error).name === "NotFound") {
    return new TextError(`Cannot read ${name}: no such file`);
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new TextError(`Cannot read ${name}: ${reason.split("\n")[0]}`);
}

// Reads the text twice (counting, then encoding) into `tokenPath`, by way of a temporary file.
async function prepare(
  path: string | URL,
  name: string,
  tokenPath: string,
  options: CorpusOptions,
): Promise<Corpus> {
  const chunk = options[CHUNK_SIZE] ?? DEFAULT_CHUNK;
  const started = performance.now();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw readError(name, error);
  }
  const temporary = `${tokenPath}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    options.onNote?.(`reading ${name} into a token file in ${tokenPath.replace(/\/[^/]*$/, "")} …`);
    const scan = await scanText(file, name, chunk);
    const header: TokenHeader = {
      version: 1,
      width: widthFor(scan.codePoints.length),
      count: scan.count,
      vocab: Array.from(scan.codePoints, (cp) => String.fromCodePoint(cp)).join(""),
      source: { size: scan.size, mtimeMs: scan.mtimeMs, hash: scan.hash },
      lowercase: false,
      counts: scan.counts,
    };
    const head = encodeHeader(header);
    let out: Deno.FsFile;
    try {
      out = await Deno.open(temporary, { write: true, createNew: true });
    } catch (error) {
      throw prepareError(name, error);
    }
    let written = 0;
    const limit = options[FAIL_WRITE_AFTER] ?? Infinity;
    const write = async (bytes: Uint8Array) => {
      try {
        if (written + bytes.length > limit) {
          throw new Error("No space left on device (os error 28)");
        }
        for (let at = 0; at < bytes.length;) at += await out.write(bytes.subarray(at));
        written += bytes.length;
      } catch (error) {
        throw prepareError(name, error);
      }
    };
    try {
      await write(head);
      await file.seek(0, Deno.SeekMode.Start);
      const count = await encodeText(file, name, scan.codePoints, header.width, write, chunk);
      const now = await file.stat();
      if (count !== scan.count || now.size !== scan.size || now.mtime?.getTime() !== scan.mtimeMs) {
        throw new TextError(
          `Cannot prepare ${name}: the file changed while it was read: try again`,
        );
      }
      // On disk before it gets its name: a crash after the rename finds a whole file.
      await out.syncData().catch((error) => {
        throw prepareError(name, error);
      });
    } finally {
      out.close();
    }
    try {
      await Deno.rename(temporary, tokenPath);
    } catch (error) {
      throw prepareError(name, error);
    }
    const seconds = (performance.now() - started) / 1000;
    options.onNote?.(
      `wrote ${tokenPath}: ${scan.count} characters, vocabulary ${scan.codePoints.length}, ` +
        `${(scan.size / 1e6 / seconds).toFixed(0)} MB/s`,
    );
    return new Corpus(header, fileStore(name, tokenPath, head.length));
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error instanceof TextError ? error : readError(name, error);
  } finally {
    file.close();
  }
}

function prepareError(name: string, error: unknown): TextError {
  if (error instanceof TextError) return error;
  const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new TextError(`Cannot prepare ${name}: ${reason}`);
}
