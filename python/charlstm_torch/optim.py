"""charlstm's optimizer arithmetic (assembly/optim.ts) in PyTorch, element for element in
float32, and its gradient clipping (by global L2 norm, or by value)."""

import math
import struct

import torch


def f32(x):
    """`x` rounded to float32 (as the WASM core rounds its constants), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


@torch.no_grad()
def global_norm(grads):
    """The global L2 norm of the gradients, summed in float64 (the core's figure)."""
    return math.sqrt(torch.stack([(g * g).double().sum() for g in grads]).sum().item())


@torch.no_grad()
def clip_by_norm(grads, norm, clip):
    """Scales the gradients by clip / (norm + 1e-6) (rounded to float32) when that is below 1."""
    coef = clip / (norm + 1e-6)
    if coef < 1:
        for g in grads:
            g.mul_(f32(coef))


@torch.no_grad()
def clip_by_value(grads, clip):
    """Clamps each gradient to ±clip (rounded to float32)."""
    c = f32(clip)
    for g in grads:
        g.clamp_(-c, c)


class CharlstmOptimizer:
    """assembly/optim.ts, element for element in float32 (its constants rounded as the WASM
    core rounds them). Adam is torch.optim.AdamW's update (torch.optim.Adam's when the weight
    decay is 0): p ← p·(1 − lr·wd), the factor computed in float64 with the step's lr and
    rounded to float32 once, then the Adam update. SGD is torch.optim.SGD's with dampening 0
    (the momentum buffer starts at the first step) and L2 weight decay: d = g + wd·p."""

    def __init__(self, params, kind, momentum, weight_decay, m, v):
        self.params, self.kind, self.momentum = params, kind, f32(momentum)
        self.weight_decay = weight_decay
        self.m, self.v = m, v  # exp_avg (or momentum_buffer), exp_avg_sq

    @torch.no_grad()
    def step(self, step, lr):
        """`step`: steps taken before this one; `lr`: the step's learning rate (float64)."""
        t, wd, lr64, lr = step + 1, self.weight_decay, lr, f32(lr)
        if self.kind == "adam":
            b1, b2, eps = f32(0.9), f32(0.999), f32(1e-8)
            b1c, b2c = f32(1 - b1), f32(1 - b2)
            bc1, bc2 = f32(1 - 0.9 ** t), f32(1 - 0.999 ** t)
            step_size, inv_sqrt_bc2 = f32(lr / bc1), f32(1.0 / math.sqrt(bc2))
            decay = f32(1 - lr64 * wd) if wd != 0 else 1.0
            for p, m, v in zip(self.params, self.m, self.v):
                g = p.grad
                m.mul_(b1).add_(g * b1c)
                v.mul_(b2).add_((g * g).mul_(b2c))
                denom = v.sqrt().mul_(inv_sqrt_bc2).add_(eps)
                if decay != 1:
                    p.mul_(decay)
                p.sub_((m * step_size).div_(denom))
        else:
            mu, wd = self.momentum, f32(wd)
            for p, buf in zip(self.params, self.m):
                d = p.grad
                if wd != 0:
                    d = d + p * wd
                if mu != 0:
                    if t == 1:
                        buf.copy_(d)
                    else:
                        buf.mul_(mu).add_(d)
                    d = buf
                p.sub_(d * lr)
