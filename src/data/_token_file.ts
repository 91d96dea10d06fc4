// The token file (version 1; docs/api.md describes it): an 8-byte magic, the header's
// length as a u64, a JSON header padded with spaces to a multiple of 8 bytes, then one
// little-endian integer of `width` bytes per character. Where it lives: a cache keyed by the
// text's identity, not its path (see cacheDir and cacheName).

/** The file's first 8 bytes. */
export const MAGIC = "CHLTOK01";

/** The JSON header of a token file. */
export interface TokenHeader {
  version: 1;
  width: 1 | 2 | 4;
  count: number;
  /** The characters in id order, joined. */
  vocab: string;
  source: { size: number; mtimeMs: number; hash: string };
  lowercase: false;
  /**
   * How many times each character occurs, in id order (what `--min-freq` needs); absent from
   * files written before it was kept.
   */
  counts?: number[];
}

/** The integer width a vocabulary of `size` characters needs. */
export function widthFor(size: number): 1 | 2 | 4 {
  return size <= 256 ? 1 : size <= 65536 ? 2 : 4;
}

/** The header's bytes: magic, length, padded JSON; the tokens start at its length. */
export function encodeHeader(header: TokenHeader): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil((16 + json.length) / 8) * 8 - 16;
  const out = new Uint8Array(16 + n).fill(0x20);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setBigUint64(8, BigInt(n), true);
  out.set(json, 16);
  return out;
}

/**
 * Reads a token file's header: it and where the tokens start, or null if the file is missing,
 * not a whole version-1 token file, or shorter than its header says (a file a crash cut short).
 */
export function readHeader(path: string): { header: TokenHeader; dataOffset: number } | null {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return null;
  }
  try {
    const head = new Uint8Array(16);
    if (readFullSync(file, head) < 16) return null;
    if (new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) return null;
    const n = Number(new DataView(head.buffer).getBigUint64(8, true));
    if (n > 1 << 30 || (16 + n) % 8 !== 0) return null;
    const json = new Uint8Array(n);
    if (readFullSync(file, json) < n) return null;
    const header = JSON.parse(new TextDecoder().decode(json)) as TokenHeader;
    if (header.version !== 1 || ![1, 2, 4].includes(header.width)) return null;
    const size = file.statSync().size;
    if (size !== 16 + n + header.count * header.width) return null;
    return { header, dataOffset: 16 + n };
  } catch {
    return null;
  } finally {
    file.close();
  }
}

/** Reads until `buf` is full or the file ends; returns the bytes read. */
export function readFullSync(file: Deno.FsFile, buf: Uint8Array): number {
  let got = 0;
  while (got < buf.length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/**
 * The folder token files go to: `$XDG_CACHE_HOME/charlstm/tokens`, else
 * `~/.cache/charlstm/tokens`, else the system's temporary folder's `charlstm-tokens`.
 */
export function defaultCacheDirs(): string[] {
  const env = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined; // no --allow-env: the next place
    }
  };
  const dirs: string[] = [];
  const xdg = env("XDG_CACHE_HOME");
  const home = env("HOME") ?? env("USERPROFILE");
  if (xdg) dirs.push(`${xdg}/charlstm/tokens`);
  else if (home) dirs.push(`${home}/.cache/charlstm/tokens`);
  dirs.push(`${env("TMPDIR") ?? env("TEMP") ?? "/tmp"}/charlstm-tokens`);
  return dirs;
}

/**
 * The token file's name for a text: a digest of its size, modification time and first and last
 * 64 KiB, so a copy with the same time shares it, and a text that changed gets another.
 */
export async function cacheName(
  path: string | URL,
  size: number,
  mtimeMs: number,
): Promise<string> {
  const label = new TextEncoder().encode(`charlstm-tokens-1:${size}:${mtimeMs}:`);
  const part = Math.min(size, 1 << 16);
  const bytes = new Uint8Array(label.length + 2 * part);
  bytes.set(label);
  const file = Deno.openSync(path, { read: true });
  let got: number;
  try {
    got = readFullSync(file, bytes.subarray(label.length, label.length + part));
    if (size > part) {
      file.seekSync(Math.max(part, size - part), Deno.SeekMode.Start);
      got += readFullSync(file, bytes.subarray(label.length + got));
    }
  } finally {
    file.close();
  }
  // WebCrypto, not node:crypto: this runs on every start, and node:crypto takes seconds to load.
  const digest = await crypto.subtle.digest("SHA-256", bytes.subarray(0, label.length + got));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 32)}.charlstm-tokens`;
}
