import { Random } from "../src/_random.ts";

// Shared test utilities: a seeded generator and a closeness check that reports the worst
// element, in the manner of llm.c's test_gpt2.c.

/** A seeded uniform generator in [0, 1) (the library's own, mulberry32). */
export function rng(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}

/** Fills `out` with uniform values in [-scale, scale). */
export function fillUniform<T extends { length: number; [i: number]: number }>(
  out: T,
  next: () => number,
  scale = 0.5,
): T {
  for (let i = 0; i < out.length; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

/** The worst violation of |a - e| <= atol + rtol·|e|, as a ratio (≤ 1 passes). */
export interface Closeness {
  worstRatio: number;
  worstIndex: number;
  actual: number;
  expected: number;
}

export function closeness(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
): Closeness {
  if (actual.length !== expected.length) {
    throw new Error(`Length mismatch: ${actual.length} vs ${expected.length}`);
  }
  let worst: Closeness = { worstRatio: 0, worstIndex: -1, actual: NaN, expected: NaN };
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const ratio = Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (!(ratio <= worst.worstRatio)) {
      worst = {
        worstRatio: Number.isNaN(ratio) ? Infinity : ratio,
        worstIndex: i,
        actual: a,
        expected: e,
      };
    }
  }
  return worst;
}

/** Throws naming the tensor and its worst element when any element is out of tolerance. */
export function assertClose(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
): Closeness {
  const c = closeness(actual, expected, rtol, atol);
  if (c.worstRatio > 1) {
    throw new Error(
      `${name}: element ${c.worstIndex} is ${c.actual}, expected ${c.expected} ` +
        `(|diff| ${Math.abs(c.actual - c.expected).toExponential(2)}, ` +
        `${c.worstRatio.toFixed(2)}× the tolerance ${atol} + ${rtol}·|expected|)`,
    );
  }
  return c;
}

/** PyTorch-layout [rows, cols] from a row-major [cols, rows] (a transpose). */
export function transposed(src: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = src[c * rows + r];
  }
  return out;
}

/** A deterministic text of a few words, a line every nine: the CLI and browser tests' corpus. */
export function corpus(chars: number): string {
  const words = ["alpha", "beta", "gamma", "delta", "and", "or", "the"];
  let text = "", i = 0;
  while (text.length < chars) {
    text += words[(i * 7 + (i >> 3)) % words.length] + (++i % 9 ? " " : "\n");
  }
  return text.slice(0, chars);
}

/**
 * Texts that are not UTF-8, for the readers that must report decodeText's error: hand-picked
 * bytes (a sequence cut at the end, a BOM, CR before a bad byte, surrogates, overlongs) and 30
 * generated texts with one bad byte each.
 */
export function badUtf8Cases(): number[][] {
  const enc = (s: string) => [...new TextEncoder().encode(s)];
  const cases: number[][] = [
    [0x80],
    [0x61, 0x0a, 0x62, 0xc0, 0xaf],
    [0xef, 0xbb, 0xbf, 0x61, 0x80],
    [0xef, 0xbb, 0x61],
    [0x61, 0x0d, 0x80],
    [0x61, 0x0d, 0x0a, 0x62, 0xe2, 0x82],
    [0xf4, 0x90, 0x80, 0x80],
    [0xed, 0xa0, 0x80],
    [0xe0, 0x80, 0x80],
    [0xf0, 0x9f, 0x99],
    [...enc("ab\r\r\ncd\ré🙂x"), 0xff, 0x61],
    [...enc("x".repeat(37) + "\r"), 0xc3],
    [...enc("🙂🙂\n€"), 0xe2, 0x82, 0x41],
    [...enc("\uFEFFé"), 0xfe],
  ];
  const next = rng(5);
  for (let k = 0; k < 30; k++) {
    const bytes = enc(mixedText(200 + Math.floor(next() * 200), k).replaceAll("\r\n", "\r"));
    bytes.splice(Math.floor(next() * bytes.length), 0, [0x80, 0xc0, 0xf8, 0xed][k % 4]);
    cases.push(bytes);
  }
  return cases;
}

/**
 * Lines of 3 to 8 words drawn from `words`, seeded, until at least `chars` UTF-16 units; with
 * `crlf`, about 30% of the lines end in CRLF.
 */
export function wordLines(
  chars: number,
  words: string[],
  options: { seed?: number; crlf?: boolean } = {},
): string {
  const next = rng(options.seed ?? 1);
  let text = "";
  while (text.length < chars) {
    const n = 3 + Math.floor(next() * 6);
    const line = Array.from({ length: n }, () => words[Math.floor(next() * words.length)]);
    text += line.join(" ") + (options.crlf && next() < 0.3 ? ".\r\n" : ".\n");
  }
  return text;
}

/** Words with a two-byte and a four-byte character, in lines ending LF or CRLF, seeded. */
export function mixedText(chars: number, seed = 1): string {
  const words = ["the", "cat", "sat", "on", "a", "mat", "and", "dög", "ran", "far", "🙂"];
  return wordLines(chars, words, { seed, crlf: true });
}
