// Model configuration and its validation. Every check runs before any memory is allocated.

/** The shape of a character-level LSTM. */
export interface ModelConfig {
  /** Number of distinct characters (the one-hot input and softmax output width). */
  vocabSize: number;
  /** Hidden units per layer. */
  hidden: number;
  /** Stacked LSTM layers. */
  layers: number;
  /** Inverted-dropout probability between layers and before the output layer, in [0, 1). */
  dropout: number;
}

/** A model plus the batch geometry one compute core is laid out for. */
export interface CoreConfig extends ModelConfig {
  /** Sequences per batch. */
  batch: number;
  /** Timesteps per sequence. */
  seq: number;
  /** Seed for dropout masks. */
  seed?: number;
}

const LIMITS: Record<string, number> = {
  vocabSize: 1 << 21,
  hidden: 1 << 14,
  layers: 64,
  batch: 1 << 16,
  seq: 1 << 16,
};

/** Throws a RangeError naming the first field that is not a usable value. */
export function validateCoreConfig(config: CoreConfig): void {
  if (config === null || typeof config !== "object") {
    throw new TypeError("Invalid config: expected an object with vocabSize, hidden, layers, ...");
  }
  for (const field of ["vocabSize", "hidden", "layers", "batch", "seq"] as const) {
    const value = config[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Invalid config: ${field} must be a positive integer, got ${String(value)}`,
      );
    }
    if (value > LIMITS[field]) {
      throw new RangeError(
        `Invalid config: ${field} is ${value}, over the limit of ${LIMITS[field]}`,
      );
    }
  }
  const p = config.dropout;
  if (typeof p !== "number" || !(p >= 0 && p < 1)) {
    throw new RangeError(`Invalid config: dropout must be in [0, 1), got ${String(p)}`);
  }
  const seed = config.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(
      `Invalid config: seed must be an integer in [0, 2^32), got ${String(config.seed)}`,
    );
  }
}
