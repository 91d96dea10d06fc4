// Reading a checkpoint's charlstm.* metadata: the config and the vocabulary, each checked, every
// failure one line through `fail` (checkpoint.ts throws it as a CheckpointError).

import { Vocab } from "../data/vocab.ts";
import { CELLS, validateCoreConfig } from "../model/config.ts";
import type { CharModelConfig } from "../model/model.ts";

/** Throws the checkpoint's error with this message. */
export type Fail = (message: string) => never;

// What a library error says is wrong, without its own "Invalid …: " or "Cannot …: " opening.
export function reason(e: unknown): string {
  return (e as Error).message.replace(/^(?:Invalid|Cannot) [^:]*: /, "");
}

export function parseJson(
  metadata: Record<string, string>,
  key: string,
  fail: Fail,
): unknown {
  const text = metadata[key];
  if (text === undefined) {
    fail(
      `Invalid checkpoint: metadata has no "${key}": this is not a charlstm checkpoint ` +
        `(PyTorch users: add the charlstm.* metadata, see docs/pytorch.md)`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    fail(`Invalid checkpoint: metadata "${key}" is not valid JSON`);
  }
}

export function parseConfig(value: unknown, fail: Fail): CharModelConfig {
  const c = value as Partial<CharModelConfig> | null;
  if (c === null || typeof c !== "object") {
    fail("Invalid checkpoint: charlstm.config is not an object");
  }
  if (!CELLS.includes(c.cell!)) {
    fail(
      `Invalid checkpoint: cell ${JSON.stringify(c.cell)} is not supported: expected one of ` +
        CELLS.join(", "),
    );
  }
  const config = {
    cell: c.cell,
    embedding: c.embedding ?? 0,
    vocabSize: c.vocabSize,
    hidden: c.hidden,
    layers: c.layers,
    dropout: c.dropout,
    seed: c.seed ?? 0,
  } as CharModelConfig;
  try {
    validateCoreConfig({ ...config, batch: 1, seq: 1 });
  } catch (e) {
    fail(`Invalid checkpoint: charlstm.config: ${reason(e)}`);
  }
  return config;
}

export function parseVocab(
  value: unknown,
  encoding: unknown,
  config: CharModelConfig,
  fail: Fail,
): Vocab {
  if (!Array.isArray(value) || !value.every((c) => typeof c === "string")) {
    fail("Invalid checkpoint: charlstm.vocab is not an array of strings");
  }
  const e = (encoding ?? {}) as { lowercase?: unknown; unknown?: unknown };
  if (
    typeof e !== "object" || (e.lowercase !== undefined && typeof e.lowercase !== "boolean") ||
    (e.unknown !== undefined && e.unknown !== null && typeof e.unknown !== "string")
  ) {
    fail(
      "Invalid checkpoint: charlstm.vocab_encoding must be { lowercase: boolean, unknown: " +
        "string | null }",
    );
  }
  let vocab: Vocab;
  try {
    vocab = new Vocab(value, { lowercase: e.lowercase, unknown: e.unknown });
  } catch (e) {
    fail(`Invalid checkpoint: charlstm.vocab: ${reason(e)}`);
  }
  if (vocab.size !== config.vocabSize) {
    fail(
      `Invalid checkpoint: the vocabulary has ${vocab.size} characters but the config says ` +
        `vocabSize ${config.vocabSize}`,
    );
  }
  return vocab;
}
