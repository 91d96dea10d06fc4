// @ts-check
// train.ts's named presets (src/cli/_train_flags.ts PRESETS, which tests/studio_test.ts keeps
// this copy equal to), and the defaults of the settings no preset names (the library's).

/**
 * @typedef {{ hidden: number, layers: number, batch: number, seq: number, dropout: number,
 *   lr: number, clip: number, epochs?: number, steps?: number, "val-every": number }} Preset
 */

/** @type {Readonly<Record<"default" | "tiny" | "udacity", Preset>>} */
export const PRESETS = {
  default: {
    hidden: 128,
    layers: 2,
    batch: 32,
    seq: 100,
    dropout: 0.1,
    lr: 0.002,
    clip: 5,
    epochs: 12,
    "val-every": 200,
  },
  tiny: {
    hidden: 64,
    layers: 2,
    batch: 16,
    seq: 50,
    dropout: 0,
    lr: 0.003,
    clip: 5,
    steps: 300,
    "val-every": 100,
  },
  udacity: {
    hidden: 512,
    layers: 2,
    batch: 128,
    seq: 100,
    dropout: 0.5,
    lr: 0.001,
    clip: 5,
    epochs: 20,
    "val-every": 100,
  },
};

/** What the presets leave to the library's defaults (MODEL_DEFAULTS, TRAIN_DEFAULTS). */
export const OTHER_DEFAULTS = {
  cell: "lstm",
  embedding: 0,
  seed: 0,
  optimizer: "adam",
  lrSchedule: "constant",
  backend: "auto",
};
