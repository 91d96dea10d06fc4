// Where a corpus's ids live (corpus.ts's IdStore): a token file on disk (Deno), or, for a Blob or
// stream read by _stream_corpus.ts, memory or a file of a page's Origin Private File System. The
// last two are written as the text is read: their width grows with the vocabulary (ids rewritten
// wider, from the end backwards, so that no id is overwritten before it is read), and the ids,
// numbered as their characters first came, are renumbered in code-point order at the end.

import type { IdSpan, IdStore } from "./id_store.ts";
import { readFullSync } from "./_token_file.ts";
import { TextError } from "./text.ts";

/** A token file's ids from `dataOffset`: opened for each reader, closed with it. */
export function fileStore(name: string, tokenPath: string, dataOffset: number): IdStore {
  return {
    name,
    tokenPath,
    open() {
      const file = Deno.openSync(tokenPath, { read: true });
      return {
        read(offset, bytes) {
          file.seekSync(dataOffset + offset, Deno.SeekMode.Start);
          if (readFullSync(file, bytes) < bytes.length) {
            throw new TextError(
              `Cannot read ${tokenPath}: the token file is shorter than its header`,
            );
          }
        },
        close: () => file.close(),
      };
    },
  };
}

/** The first of `dirs` that can be made and written to (for a token file). */
export async function writableDir(dirs: string[], name: string): Promise<string> {
  let last: unknown;
  for (const dir of dirs) {
    try {
      await Deno.mkdir(dir, { recursive: true });
      const probe = `${dir}/.probe-${crypto.randomUUID()}`;
      await Deno.writeFile(probe, new Uint8Array(0));
      await Deno.remove(probe);
      return dir;
    } catch (error) {
      last = error;
    }
  }
  const reason = last instanceof Error ? last.message.split("\n")[0] : String(last);
  throw new TextError(`Cannot prepare ${name}: no writable folder for its token file: ${reason}`);
}

/** Ids written as a text is read, then read by position. */
export interface IdSink extends IdStore {
  /** Bytes per id now. */
  readonly width: 1 | 2 | 4;
  /** Ids written. */
  readonly count: number;
  /** Appends `ids[0, n)` (each below 256 ** width). */
  append(ids: Uint32Array, n: number): void;
  /** Rewrites the ids written so far `width` bytes wide. */
  widen(width: 2 | 4): void;
  /** Replaces each id by `map[id]` (the same width). */
  remap(map: Uint32Array): void;
  /** Lets go of everything (a text that failed). */
  discard(): void;
}

// The raw bytes of ids and how to move them: memory, or an OPFS file.
interface Bytes {
  read(offset: number, bytes: Uint8Array): number;
  write(offset: number, bytes: Uint8Array): void;
  /** Where the ids will reach `size` bytes: make room (a hint; `write` grows anyway). */
  reserve(size: number): void;
  close(): void;
}

const BLOCK = 1 << 20; // ids moved at a time when widening or renumbering

function view(width: 1 | 2 | 4, buffer: ArrayBuffer, n: number) {
  return width === 1
    ? new Uint8Array(buffer, 0, n)
    : width === 2
    ? new Uint16Array(buffer, 0, n)
    : new Uint32Array(buffer, 0, n);
}

function sink(name: string, raw: Bytes, onClose: () => void): IdSink {
  let width: 1 | 2 | 4 = 1;
  let count = 0;
  let closed = false;
  const scratch = new ArrayBuffer(BLOCK * 4);
  const wide = new ArrayBuffer(BLOCK * 4);
  const store: IdSink = {
    name,
    tokenPath: "",
    get width() {
      return width;
    },
    get count() {
      return count;
    },
    append(ids, n) {
      for (let at = 0; at < n; at += BLOCK) {
        const k = Math.min(BLOCK, n - at);
        const out = view(width, scratch, k);
        out.set(ids.subarray(at, at + k));
        raw.write((count + at) * width, new Uint8Array(scratch, 0, k * width));
      }
      count += n;
    },
    widen(to) {
      raw.reserve(count * to);
      for (let end = count; end > 0; end -= BLOCK) {
        const start = Math.max(0, end - BLOCK);
        const k = end - start;
        raw.read(start * width, new Uint8Array(scratch, 0, k * width));
        view(to, wide, k).set(view(width, scratch, k));
        raw.write(start * to, new Uint8Array(wide, 0, k * to));
      }
      width = to;
    },
    remap(map) {
      for (let start = 0; start < count; start += BLOCK) {
        const k = Math.min(BLOCK, count - start);
        const bytes = new Uint8Array(scratch, 0, k * width);
        raw.read(start * width, bytes);
        const ids = view(width, scratch, k);
        for (let i = 0; i < k; i++) ids[i] = map[ids[i]];
        raw.write(start * width, bytes);
      }
    },
    open(): IdSpan {
      return {
        read(offset, bytes) {
          if (closed || raw.read(offset, bytes) < bytes.length) {
            throw new RangeError(`Cannot read ${name}: the corpus is closed`);
          }
        },
        close() {},
      };
    },
    close() {
      if (closed) return;
      closed = true;
      raw.close();
      onClose();
    },
    discard() {
      store.close!();
    },
  };
  return store;
}

