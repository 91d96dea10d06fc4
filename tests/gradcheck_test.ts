// Finite differences on a float64 reference against the core's analytic gradients, for every
// parameter and every element of the initial state, for each cell, with and without dropout
// (the reference applies the core's own masks) and with one-hot or embedded input. H = 5 runs
// both the four-lane SIMD path and the one-lane tail of the pointwise kernels.

import { WasmEngine } from "../src/engine/wasm_engine.ts";
import type { Cell } from "../src/model/config.ts";
import { type ReferenceInputs, referenceLoss } from "./_reference.ts";
import { assertClose, fillUniform, rng } from "./_helpers.ts";
import { dc0, dh0, dropoutMask } from "../src/engine/_probe.ts";

const CASES: { cell: Cell; dropout: number; embedding: number }[] = [];
for (const cell of ["lstm", "gru", "rnn"] as const) {
  CASES.push({ cell, dropout: 0, embedding: 0 }, { cell, dropout: 0.3, embedding: 4 });
}

for (const { cell, dropout, embedding } of CASES) {
  const input = embedding ? `embedding ${embedding}` : "one-hot";
  Deno.test(`${cell} gradients match central differences (2 layers, dropout ${dropout}, ${input})`, () => {
    const H = 5, B = 2, L = 2;
    const config = {
      cell,
      embedding,
      vocabSize: 6,
      hidden: H,
      layers: L,
      batch: B,
      seq: 4,
      dropout,
      seed: 9,
    };
    const net = WasmEngine.create(config);
    const next = rng(42);
    fillUniform(net.params, next, 0.6);
    for (let i = 0; i < net.inputs.length; i++) {
      net.inputs[i] = Math.floor(next() * 6);
      net.targets[i] = Math.floor(next() * 6);
    }
    const layers = [...Array(L).keys()];
    for (const l of layers) {
      fillUniform(net.h0(l), next, 0.5);
      fillUniform(net.c0(l), next, 0.5);
    }
    const ref: ReferenceInputs = {
      config,
      layout: net.layout,
      params: Float64Array.from(net.params),
      inputs: net.inputs.slice(),
      targets: net.targets.slice(),
      h0: layers.map((l) => Float64Array.from(net.h0(l))),
      c0: layers.map((l) => Float64Array.from(net.c0(l))),
      masks: [],
    };
    const loss = net.forward({ step: 3 });
    ref.masks = layers.map((l) => dropoutMask(net, l)?.slice() ?? null);
    if (dropout > 0 && !ref.masks.every((m) => m!.some((v) => v === 0))) {
      throw new Error("dropout masked nothing: the check would not cover it");
    }
    net.backward();
    assertClose("loss", [loss], [referenceLoss(ref)], 1e-6, 1e-7);

    const eps = 1e-6;
    const numeric = (vec: Float64Array, i: number) => {
      const keep = vec[i];
      vec[i] = keep + eps;
      const up = referenceLoss(ref);
      vec[i] = keep - eps;
      const down = referenceLoss(ref);
      vec[i] = keep;
      return (up - down) / (2 * eps);
    };
    let checked = 0;
    for (const spec of net.layout.tensors) {
      const fd = new Float64Array(spec.size);
      for (let i = 0; i < spec.size; i++) fd[i] = numeric(ref.params, spec.offset + i);
      assertClose(`d ${spec.name}`, net.grad(spec.name), fd, 1e-4, 1e-6);
      checked += spec.size;
    }
    const state = B * H;
    for (const l of layers) {
      const dh = new Float64Array(state), dc = new Float64Array(state);
      for (let i = 0; i < state; i++) {
        dh[i] = numeric(ref.h0[l], i);
        dc[i] = numeric(ref.c0[l], i);
      }
      assertClose(`dh0[${l}]`, dh0(net, l), dh, 1e-4, 1e-6);
      checked += state;
      if (cell === "lstm") {
        assertClose(`dc0[${l}]`, dc0(net, l), dc, 1e-4, 1e-6);
        checked += state;
      } else if (dc.some((v) => v !== 0)) {
        throw new Error(`the reference's ${cell} reads c0: it has no cell state`);
      }
    }
    const stateChecks = L * state * (cell === "lstm" ? 2 : 1);
    if (checked !== net.layout.tensors.reduce((s, t) => s + t.size, 0) + stateChecks) {
      throw new Error("not every gradient was checked");
    }
  });
}
