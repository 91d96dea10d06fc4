// The loss in WGSL (assembly/loss.ts's counterpart): log-softmax and cross-entropy fused per
// row, with the gradient of the logits when training, and the batch's mean loss summed in a
// fixed order into the scalars buffer. A non-finite logit makes the loss NaN explicitly.

import type { Dims, Kernel } from "./_wgsl_common.ts";
import { flatIndex, grid1, kernel, read, readWrite, REDUCE_256, SCALAR } from "./_wgsl_common.ts";

/**
 * Fused log-softmax and cross-entropy, one invocation per row of logits [T·B, V] (time-major);
 * targets [B, T], -1 = padding (zero loss, zero gradient). rowLoss[r] = logsumexp - z[target];
 * with WITH_GRAD, dlogits = (softmax - onehot) · invCount. Buffers: logits (read), targets
 * (read), rowLoss, dlogits (training only).
 */
export function crossEntropy(d: Dims, withGrad: boolean): Kernel {
  const c = { B: d.B, T: d.T, V: d.V, WITH_GRAD: withGrad };
  const buffers = [read("z"), read("targets", "i32"), readWrite("rowLoss")];
  return kernel(
    "crossEntropy",
    c,
    withGrad ? [...buffers, readWrite("dz")] : buffers,
    /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let r = ${flatIndex(64)};
  if (r >= T * B) { return; }
  let t = r / B; let bb = r % B;
  let tgt = targets[bb * T + t];
  let row = r * V;
  if (tgt < 0) {
    rowLoss[r] = 0.0;
    ${withGrad ? "for (var j = 0u; j < V; j++) { dz[row + j] = 0.0; }" : ""}
    return;
  }
  // min/max may drop a NaN operand: a non-finite logit makes the row's loss NaN explicitly.
  var mx = z[row];
  var bad = !finite(mx);
  for (var j = 1u; j < V; j++) { mx = max(mx, z[row + j]); bad = bad || !finite(z[row + j]); }
  if (bad) {
    rowLoss[r] = nan_f32();
    return;
  }
  var s = 0.0;
  for (var j = 0u; j < V; j++) {
    let e = exp_c(z[row + j] - mx);
    ${withGrad ? "dz[row + j] = e;" : ""}
    s += e;
  }
  rowLoss[r] = (mx + log(s)) - z[row + u32(tgt)];
  ${
      withGrad
        ? `let k = su.invCount / s;
  for (var j = 0u; j < V; j++) { dz[row + j] = dz[row + j] * k; }
  dz[row + u32(tgt)] = dz[row + u32(tgt)] - su.invCount;`
        : ""
    }
}`,
    grid1(d.T * d.B, 64),
  );
}

/**
 * Mean loss of the batch into scalars[lossSlot] (and scalars[loss]): one workgroup sums
 * rowLoss in a fixed order. Buffers: rowLoss (read), scalars.
 */
export function lossSum(rows: number): Kernel {
  return kernel(
    "lossSum",
    { ROWS: rows, LOSS: SCALAR.loss },
    [read("rowLoss"), readWrite("scalars")],
    /* wgsl */ `${REDUCE_256}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  var bad = 0u;
  for (var r = li; r < ROWS; r += 256u) {
    s += rowLoss[r];
    bad |= select(1u, 0u, finite(rowLoss[r]));
  }
  reduce256(li, s, bad);
  if (li == 0u) {
    var loss = part[0] * su.invCount;
    if (badPart[0] != 0u) { loss = nan_f32(); }
    scalars[LOSS] = loss;
    scalars[su.lossSlot] = loss;
  }
}`,
    [1, 1],
  );
}
