// The core's other promises: both compiled variants agree, dropout is the identity at p = 0
// and reproducible with a seed, state carries across batches, and bad configs fail early.

import assert from "node:assert/strict";
import { WasmEngine } from "../src/engine/wasm_engine.ts";
import { relaxedSimdSupported } from "../src/engine/wasm_module.ts";
import type { CoreConfig } from "../src/model/config.ts";
import { assertClose, fillUniform, rng } from "./_helpers.ts";
import { dropoutMask, type KernelTiming, profile } from "../src/engine/_probe.ts";

function seeded(config: CoreConfig, variant: "simd" | "relaxed" | "auto" = "auto", seed = 5) {
  const net = WasmEngine.create(config, { variant });
  const next = rng(seed);
  fillUniform(net.params, next, 0.3);
  for (let i = 0; i < net.inputs.length; i++) {
    net.inputs[i] = Math.floor(next() * config.vocabSize);
    net.targets[i] = Math.floor(next() * config.vocabSize);
  }
  return net;
}

const small: CoreConfig = { vocabSize: 83, hidden: 32, layers: 2, batch: 3, seq: 7, dropout: 0 };

Deno.test({
  name: "SIMD and relaxed-SIMD builds agree within 1e-5",
  ignore: !relaxedSimdSupported(),
  fn() {
    const plain = seeded({ ...small, dropout: 0.25 }, "simd");
    const fused = seeded({ ...small, dropout: 0.25 }, "relaxed");
    assert.deepEqual([plain.variant, fused.variant], ["simd", "relaxed"]);
    const lossA = plain.forward({ step: 1 });
    const lossB = fused.forward({ step: 1 });
    plain.backward();
    fused.backward();
    assertClose("loss", [lossA], [lossB]);
    assertClose("logits", plain.logits, fused.logits);
    for (const t of plain.layout.tensors) {
      assertClose(`d ${t.name}`, plain.grad(t.name), fused.grad(t.name));
    }
  },
});
if (!relaxedSimdSupported()) {
  console.log("skipped the SIMD vs relaxed comparison: this engine rejects relaxed SIMD");
}

Deno.test("dropout 0 is the identity; with a seed the mask is reproducible", () => {
  const a = seeded({ ...small, dropout: 0 });
  const b = seeded({ ...small, dropout: 0.5, seed: 11 });
  // With dropout off at evaluation, the p = 0.5 net computes exactly the p = 0 net.
  const lossOff = b.forward({ training: false });
  assert.deepEqual(a.forward({ training: true }), lossOff);
  assert.deepEqual(a.logits, b.logits);

  const lossOn = b.forward({ step: 7 });
  const mask7 = dropoutMask(b, 0)!.slice();
  assert.notDeepEqual(lossOn, lossOff);
  const kept = mask7.filter((v) => v !== 0);
  assert.deepEqual(new Set(kept), new Set([2]));
  const keptFraction = kept.length / mask7.length;
  if (Math.abs(keptFraction - 0.5) > 0.1) throw new Error(`kept ${keptFraction} of units at p=0.5`);

  const again = seeded({ ...small, dropout: 0.5, seed: 11 });
  assert.deepEqual(again.forward({ step: 7 }), lossOn);
  assert.deepEqual(dropoutMask(again, 0), mask7);
  again.forward({ step: 8 });
  assert.notDeepEqual(dropoutMask(again, 0), mask7);
  const otherSeed = seeded({ ...small, dropout: 0.5, seed: 12 });
  otherSeed.forward({ step: 7 });
  assert.notDeepEqual(dropoutMask(otherSeed, 0), mask7);
  // The two dropout sites draw different masks.
  assert.notDeepEqual(dropoutMask(b, 1), mask7);
});

Deno.test("carried state continues a sequence exactly", () => {
  // One pass over 2T steps equals two passes over T with the state carried between them.
  const long = seeded({ ...small, seq: 6, batch: 2 });
  const short = WasmEngine.create({ ...small, seq: 3, batch: 2 });
  short.params.set(long.params);
  long.forward({ training: false });
  for (const half of [0, 1]) {
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 3; t++) {
        short.inputs[b * 3 + t] = long.inputs[b * 6 + half * 3 + t];
        short.targets[b * 3 + t] = long.targets[b * 6 + half * 3 + t];
      }
    }
    if (half === 1) short.carryState();
    short.forward({ training: false });
  }
  assertClose("hT", short.hT(1), long.hT(1), 1e-6, 1e-7);
  assertClose("cT", short.cT(0), long.cT(0), 1e-6, 1e-7);
  short.resetState();
  assert.deepEqual(short.h0(0).every((v) => v === 0), true);
});

