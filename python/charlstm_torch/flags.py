"""scripts/pytorch_ddp.py's flags (train.ts's names), parsed and checked. Torch-free."""

import argparse
import json
import math

from .errors import Refusal


def parse_args(argv, default_data):
    """The options dict of `argv` (flag names with "_" for "-", numbers checked and converted);
    a bad flag is a Refusal "Cannot parse the command line: …". `default_data`: --data's
    default."""
    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node N scripts/pytorch_ddp.py",
        description="Continues a charlstm checkpoint with PyTorch DDP; writes OUT/last.safetensors "
                    "that `deno run -A train.ts --resume` continues.")
    add = p.add_argument
    add("--data", help="UTF-8 text file to train on, or a token file (read by position; found "
        "by its first bytes) (default data/anna.txt)")
    add("--tokens", metavar="FILE",
        help="token file to train on (as train.ts writes it for a text: the text encoded once, "
             "read by position, so memory does not grow with it); instead of --data")
    add("--val-data", metavar="FILE",
        help="validate on FILE (a text or a token file) instead of the last --val of the "
             "training text (all of it trains)")
    add("--resume", help="the charlstm checkpoint to continue (required)")
    add("--out", default="checkpoints", help="folder for last.safetensors and best.safetensors")
    add("--steps", help="stop after N optimizer steps in all (overrides --epochs)")
    add("--epochs", default="12", help="passes over the training text, in all (default 12)")
    add("--batch", help="sequences per global batch (default: the checkpoint's)")
    add("--seq", help="characters per sequence (default: the checkpoint's)")
    add("--lr", default="0.002", help="learning rate (default 0.002)")
    add("--warmup", default="0",
        help="raise the lr linearly over the first N steps in all, as train.ts --warmup: step "
             "s (from 0) takes (s + 1) / N of it; a run resumed past step N has none (default 0)")
    add("--clip", default="5", help="clip threshold (0 = off; default 5)")
    add("--clip-mode", default="norm", help="norm (global L2 norm) | value (clamp each)")
    add("--optimizer", help="adam | sgd (default: the checkpoint's, else adam)")
    add("--momentum", default="0", help="SGD momentum (default 0)")
    add("--lr-schedule", default="constant", help="constant | step | cosine (warm restarts)")
    add("--lr-floor", default="0",
        help="where each cosine cycle ends, as a fraction of --lr (default 0)")
    add("--lr-step-every", default="1000", help="steps between decays (step schedule)")
    add("--lr-gamma", default="0.5", help="decay factor (step schedule)")
    add("--cycle-len", default="1", help="first cosine cycle, in epochs")
    add("--cycle-mult", default="1", help="each cosine cycle this many times the last")
    add("--save-cycles", action="store_true", help="write cycle-N.safetensors per cosine cycle")
    add("--val", help="fraction of the text (or lines) held out (default 0.1)")
    add("--val-every", default="200", help="validate every N steps (0 = never; default 200)")
    add("--checkpoint-every", default="100",
        help="write last.safetensors (and take the divergence snapshot) every N steps")
    add("--on-divergence", default="restore", help="restore (lr halved) | stop")
    add("--lines", action="store_true", help="line mode, as train.ts --lines")
    add("--weight-decay", help="weight decay: decoupled with adam (torch.optim.AdamW's), L2 with "
        "sgd (torch.optim.SGD's); default: the checkpoint's (0 when it has none)")
    add("--threads", help="torch threads per process (default: torch's, OMP_NUM_THREADS)")
    add("--device", default="auto", help="auto (cuda:LOCAL_RANK when CUDA is there) | cpu | cuda")
    add("--dist-backend", default="auto", help="auto (nccl on CUDA, else gloo) | gloo | nccl")
    add("--print-every", default="10", help="progress line interval (default 10)")
    add("--log", help="append every event as a JSON line to FILE (rank 0)")
    add("--evaluate", nargs="?", const="stream", metavar="MODE",
        help="print the mean cross-entropy of --resume on --data as charlstm's evaluate() "
             "computes it, as JSON, and exit: stream (the default: the exact figure of one "
             "stream from a zero state; with --lines, of each line from a zero state) or "
             "batched (the tutorial's estimate: --batch default 32, --seq default 100)")

    def error(message):
        raise Refusal(f"Cannot parse the command line: {message}")
    p.error = error
    a = p.parse_args(argv)

    def number(name, integer=False, lo=-math.inf, hi=math.inf, above=False):
        raw = getattr(a, name.replace("-", "_"))
        if raw is None:
            return None
        try:
            v = float(raw)
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or (integer and v != int(v)):
            raise Refusal(f"Cannot parse the command line: --{name} {json.dumps(raw)} is not "
                          f"{'an integer' if integer else 'a number'}")
        if v < lo or v > hi or (above and v == lo):
            raise Refusal(f"Cannot parse the command line: --{name} {raw} is outside "
                          f"{'(' if above else '['}{lo}, {hi}]")
        return int(v) if integer else v

    def choice(name, allowed):
        v = getattr(a, name.replace("-", "_"))
        if v is not None and v not in allowed:
            raise Refusal(f"Cannot parse the command line: --{name} {json.dumps(v)}: expected "
                          f"{' or '.join(allowed)}")
        return v

    if not a.resume:
        raise Refusal("Cannot start: --resume CHECKPOINT is required (train a first checkpoint "
                      "with `deno run -A train.ts`, or save an untrained createModel())")
    o = {
        "steps": number("steps", True, 1), "epochs": number("epochs", True, 1),
        "batch": number("batch", True, 1, 65536), "seq": number("seq", True, 1, 65536),
        "lr": number("lr", False, 0, 10), "warmup": number("warmup", True, 0),
        "clip": number("clip", False, 0),
        "clip_mode": choice("clip-mode", ("norm", "value")),
        "optimizer": choice("optimizer", ("adam", "sgd")),
        "momentum": number("momentum", False, 0, 0.999),
        "weight_decay": number("weight-decay", False, 0),
        "lr_schedule": choice("lr-schedule", ("constant", "step", "cosine")),
        "lr_floor": number("lr-floor", False, 0, 1),
        "lr_step_every": number("lr-step-every", True, 1),
        "lr_gamma": number("lr-gamma", False, 0, 1, above=True),
        "cycle_len": number("cycle-len", False, 0, above=True),
        "cycle_mult": number("cycle-mult", False, 1),
        "val": number("val", False, 0, 0.99), "val_every": number("val-every", True, 0),
        "checkpoint_every": number("checkpoint-every", True, 1),
        "on_divergence": choice("on-divergence", ("restore", "stop")),
        "threads": number("threads", True, 1, 1024),
        "device": choice("device", ("auto", "cpu", "cuda")),
        "dist_backend": choice("dist-backend", ("auto", "gloo", "nccl")),
        "print_every": number("print-every", True, 1),
        "evaluate": choice("evaluate", ("stream", "batched")),
    }
    if a.tokens is not None and a.data is not None:
        raise Refusal("Cannot parse the command line: --tokens and --data both say what trains: "
                      "give one of them")
    if a.val_data is not None and o["val"] is not None:
        raise Refusal("Cannot parse the command line: --val with --val-data: the validation file "
                      "replaces the held-out part: drop --val")
    if o["val"] is None:
        o["val"] = 0.0 if a.val_data is not None else 0.1
    if a.save_cycles and o["lr_schedule"] != "cosine":
        raise Refusal("Cannot parse the command line: --save-cycles needs --lr-schedule cosine")
    o.update(data=a.tokens or a.data or default_data, tokens=a.tokens is not None,
             val_data=a.val_data, resume=a.resume, out=a.out, lines=a.lines,
             save_cycles=a.save_cycles, log=a.log)
    return o