/**
 * Ids in memory. `hint` is the text's size in bytes where known (a Blob's): at most that many
 * characters, so 1-byte ids fit in it without growing.
 */
export function memorySink(name: string, hint?: number): IdSink {
  let buffer = new Uint8Array(Math.max(hint ?? 0, 1 << 16));
  let used = 0;
  const grow = (size: number) => {
    if (size <= buffer.length) return;
    const next = new Uint8Array(Math.max(size, Math.min(buffer.length * 2, 2 ** 33)));
    next.set(buffer.subarray(0, used));
    buffer = next;
  };
  return sink(name, {
    read(offset, bytes) {
      const n = Math.max(0, Math.min(bytes.length, used - offset));
      bytes.set(buffer.subarray(offset, offset + n));
      return n;
    },
    write(offset, bytes) {
      grow(offset + bytes.length);
      buffer.set(bytes, offset);
      used = Math.max(used, offset + bytes.length);
    },
    reserve: (size) => grow(size),
    close() {
      buffer = new Uint8Array(0);
      used = 0;
    },
  }, () => {});
}

// The parts of the File System API a dedicated Worker's OPFS needs (not in Deno's types).
interface SyncHandle {
  read(bytes: Uint8Array, options: { at: number }): number;
  write(bytes: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}
interface Directory {
  getFileHandle(
    name: string,
    options: { create: boolean },
  ): Promise<{ createSyncAccessHandle(): Promise<SyncHandle> }>;
  removeEntry(name: string): Promise<void>;
  keys(): AsyncIterable<string>;
}

const PREFIX = "charlstm-corpus-";

/** Whether this context offers OPFS with synchronous access (a page's dedicated Worker). */
export function opfsOffered(): boolean {
  const g = globalThis as unknown as {
    navigator?: { storage?: { getDirectory?: unknown } };
    FileSystemFileHandle?: { prototype: object };
  };
  return typeof g.navigator?.storage?.getDirectory === "function" &&
    g.FileSystemFileHandle !== undefined &&
    "createSyncAccessHandle" in g.FileSystemFileHandle.prototype;
}

/**
 * Ids in a new file of the page's Origin Private File System, through a synchronous access
 * handle held until the corpus closes (which removes the file). Files that earlier pages left
 * (a reload does not close) are removed first, except those another page still holds.
 */
export async function opfsSink(name: string): Promise<IdSink> {
  const storage = (navigator as unknown as {
    storage: { getDirectory(): Promise<Directory> };
  }).storage;
  const dir = await storage.getDirectory();
  const stale: string[] = [];
  for await (const key of dir.keys()) if (key.startsWith(PREFIX)) stale.push(key);
  for (const key of stale) await dir.removeEntry(key).catch(() => {}); // held by a live page
  const key = `${PREFIX}${crypto.randomUUID()}`;
  const handle = await (await dir.getFileHandle(key, { create: true })).createSyncAccessHandle();
  return sink(name, {
    read: (offset, bytes) => handle.read(bytes, { at: offset }),
    write(offset, bytes) {
      for (let at = 0; at < bytes.length;) {
        let n = 0;
        try {
          n = handle.write(bytes.subarray(at), { at: offset + at });
        } catch (error) {
          const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
          throw new TextError(`Cannot prepare ${name}: the page's storage: ${reason}`);
        }
        if (n <= 0) throw new TextError(`Cannot prepare ${name}: the page's storage is full`);
        at += n;
      }
    },
    reserve() {},
    close: () => handle.close(),
  }, () => {
    dir.removeEntry(key).catch(() => {});
  });
}
