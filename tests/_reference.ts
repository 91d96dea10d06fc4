// A float64 stacked LSTM, GRU or tanh RNN (PyTorch's equations) + linear + cross-entropy,
// with an optional embedding, written as plainly as possible: the independent forward that
// finite differences run on.

import { layerInputSize, type ParamLayout } from "../src/model/params.ts";
import { type CoreConfig, gateBlocks } from "../src/model/config.ts";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export interface ReferenceInputs {
  config: CoreConfig;
  layout: ParamLayout;
  params: Float64Array;
  inputs: Int32Array; // [B, T]
  targets: Int32Array; // [B, T]
  h0: Float64Array[]; // per layer [B, H]
  c0: Float64Array[]; // LSTM only
  masks: (Float32Array | null)[]; // per layer [T, B, H] applied to the layer's output
}

/** Mean cross-entropy of the network over the batch, in float64. */
export function referenceLoss(r: ReferenceInputs): number {
  const { hidden: H, layers: L, batch: B, seq: T, vocabSize: V } = r.config;
  const cell = r.config.cell ?? "lstm";
  const N = r.config.embedding ?? 0;
  const p = (name: string) => {
    const spec = r.layout.byName.get(name)!;
    return r.params.subarray(spec.offset, spec.offset + spec.size);
  };
  // x[t][b] is the dense input vector of the current layer
  let x: Float64Array[][] = [];
  for (let t = 0; t < T; t++) {
    x.push([]);
    for (let b = 0; b < B; b++) {
      const token = r.inputs[b * T + t];
      if (N) {
        x[t].push(p("encoder.weight").slice(token * N, (token + 1) * N));
      } else {
        const v = new Float64Array(V);
        v[token] = 1;
        x[t].push(v);
      }
    }
  }
  for (let l = 0; l < L; l++) {
    const inSize = layerInputSize(r.config, l);
    const wih = p(`${cell}.weight_ih_l${l}`), whh = p(`${cell}.weight_hh_l${l}`);
    const bih = p(`${cell}.bias_ih_l${l}`), bhh = p(`${cell}.bias_hh_l${l}`);
    const G = gateBlocks(cell) * H;
    const out: Float64Array[][] = [];
    const h = Array.from({ length: B }, (_, b) => r.h0[l].slice(b * H, (b + 1) * H));
    const c = Array.from({ length: B }, (_, b) => r.c0[l]?.slice(b * H, (b + 1) * H));
    for (let t = 0; t < T; t++) {
      out.push([]);
      for (let b = 0; b < B; b++) {
        // Input and hidden projections apart: the GRU needs them so.
        const ax = new Float64Array(G), ah = new Float64Array(G);
        for (let g = 0; g < G; g++) {
          let sx = bih[g], sh = bhh[g];
          for (let k = 0; k < inSize; k++) sx += wih[g * inSize + k] * x[t][b][k];
          for (let k = 0; k < H; k++) sh += whh[g * H + k] * h[b][k];
          ax[g] = sx;
          ah[g] = sh;
        }
        const hn = new Float64Array(H), cn = new Float64Array(H), y = new Float64Array(H);
        for (let j = 0; j < H; j++) {
          const a = (k: number) => ax[k * H + j] + ah[k * H + j];
          if (cell === "lstm") {
            const i = sigmoid(a(0)), f = sigmoid(a(1)), gg = Math.tanh(a(2)), o = sigmoid(a(3));
            cn[j] = f * c[b]![j] + i * gg;
            hn[j] = o * Math.tanh(cn[j]);
          } else if (cell === "gru") {
            const rr = sigmoid(a(0)), z = sigmoid(a(1));
            const n = Math.tanh(ax[2 * H + j] + rr * ah[2 * H + j]);
            hn[j] = (1 - z) * n + z * h[b][j];
          } else {
            hn[j] = Math.tanh(a(0));
          }
          const m = r.masks[l];
          y[j] = m ? hn[j] * m[(t * B + b) * H + j] : hn[j];
        }
        h[b] = hn;
        c[b] = cn;
        out[t].push(y);
      }
    }
    x = out;
  }
  const w = p("fc.weight"), bias = p("fc.bias");
  let total = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const z = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let s = bias[v];
        for (let k = 0; k < H; k++) s += w[v * H + k] * x[t][b][k];
        z[v] = s;
      }
      const mx = Math.max(...z);
      const lse = mx + Math.log(z.reduce((acc, zv) => acc + Math.exp(zv - mx), 0));
      total += lse - z[r.targets[b * T + t]];
    }
  }
  return total / (B * T);
}
