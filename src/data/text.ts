// Reading a training corpus: strict UTF-8 with a precise location for the first bad byte,
// a leading BOM dropped, and every line break normalised to LF.

/**
 * A corpus that cannot be used: unreadable, empty, or not valid UTF-8. The message is one line
 * and names the source.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeText, TextError } from "./text.ts";
 *
 * assert.throws(() => decodeText(new Uint8Array([0x80])), TextError);
 * ```
 */
export class TextError extends Error {
  /** @param message A one-line description naming the source. */
  /** Creates the error with its one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "TextError";
  }
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true });

// V8's longest string, in UTF-16 units (String::kMaxLength on 64-bit hosts): about 512 MiB.
const MAX_STRING_UNITS = 2 ** 29 - 24;

// The message for a text too long for one string.
function tooLong(source: string, size: number): string {
  return `Cannot read ${source}: ${size} bytes is more than one string can hold (about ` +
    "512 MiB of text): train.ts streams it; in code use openCorpus(path)";
}

/**
 * Decodes a corpus as strict UTF-8. A leading UTF-8 byte order mark is dropped, and CRLF and
 * lone CR line breaks become LF.
 *
 * Invalid input throws a {@linkcode TextError} locating the first byte that does not start a
 * valid sequence (a stray continuation byte, an overlong form, a surrogate, a code point above
 * U+10FFFF, or a sequence cut short). The offset is a 0-based byte offset into `bytes`; the line
 * and column are 1-based, the column counting characters (code points) of the line before it,
 * with LF, CRLF and lone CR each ending a line and a leading BOM not counted.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeText } from "./text.ts";
 *
 * const bytes = new TextEncoder().encode("\uFEFFone\r\ntwo\rthree");
 * assert.equal(decodeText(bytes), "one\ntwo\nthree");
 * assert.throws(
 *   () => decodeText(new Uint8Array([0x61, 0x0a, 0x62, 0xc0, 0xaf]), "corpus.txt"),
 *   /Invalid UTF-8 in corpus\.txt: byte 0xC0 at offset 3 \(line 2, column 2\)/,
 * );
 * ```
 *
 * @param bytes The raw file contents.
 * @param source What to call the input in error messages.
 * @returns The decoded text with LF line breaks.
 * @throws {TextError} If `bytes` is not valid UTF-8.
 */
export function decodeText(bytes: Uint8Array, source = "input"): string {
  let text: string;
  try {
    text = strictDecoder.decode(bytes);
  } catch {
    // The decoder also fails for a valid text longer than a string can be: say which.
    if (bytes.length > MAX_STRING_UNITS && firstInvalidOffset(bytes) < 0) {
      throw new TextError(tooLong(source, bytes.length));
    }
    throw new TextError(invalidMessage(bytes, source));
  }
  return text.indexOf("\r") === -1 ? text : text.replace(/\r\n?/g, "\n");
}

/**
 * Reads a file and decodes it with {@linkcode decodeText}.
 *
 * @example Usage
 * ```ts ignore
 * import { readText } from "./text.ts";
 *
 * const corpus = await readText("data/anna.txt");
 * console.log(`${corpus.length} UTF-16 units`);
 * ```
 *
 * @param path The file to read.
 * @returns The decoded, LF-normalised text; never empty.
 * @throws {TextError} If the file is missing or unreadable (`Cannot read ...`), not valid UTF-8,
 * has no characters (`Cannot read ...: the file has no characters ...`), or is too large for
 * one string (`Cannot read ...: N bytes is more than one string can hold ...`: read it with
 * `openCorpus`).
 */
export async function readText(path: string | URL): Promise<string> {
  const name = path instanceof URL ? path.href : path;
  let bytes: Uint8Array;
  try {
    if (!globalThis.Deno) throw new Error("files need Deno: in a web page fetch the text");
    const { size } = await Deno.stat(path);
    // Even at 3 bytes a character (the fewest UTF-16 units a byte can make), too long.
    if (size > 3 * MAX_STRING_UNITS) throw new TextError(tooLong(name, size));
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof TextError) throw error;
    if ((error as Error).name === "NotFound") {
      throw new TextError(`Cannot read ${name}: no such file`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new TextError(`Cannot read ${name}: ${reason.split("\n")[0]}`);
  }
  const text = decodeText(bytes, name);
  if (text.length === 0) {
    throw new TextError(`Cannot read ${name}: the file has no characters: give a non-empty text`);
  }
  return text;
}

/**
 * The byte offset of the first byte that does not start a well-formed UTF-8 sequence
 * (Unicode Table 3-7), or -1 if all of `bytes` is well formed.
 */
function firstInvalidOffset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i;
    const second = bytes[i + 1];
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

function invalidMessage(bytes: Uint8Array, source: string): string {
  const offset = firstInvalidOffset(bytes);
  if (offset < 0) return `Invalid UTF-8 in ${source}`; // unreachable: the decoder and scan agree
  // The prefix is well formed; the lenient decoder also drops a leading BOM.
  const prefix = new TextDecoder("utf-8").decode(bytes.subarray(0, offset));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && prefix.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  let column = 1;
  for (let i = lineStart; i < prefix.length; i++) {
    const c = prefix.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) column++; // count code points, not UTF-16 units
  }
  const hex = bytes[offset].toString(16).toUpperCase().padStart(2, "0");
  return `Invalid UTF-8 in ${source}: byte 0x${hex} at offset ${offset} ` +
    `(line ${line}, column ${column}) does not start a valid sequence`;
}
