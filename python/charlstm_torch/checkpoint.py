"""charlstm's checkpoint (src/io/checkpoint.ts; docs/checkpoints.md): read and checked, written back.
Torch-free: the tensors stay (shape, float32 bytes) here; model.py turns them into PyTorch's."""

import json
import math

from .errors import Refusal
from .safetensors import encode_safetensors, read_safetensors, write_atomically

FORMAT_VERSION = "1"
CELLS = ("lstm", "gru", "rnn")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def param_layout(cfg):
    """[(name, shape)] in charlstm's (and the CharRNN state_dict's) order."""
    cell, H, V, N, L = cfg["cell"], cfg["hidden"], cfg["vocabSize"], cfg["embedding"], cfg["layers"]
    G = GATES[cell] * H
    out = [("encoder.weight", [V, N])] if N else []
    for layer in range(L):
        inp = H if layer > 0 else (N or V)
        out += [(f"{cell}.weight_ih_l{layer}", [G, inp]), (f"{cell}.weight_hh_l{layer}", [G, H]),
                (f"{cell}.bias_ih_l{layer}", [G]), (f"{cell}.bias_hh_l{layer}", [G])]
    return out + [("fc.weight", [V, H]), ("fc.bias", [V])]


def moment_kinds(optimizer):
    """The optim.<kind>.* tensors an optimizer keeps, in torch.optim's names."""
    return ["momentum_buffer"] if optimizer == "sgd" else ["exp_avg", "exp_avg_sq"]


def read_checkpoint(path):
    """The checkpoint at `path`, checked as charlstm's load() checks it: {path, config, chars,
    encoding, metadata, weights, counters (charlstm.train, or None), moments, carried}, each
    tensor as (shape, float32 bytes). A bad file is a Refusal "Cannot resume from PATH: …"."""
    action = f"resume from {path}"
    tensors, meta = read_safetensors(path, action)
    bad = lambda what: Refusal(f"Cannot {action}: {what}")
    version = meta.get("charlstm.format")
    if version is None:
        raise bad("metadata has no charlstm.format: this is not a charlstm checkpoint")
    if version != FORMAT_VERSION:
        raise bad(f"unsupported checkpoint format version {json.dumps(version)}: this script "
                  f"reads version {FORMAT_VERSION}")

    def parse(key, required=True):
        if key not in meta:
            if required:
                raise bad(f"metadata has no {key}")
            return None
        try:
            return json.loads(meta[key])
        except ValueError:
            raise bad(f"metadata {key} is not valid JSON")

    cfg = parse("charlstm.config")
    if not isinstance(cfg, dict):
        raise bad("charlstm.config is not an object")
    cfg.setdefault("cell", "lstm")
    cfg.setdefault("embedding", 0)
    cfg.setdefault("seed", 0)
    if cfg["cell"] not in CELLS:
        raise bad(f"cell {json.dumps(cfg['cell'])} is not one of {', '.join(CELLS)}")
    for k in ("vocabSize", "hidden", "layers"):
        if not isinstance(cfg.get(k), int) or cfg[k] < 1:
            raise bad(f"charlstm.config.{k} must be a positive integer, got {cfg.get(k)}")
    if not isinstance(cfg["embedding"], int) or cfg["embedding"] < 0:
        raise bad(f"charlstm.config.embedding must be an integer >= 0, got {cfg['embedding']}")
    if not isinstance(cfg.get("dropout"), (int, float)) or not 0 <= cfg["dropout"] < 1:
        raise bad(f"charlstm.config.dropout must be in [0, 1), got {cfg.get('dropout')}")
    chars = parse("charlstm.vocab")
    if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise bad("charlstm.vocab is not an array of single characters")
    if len(set(chars)) != len(chars) or len(chars) != cfg["vocabSize"]:
        raise bad(f"the vocabulary has {len(chars)} characters ({len(set(chars))} distinct) but "
                  f"the config says vocabSize {cfg['vocabSize']}")
    encoding = parse("charlstm.vocab_encoding", required=False) or {}
    if not isinstance(encoding, dict) or encoding.get("unknown") not in chars + [None]:
        raise bad("charlstm.vocab_encoding must be { lowercase, unknown: one of the characters }")

    known = set()

    def take(name, shape, what="tensor"):
        entry = tensors.get(name)
        if entry is None:
            raise bad(f"{what} {name} is missing")
        dtype, got, data = entry
        if dtype != "F32" or got != shape:
            raise bad(f"tensor {name} is {dtype} {got}: expected F32 {shape}")
        known.add(name)
        return (shape, bytes(data))

    layout = param_layout(cfg)
    weights = {name: take(name, shape) for name, shape in layout}
    counters, moments, carried = None, {}, {}
    if "charlstm.train" in meta:
        counters = parse("charlstm.train")
        if not isinstance(counters, dict):
            raise bad("charlstm.train is not an object")
        for k in ("step", "epoch", "batchInEpoch", "batch", "seq"):
            v = counters.get(k)
            if not isinstance(v, int) or v < 0 or (k in ("batch", "seq") and v == 0):
                raise bad(f"charlstm.train.{k} must be a non-negative integer, got {v}")
        optimizer = counters.setdefault("optimizer", "adam")
        if optimizer not in ("adam", "sgd"):
            raise bad(f"charlstm.train.optimizer {json.dumps(optimizer)}: expected adam or sgd")
        wd = counters.setdefault("weightDecay", 0)
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not 0 <= wd < math.inf:
            raise bad(f"charlstm.train.weightDecay must be a number >= 0, got {json.dumps(wd)}")
        # Seconds trained in all, and the --time budget (absent: none), read as charlstm reads
        # them: anything but a finite number >= 0 counts as 0 (and a budget of 0 as none).
        seconds = lambda v: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) \
            and 0 <= v < math.inf else 0.0
        counters["trainTime"] = seconds(counters.get("trainTime"))
        counters["timeBudget"] = seconds(counters.get("timeBudget")) or None
        for kind in moment_kinds(optimizer):
            for name, shape in layout:
                key = f"optim.{kind}.{name}"
                if key not in tensors:
                    raise bad(f"the optimizer state is missing: charlstm.train says "
                              f"{counters['step']} {optimizer} steps were taken, but tensor "
                              f"{key} is absent (continuing needs every optim.{kind}.* tensor)")
                moments[key] = take(key, shape)
        state_shape = [cfg["layers"], counters["batch"], cfg["hidden"]]
        for key in ("state.h", "state.c") if cfg["cell"] == "lstm" else ("state.h",):
            carried[key] = take(key, state_shape, "carried state")
    extra = sorted(set(tensors) - known)
    if extra:
        raise bad(f"unexpected tensors {', '.join(extra[:5])}"
                  f"{' …' if len(extra) > 5 else ''}: expected the weights, optim.* and state.*")
    return {"path": path, "config": cfg, "chars": chars, "encoding": encoding, "metadata": meta,
            "weights": weights, "counters": counters, "moments": moments, "carried": carried}


