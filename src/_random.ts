// Seeded randomness for initialisation and sampling. The state is one 32-bit integer, so it
// can be saved in a checkpoint and a seed reproduces a run.

/** mulberry32: a small, fast, seeded generator of uniform floats in [0, 1). */
export class Random {
  /** The generator's whole state. */
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** A standard normal float (Box-Muller; 1 - u keeps the logarithm finite). */
  normal(): number {
    const u = 1 - this.next(), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