Deno.test("bad configs are rejected before anything is allocated", () => {
  const ok = { vocabSize: 5, hidden: 4, layers: 1, batch: 2, seq: 3, dropout: 0 };
  const bad: [Partial<CoreConfig>, RegExp][] = [
    [{ hidden: 0 }, /hidden must be a positive integer, got 0/],
    [{ layers: -1 }, /layers must be a positive integer, got -1/],
    [{ batch: 2.5 }, /batch must be a positive integer, got 2.5/],
    [{ seq: NaN }, /seq must be a positive integer, got NaN/],
    [{ vocabSize: 1e9 }, /vocabSize must be at most 2097152, got 1000000000/],
    [{ dropout: 1 }, /dropout must be in \[0, 1\), got 1/],
    [{ dropout: -0.1 }, /dropout must be in \[0, 1\)/],
    [{ seed: -3 }, /seed must be an integer/],
    [{ hidden: 4096, batch: 4096, seq: 512 }, /needs \d+\.\d GiB, over WebAssembly's 4 GiB/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => WasmEngine.create({ ...ok, ...change }),
      (e) => e instanceof RangeError && message.test(e.message),
    );
  }
  const net = WasmEngine.create(ok);
  net.inputs[2] = 5;
  assert.throws(() => net.forward(), /Invalid inputs: token 5 at index 2 is outside/);
  net.inputs[2] = 0;
  assert.throws(() => net.backward(), /Backward without forward/);
  net.forward({ training: false });
  assert.throws(() => net.backward(), /Backward without forward/);
});

Deno.test("the former names still work: WasmCore, WebGpuCore, adamM/adamV, engine.core", async () => {
  const engines = await import("../src/engine/mod.ts");
  assert.equal(engines.WasmCore, engines.WasmEngine);
  assert.equal(engines.WebGpuCore, engines.WebGpuEngine);
  using net = engines.WasmCore.create({
    vocabSize: 4,
    hidden: 3,
    layers: 1,
    dropout: 0,
    batch: 1,
    seq: 2,
  });
  assert.ok(net instanceof WasmEngine);
  assert.equal(net.core, net);
  assert.equal(net.adamM, net.firstMoment);
  assert.equal(net.adamV, net.secondMoment);
  const m = new Float32Array(net.layout.size).map((_, i) => i);
  const v = new Float32Array(net.layout.size).map((_, i) => 2 * i);
  net.load({ adamM: m, adamV: v });
  assert.deepEqual([...net.firstMoment], [...m]);
  assert.deepEqual([...net.secondMoment], [...v]);
  net.load({ firstMoment: v });
  assert.deepEqual([...net.firstMoment], [...v]);
});

Deno.test("a profile counts each kernel of the engine it wraps, only while it lasts", () => {
  const config = { vocabSize: 7, hidden: 8, layers: 2, dropout: 0.5, batch: 2, seq: 3 };
  using net = seeded(config);
  using other = seeded(config);
  const timings = new Map<string, KernelTiming>();
  profile(net, timings);
  net.forward();
  other.forward();
  net.backward();
  profile(net, null);
  net.forward();
  const calls = Object.fromEntries([...timings].map(([k, t]) => [k, t.calls]));
  // Per layer: the input projection and the time loop, dropout's mask and product, forward and
  // backward; then the output layer and the loss once.
  assert.deepEqual(calls, {
    recurrentForwardInput: 2,
    recurrentForwardLoop: 2,
    dropoutMask: 2,
    multiply: 4,
    linearForward: 1,
    crossEntropy: 1,
    linearBackward: 1,
    recurrentBackwardLoop: 2,
    recurrentWeightGrads: 2,
  });
  assert.ok([...timings.values()].every((t) => t.ms >= 0));
  assert.throws(() => profile({}, null), /Cannot probe: not a WasmEngine/);
});
