"""Learning-rate schedules (src/train/schedule.ts), in the same float64 arithmetic: constant,
step decay, cosine annealing with warm restarts down to a floor, and a linear warm-up.
Torch-free. `o` holds pytorch_ddp.py's options: lr_schedule, lr_step_every, lr_gamma,
cycle_len, cycle_mult, lr_floor (the warm-up is warmup_factor's own)."""

import math


def cosine_cycle(step, per_epoch, o):
    """schedule.ts cosineCycle: (index, first epoch, length in epochs) of the cosine cycle that
    the step with 0-based index `step` belongs to."""
    epochs = step / per_epoch
    start, length, index = 0.0, o["cycle_len"], 0
    # A small tolerance keeps a restart exactly at its step despite float division.
    while epochs >= start + length - 1e-9:
        start += length
        length *= o["cycle_mult"]
        index += 1
    return index, start, length


def scheduled_lr(lr, step, per_epoch, o):
    """schedule.ts scheduledLr: the lr of the step with 0-based index `step`."""
    if o["lr_schedule"] == "step":
        return lr * o["lr_gamma"] ** math.floor(step / o["lr_step_every"])
    if o["lr_schedule"] == "cosine":
        _, start, length = cosine_cycle(step, per_epoch, o)
        floor = o.get("lr_floor", 0.0)
        cos = 0.5 * (1 + math.cos(math.pi * max(0.0, step / per_epoch - start) / length))
        return lr * (floor + (1 - floor) * cos)
    return lr


def warmup_factor(step, warmup):
    """schedule.ts warmupFactor: (step + 1) / warmup during the first `warmup` steps, 1 after
    (the scheduled lr is multiplied by it)."""
    return (step + 1) / warmup if warmup > 0 and step < warmup else 1
