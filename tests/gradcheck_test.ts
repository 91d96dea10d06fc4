// Finite differences on a float64 reference against the core's analytic gradients, for every
// parameter and every element of the initial state, with dropout on (the reference applies the
// core's own masks).

import { WasmLstm } from "../src/backend/wasm.ts";
import { type ReferenceInputs, referenceLoss } from "./_reference.ts";
import { assertClose, fillUniform, rng } from "./_helpers.ts";

for (const dropout of [0, 0.3]) {
  Deno.test(`gradients match central differences (2 layers, dropout ${dropout})`, () => {
    const config = { vocabSize: 5, hidden: 3, layers: 2, batch: 2, seq: 4, dropout, seed: 9 };
    const net = WasmLstm.create(config);
    const next = rng(42);
    fillUniform(net.params, next, 0.6);
    for (let i = 0; i < net.inputs.length; i++) {
      net.inputs[i] = Math.floor(next() * 5);
      net.targets[i] = Math.floor(next() * 5);
    }
    for (let l = 0; l < 2; l++) {
      fillUniform(net.h0(l), next, 0.5);
      fillUniform(net.c0(l), next, 0.5);
    }
    const ref: ReferenceInputs = {
      config,
      layout: net.layout,
      params: Float64Array.from(net.params),
      inputs: net.inputs.slice(),
      targets: net.targets.slice(),
      h0: [0, 1].map((l) => Float64Array.from(net.h0(l))),
      c0: [0, 1].map((l) => Float64Array.from(net.c0(l))),
      masks: [],
    };
    const loss = net.forward({ step: 3 });
    ref.masks = [0, 1].map((l) => net.dropoutMask(l)?.slice() ?? null);
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
    for (let l = 0; l < 2; l++) {
      const dh = new Float64Array(6), dc = new Float64Array(6);
      for (let i = 0; i < 6; i++) {
        dh[i] = numeric(ref.h0[l], i);
        dc[i] = numeric(ref.c0[l], i);
      }
      assertClose(`dh0[${l}]`, net.dh0(l), dh, 1e-4, 1e-6);
      assertClose(`dc0[${l}]`, net.dc0(l), dc, 1e-4, 1e-6);
      checked += 12;
    }
    if (checked !== net.layout.tensors.reduce((s, t) => s + t.size, 0) + 24) {
      throw new Error("not every gradient was checked");
    }
  });
}
