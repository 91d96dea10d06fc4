// A checkpoint written from PyTorch (the tutorial's CharRNN state_dict plus the charlstm.*
// metadata) loads here and gives PyTorch's own logits. Optional: it needs Debian's
// python3-torch, and says so when it skips.

import assert from "node:assert/strict";
import { type Cell, type CharModel, createModel, load, save, train } from "../mod.ts";
import { WasmEngine } from "../src/engine/mod.ts";
import { assertClose } from "./_helpers.ts";

const python = "/usr/bin/python3";
const hasTorch = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
  .output()
  .then((o) => o.success, () => false);
if (!hasTorch) console.log(`skipped the PyTorch checkpoint test: ${python} cannot import torch`);

/** Runs a helper script next to this file on one thread; returns its JSON output. */
async function runPython(script: string, args: string[]) {
  const out = await new Deno.Command(python, {
    args: [new URL(script, import.meta.url).pathname, ...args],
    env: { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** This project's logits for the last character of `prime`. */
function lastLogits(model: CharModel, prime: string): Float32Array {
  using net = WasmEngine.create({ ...model.config, batch: 1, seq: prime.length });
  net.params.set(model.params);
  net.inputs.set(model.vocab.encode(prime));
  net.forward({ training: false, loss: false });
  return net.logits.slice((prime.length - 1) * model.vocab.size);
}

Deno.test({
  name: "a PyTorch CharRNN state_dict + charlstm metadata loads and matches PyTorch's logits",
  ignore: !hasTorch,
  async fn() {
    for (const [hidden, layers] of [[24, 2], [7, 1]]) {
      const file = await Deno.makeTempFile({ suffix: ".safetensors" });
      const prime = "anna arkadyevna.";
      const torch = await runPython("./_torch_charrnn_export.py", [
        file,
        String(hidden),
        String(layers),
        prime,
      ]);
      const model = await load(file);
      assert.deepEqual(model.vocab.chars, torch.chars);
      assert.equal(model.trainState, null);
      assertClose(
        `logits (${layers}×${hidden})`,
        lastLogits(model, prime),
        torch.logits,
        1e-5,
        1e-6,
      );
      await Deno.remove(file);
    }
  },
});

const TRAINED: [Cell, number][] = [["lstm", 0], ["gru", 0], ["rnn", 0], ["gru", 5], ["lstm", 5]];
for (const [cell, embedding] of TRAINED) {
  const input = embedding ? `, embedding ${embedding}` : "";
  Deno.test({
    name: `a trained ${cell}${input} checkpoint loads into PyTorch (strict), same logits`,
    ignore: !hasTorch,
    fn: () => trainedLoadsInTorch(cell, embedding),
  });
}

async function trainedLoadsInTorch(cell: Cell, embedding: number) {
  {
    const text = "the quick brown fox jumps over the lazy dog.\n".repeat(40);
    const model = createModel(text, { cell, embedding, hidden: 20, layers: 2, seed: 6 });
    await train(model, text, { steps: 6, batch: 4, seq: 16, threads: 1 });
    const file = await Deno.makeTempFile({ suffix: ".safetensors" });
    await save(model, file);
    const prime = "the lazy";
    const torch = await runPython("./_torch_load_check.py", [file, prime]);
    assert.ok(torch.extra.includes("optim.exp_avg.fc.weight") && torch.extra.includes("state.h"));
    assert.equal(torch.extra.includes("state.c"), cell === "lstm");
    assertClose("logits", lastLogits(model, prime), torch.logits, 1e-5, 1e-6);
    await Deno.remove(file);
  }
}