def train_position(counters):
    """Where training stands, from read_checkpoint's `counters` (None: a model never trained):
    {step, epoch, batchInEpoch, bestValLoss (inf: none yet), lrScale (divergence's halvings)},
    a saved best loss or lr scale that is not usable read as none."""
    ts = dict(step=0, epoch=0, batchInEpoch=0, bestValLoss=math.inf, lrScale=1.0)
    if counters:
        ts.update({k: counters[k] for k in ("step", "epoch", "batchInEpoch")})
        if isinstance(counters.get("bestValLoss"), (int, float)):
            ts["bestValLoss"] = float(counters["bestValLoss"])
        scale = counters.get("lrScale")
        if isinstance(scale, (int, float)) and 0 < scale <= 1:
            ts["lrScale"] = float(scale)
    return ts


def write_checkpoint(path, ck, tensors, counters):
    """Writes `tensors` (name -> (shape, float32 bytes)) to `path`, atomically, with the
    metadata of `ck` (read_checkpoint's) and `counters` as its charlstm.train, in their order:
    a best loss that is not finite is written as null, a whole weight decay as an integer (as
    charlstm writes them), an absent time budget (None) not at all."""
    counters = dict(counters)
    if not math.isfinite(counters["bestValLoss"]):
        counters["bestValLoss"] = None
    wd = counters["weightDecay"]
    counters["weightDecay"] = int(wd) if wd == int(wd) else wd
    if counters.get("timeBudget") is None:
        counters.pop("timeBudget", None)
    meta = {k: v for k, v in ck["metadata"].items() if k != "charlstm.train"}
    meta["charlstm.train"] = json.dumps(counters, separators=(",", ":"))
    write_atomically(path, encode_safetensors(tensors, meta))
