// Model configuration and its validation. Every check runs before any memory is allocated.

/** The recurrent cells: PyTorch's nn.LSTM, nn.GRU and nn.RNN (tanh). */
export type Cell = "lstm" | "gru" | "rnn";

/** Every cell, in the order of the core's cell codes. */
export const CELLS: readonly Cell[] = ["lstm", "gru", "rnn"];

/** Gate blocks of H rows in W_ih and W_hh: i,f,g,o; r,z,n; or the one tanh block. */
export function gateBlocks(cell: Cell): number {
  return cell === "lstm" ? 4 : cell === "gru" ? 3 : 1;
}

/** The shape of a character-level recurrent network. */
export interface ModelConfig {
  /** Recurrent cell (default `lstm`). */
  cell?: Cell;
  /** Width of a learned input embedding (`encoder.weight`); 0 (default) feeds one-hot. */
  embedding?: number;
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

/** Whether `seed` is a usable seed (of the model, or of sampling): an integer in [0, 2^32). */
export function isSeed(seed: unknown): seed is number {
  return Number.isInteger(seed) && (seed as number) >= 0 && (seed as number) <= 0xffffffff;
}

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
        `Invalid config: ${field} must be at most ${LIMITS[field]}, got ${value}`,
      );
    }
  }
  const cell = config.cell ?? "lstm";
  if (!CELLS.includes(cell)) {
    throw new RangeError(
      `Invalid config: cell must be one of ${CELLS.join(", ")}, got ${JSON.stringify(cell)}`,
    );
  }
  const embedding = config.embedding ?? 0;
  if (!Number.isInteger(embedding) || embedding < 0 || embedding > LIMITS.hidden) {
    throw new RangeError(
      `Invalid config: embedding must be 0 (one-hot) or a width in [1, ${LIMITS.hidden}], ` +
        `got ${String(config.embedding)}`,
    );
  }
  const p = config.dropout;
  if (typeof p !== "number" || !(p >= 0 && p < 1)) {
    throw new RangeError(`Invalid config: dropout must be in [0, 1), got ${String(p)}`);
  }
  if (!isSeed(config.seed ?? 0)) {
    throw new RangeError(
      `Invalid config: seed must be an integer in [0, 2^32), got ${String(config.seed)}`,
    );
  }
}
