#!/usr/bin/env python3
"""Continue a charlstm training run in PyTorch, across processes with DistributedDataParallel,
and write a checkpoint that charlstm's `train.ts --resume` continues and `sample.ts` samples.

    # 2 processes on one CPU machine (gloo)
    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 scripts/pytorch_ddp.py \\
        --data data/anna.txt --resume checkpoints/last.safetensors --steps 2000 --out ddp
    # the mean cross-entropy of a checkpoint on a text, as charlstm's evaluate() gives it
    python3 scripts/pytorch_ddp.py --resume ddp/last.safetensors --data held_out.txt --evaluate

It reads the checkpoint (weights, config, vocabulary and its encoding, optimizer moments,
counters, carried state), builds the same model (nn.LSTM / nn.GRU / nn.RNN, an optional
nn.Embedding, nn.Linear) and trains it with charlstm's semantics: the tutorial's get_batches with
the batch rows split across ranks, the carried state reset at each epoch, dropout between layers
and before the output layer, clipping by global norm or by value, Adam (AdamW with a weight
decay) or SGD (momentum, L2 weight decay) with charlstm's float32 arithmetic, its learning-rate
schedules, validation on the held-out end of the text (or the held-out lines in --lines mode).
Each rank backpropagates the summed cross-entropy of its rows divided by the number of targets in
the whole (global) batch, and the gradients are summed (not averaged) across ranks, so every rank
holds exactly the gradient of the global batch's mean loss: N processes take the same steps as
one process with the same batch.

The weight decay is --weight-decay when given, else the checkpoint's, and is written back. The
checkpoint's trainTime (seconds trained in all) grows by this script's wall clock from its first
step. The script stops at --steps / --epochs (it has no --time): a checkpoint trained with
train.ts --time keeps its budget as read, so the seconds trained here count toward it and
train.ts --resume goes on for what is left of it.

Needs Python 3 and PyTorch >= 1.13, nothing else (safetensors is read and written by hand).
Bad input ends with one line `Cannot <action>: <what is wrong>` on stderr (from rank 0) and exit
code 2. Run with --help for the flags; they carry train.ts's names.
"""

import argparse
import json
import math
import os
import struct
import sys
import time
import uuid

FORMAT_VERSION = "1"
CELLS = ("lstm", "gru", "rnn")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
MAX_RESTORES = 10
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "anna.txt")

torch = nn = F = dist = None  # imported once the input is known to be good (see main)


class Refusal(Exception):
    """Bad input: printed as one line, exit code 2."""


def rank0():
    return os.environ.get("RANK", "0") == "0"


# ---------------------------------------------------------------------------------------------
# safetensors, by hand (docs/checkpoints.md, "The file")

DTYPE_BYTES = {"F32": 4}


def read_safetensors(path, action):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise Refusal(f"Cannot {action}: no such file")
    except OSError as e:
        raise Refusal(f"Cannot {action}: {e.strerror or e}")
    fail = lambda what: Refusal(f"Cannot {action}: not a valid safetensors file: {what}")
    if len(raw) < 8:
        raise fail(f"{len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > 100_000_000 or 8 + n > len(raw):
        raise fail(f"header length {n} does not fit the file's {len(raw)} bytes")

    def no_duplicates(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise fail(f"duplicate key {json.dumps(k)} in the header")
            seen[k] = v
        return seen

    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except ValueError as e:  # UnicodeDecodeError included
        raise fail(f"the header is not JSON ({e})")
    if not isinstance(header, dict):
        raise fail("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("__metadata__ is not a map of strings")
    data = memoryview(raw)[8 + n:]
    entries = []
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            ok = all(isinstance(d, int) and d >= 0 for d in shape) and 0 <= begin <= end
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise fail(f"tensor {name} has a malformed entry")
        entries.append((begin, end, name, dtype, shape))
    entries.sort()
    at, tensors = 0, {}
    for begin, end, name, dtype, shape in entries:
        if begin != at:
            raise fail(f"tensor {name} does not start where the previous one ends")
        count = 1
        for d in shape:
            count *= d
        if dtype in DTYPE_BYTES and end - begin != count * DTYPE_BYTES[dtype]:
            raise fail(f"tensor {name} has {end - begin} bytes for shape {shape} of {dtype}")
        tensors[name] = (dtype, list(shape), data[begin:end])
        at = end
    if at != len(data):
        raise fail(f"the tensors cover {at} of the {len(data)} data bytes")
    return tensors, metadata


def encode_safetensors(tensors, metadata):
    """tensors: name -> (shape, little-endian float32 bytes). Sorted and padded as the
    reference writer does (and as charlstm writes): compact JSON, metadata first."""
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    utf8 = lambda s: s.encode("utf-8")
    parts = []
    if metadata:
        inner = ",".join(f"{dump(k)}:{dump(metadata[k])}" for k in sorted(metadata, key=utf8))
        parts.append(f'"__metadata__":{{{inner}}}')
    offset, blobs = 0, []
    for name in sorted(tensors, key=utf8):
        shape, blob = tensors[name]
        parts.append(f'{dump(name)}:{{"dtype":"F32","shape":{dump(list(shape))},'
                     f'"data_offsets":[{offset},{offset + len(blob)}]}}')
        offset += len(blob)
        blobs.append(blob)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    return b"".join([struct.pack("<Q", len(header)), header] + blobs)


def write_atomically(path, data):
    """A temporary file in the same folder (named as charlstm names its own, so train.ts clears
    one a crash left behind), flushed, then renamed over `path`."""
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise Refusal(f"Cannot save {path}: {e.strerror or e}")
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # the rename is atomic even where a folder cannot be synced


# ---------------------------------------------------------------------------------------------
# The checkpoint (src/io/checkpoint.ts)

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


def read_checkpoint(path):
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
        kinds = ["momentum_buffer"] if optimizer == "sgd" else ["exp_avg", "exp_avg_sq"]
        for kind in kinds:
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
    return {"config": cfg, "chars": chars, "encoding": encoding, "metadata": meta,
            "weights": weights, "counters": counters, "moments": moments, "carried": carried}


# ---------------------------------------------------------------------------------------------
# Text, vocabulary, batches (src/data/*.ts)

def read_text(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise Refusal(f"Cannot read {path}: no such file")
    except OSError as e:
        raise Refusal(f"Cannot read {path}: {e.strerror or e}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal(f"Cannot read {path}: invalid UTF-8 at byte offset {e.start}")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise Refusal(f"Cannot read {path}: empty corpus: it has no characters")
    return text


class Vocab:
    def __init__(self, chars, encoding):
        self.chars = chars
        self.ids = {c: i for i, c in enumerate(chars)}
        self.lowercase = bool(encoding.get("lowercase"))
        unknown = encoding.get("unknown")
        self.unknown = self.ids[unknown] if unknown is not None else -1

    def encode(self, text, action):
        if self.lowercase:
            text = text.lower()
        ids, get, unk = self.ids, self.ids.get, self.unknown
        if unk < 0:
            missing = [c for c in dict.fromkeys(text) if c not in ids]
            if missing:
                shown = ", ".join(json.dumps(c, ensure_ascii=False) for c in missing[:10])
                raise Refusal(f"Cannot {action}: the text has characters the checkpoint's "
                              f"vocabulary lacks: {shown}")
        return [get(c, unk) for c in text]


class Random:
    """src/_random.ts: mulberry32, in 32-bit unsigned arithmetic."""
    M = 0xFFFFFFFF

    def __init__(self, seed):
        self.state = seed & self.M

    def next(self):
        M = self.M
        self.state = (self.state + 0x6D2B79F5) & M
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & M
        t = t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M)) & M)
        return ((t ^ (t >> 14)) & M) / 4294967296


def line_permutation(count, seed, epoch):
    """src/data/lines.ts linePermutation: Fisher-Yates seeded by (seed, epoch)."""
    M = Random.M
    s = ((((seed ^ 0x9E3779B9) & M) * 0x85EBCA6B) & M) ^ ((((epoch + 1) & M) * 0xC2B2AE35) & M)
    rnd, order = Random(s), list(range(count))
    for i in range(count - 1, 0, -1):
        j = math.floor(rnd.next() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def cosine_cycle(step, per_epoch, o):
    epochs = step / per_epoch
    start, length, index = 0.0, o["cycle_len"], 0
    while epochs >= start + length - 1e-9:
        start += length
        length *= o["cycle_mult"]
        index += 1
    return index, start, length


def scheduled_lr(lr, step, per_epoch, o):
    """src/train/schedule.ts scheduledLr: the lr of the step with 0-based index `step`."""
    if o["lr_schedule"] == "step":
        return lr * o["lr_gamma"] ** math.floor(step / o["lr_step_every"])
    if o["lr_schedule"] == "cosine":
        _, start, length = cosine_cycle(step, per_epoch, o)
        return lr * 0.5 * (1 + math.cos(math.pi * max(0.0, step / per_epoch - start) / length))
    return lr


class StreamSource:
    """The tutorial's get_batches over a text: `batch` contiguous rows walked in windows of
    `seq`, the last target of each row wrapping to its first character. This rank owns rows
    [r0, r1) of every batch."""
    independent = False

    def __init__(self, train, val, batch, seq, r0, r1, device):
        self.batch, self.seq, self.r0, self.r1, self.device = batch, seq, r0, r1, device
        self.train_chars, self.val_chars = len(train), len(val)
        self.per_epoch = len(train) // (batch * seq)
        self.val_batches = len(val) // (batch * seq)
        self.train = self._rows(train, self.per_epoch)
        self.val = self._rows(val, self.val_batches)

    def _rows(self, ids, count):
        if count == 0:
            return None
        arr = torch.tensor(ids[:count * self.batch * self.seq], dtype=torch.long)
        return arr.view(self.batch, count * self.seq)[self.r0:self.r1].contiguous().to(self.device)

    def _window(self, rows, index):
        start, width = index * self.seq, rows.shape[1]
        cols = torch.arange(start + 1, start + 1 + self.seq, device=self.device) % width
        return rows[:, start:start + self.seq], rows[:, cols]

    def fill(self, epoch, index):
        return self._window(self.train, index)

    def fill_val(self, index):
        return self._window(self.val, index)

    def targets(self, epoch, index):
        return self.batch * self.seq


class LineSource:
    """src/data/lines.ts: every line one sequence from a zero state, x = "\\n" + line,
    y = line + "\\n", padded with target -1, lines shuffled each epoch by (seed, epoch)."""
    independent = True

    def __init__(self, lines, cut, newline, batch, seq, seed, r0, r1, device):
        self.train, self.val = lines[:cut], lines[cut:]
        self.batch, self.seq, self.newline, self.seed = batch, seq, newline, seed
        self.r0, self.r1, self.device = r0, r1, device
        self.per_epoch = -(-len(self.train) // batch)
        self.val_batches = -(-len(self.val) // batch)
        self.train_chars = sum(len(x) + 1 for x in self.train)
        self.val_chars = sum(len(x) + 1 for x in self.val)
        self._epoch, self._order = -1, []
        self.val_order = list(range(len(self.val)))

    def _order_for(self, epoch):
        if epoch != self._epoch:
            self._order, self._epoch = line_permutation(len(self.train), self.seed, epoch), epoch
        return self._order

    def _batch(self, lines, order, index, r0, r1):
        x = [[self.newline] * self.seq for _ in range(r1 - r0)]
        y = [[-1] * self.seq for _ in range(r1 - r0)]
        for b in range(r0, r1):
            k = index * self.batch + b
            if k >= len(order):
                break
            line, row_x, row_y = lines[order[k]], x[b - r0], y[b - r0]
            n = min(len(line), self.seq - 1)
            row_x[1:1 + n] = line[:n]
            m = min(len(line), self.seq)
            row_y[:m] = line[:m]
            if len(line) < self.seq:
                row_y[len(line)] = self.newline
        return x, y

    def _tensors(self, x, y):
        to = lambda a: torch.tensor(a, dtype=torch.long, device=self.device).view(-1, self.seq)
        return to(x), to(y)

    def fill(self, epoch, index):
        return self._tensors(*self._batch(self.train, self._order_for(epoch), index,
                                          self.r0, self.r1))

    def fill_val(self, index):
        return self._tensors(*self._batch(self.val, self.val_order, index, self.r0, self.r1))

    def targets(self, epoch, index):
        """Targets in the whole batch (every rank's rows): the loss's denominator."""
        _, y = self._batch(self.train, self._order_for(epoch), index, 0, self.batch)
        return sum(1 for row in y for t in row if t >= 0)


# ---------------------------------------------------------------------------------------------
# The model and charlstm's optimizer arithmetic

def build_model(cfg):
    cell, V, H, L, N, p = (cfg["cell"], cfg["vocabSize"], cfg["hidden"], cfg["layers"],
                           cfg["embedding"], float(cfg["dropout"]))

    class CharRNN(nn.Module):
        """The tutorial's CharRNN: nn.LSTM/GRU/RNN named after its cell (so the state_dict
        names are charlstm's), dropout between layers (the module's own) and before fc."""

        def __init__(self):
            super().__init__()
            if N:
                self.encoder = nn.Embedding(V, N)
            rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
            setattr(self, cell, rnn(N or V, H, L, batch_first=True, dropout=p if L > 1 else 0.0))
            self.dropout = nn.Dropout(p)
            self.fc = nn.Linear(H, V)

        def forward(self, x, state):
            inp = self.encoder(x) if N else F.one_hot(x, V).to(self.fc.weight.dtype)
            out, state = getattr(self, cell)(inp, state)
            return self.fc(self.dropout(out)), state

    return CharRNN()


def duration(seconds):
    """src/cli/_progress.ts duration: 1h05m, 9m59s."""
    s = round(seconds)
    h, m, r = s // 3600, s % 3600 // 60, s % 60
    return f"{h}h{m:02d}m" if h > 0 else f"{m}m{r:02d}s"


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def torch_no_grad(fn):
    def wrapped(*a, **k):
        with torch.no_grad():
            return fn(*a, **k)
    return wrapped


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

    @torch_no_grad
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


# ---------------------------------------------------------------------------------------------
# Flags (train.ts's names)

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node N scripts/pytorch_ddp.py",
        description="Continues a charlstm checkpoint with PyTorch DDP; writes OUT/last.safetensors "
                    "that `deno run -A train.ts --resume` continues.")
    add = p.add_argument
    add("--data", default=DEFAULT_DATA, help="UTF-8 text file to train on (default data/anna.txt)")
    add("--resume", help="the charlstm checkpoint to continue (required)")
    add("--out", default="checkpoints", help="folder for last.safetensors and best.safetensors")
    add("--steps", help="stop after N optimizer steps in all (overrides --epochs)")
    add("--epochs", default="12", help="passes over the training text, in all (default 12)")
    add("--batch", help="sequences per global batch (default: the checkpoint's)")
    add("--seq", help="characters per sequence (default: the checkpoint's)")
    add("--lr", default="0.002", help="learning rate (default 0.002)")
    add("--clip", default="5", help="clip threshold (0 = off; default 5)")
    add("--clip-mode", default="norm", help="norm (global L2 norm) | value (clamp each)")
    add("--optimizer", help="adam | sgd (default: the checkpoint's, else adam)")
    add("--momentum", default="0", help="SGD momentum (default 0)")
    add("--lr-schedule", default="constant", help="constant | step | cosine (warm restarts)")
    add("--lr-step-every", default="1000", help="steps between decays (step schedule)")
    add("--lr-gamma", default="0.5", help="decay factor (step schedule)")
    add("--cycle-len", default="1", help="first cosine cycle, in epochs")
    add("--cycle-mult", default="1", help="each cosine cycle this many times the last")
    add("--save-cycles", action="store_true", help="write cycle-N.safetensors per cosine cycle")
    add("--val", default="0.1", help="fraction of the text (or lines) held out (default 0.1)")
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
        "lr": number("lr", False, 0, 10), "clip": number("clip", False, 0),
        "clip_mode": choice("clip-mode", ("norm", "value")),
        "optimizer": choice("optimizer", ("adam", "sgd")),
        "momentum": number("momentum", False, 0, 0.999),
        "weight_decay": number("weight-decay", False, 0),
        "lr_schedule": choice("lr-schedule", ("constant", "step", "cosine")),
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
    if a.save_cycles and o["lr_schedule"] != "cosine":
        raise Refusal("Cannot parse the command line: --save-cycles needs --lr-schedule cosine")
    o.update(data=a.data, resume=a.resume, out=a.out, lines=a.lines, save_cycles=a.save_cycles,
             log=a.log)
    return o


# ---------------------------------------------------------------------------------------------
# Running

def main(argv):
    o = parse_args(argv)
    ck = read_checkpoint(o["resume"])
    cfg, counters = ck["config"], ck["counters"]
    vocab = Vocab(ck["chars"], ck["encoding"])
    text = read_text(o["data"])
    if o["evaluate"]:
        return evaluate_mode(o, ck, vocab, text)
    action = "train on this text"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    optimizer = o["optimizer"] or (counters or {}).get("optimizer", "adam")
    if counters and counters["optimizer"] != optimizer:
        raise Refusal(f"Cannot resume from {o['resume']}: the model was trained with "
                      f"{counters['optimizer']}, got {optimizer}: train with the same optimizer")
    # As train.ts: --weight-decay when given, else the checkpoint's (absent: 0).
    weight_decay = o["weight_decay"] if o["weight_decay"] is not None else \
        float((counters or {}).get("weightDecay", 0))
    batch = o["batch"] or (counters["batch"] if counters else 32)
    if batch < world:
        raise Refusal(f"Cannot split a batch of {batch} rows across {world} processes: use "
                      f"--batch of at least {world}")
    r0, r1 = batch * rank // world, batch * (rank + 1) // world

    if o["lines"]:
        newline = vocab.ids.get("\n")
        if newline is None:
            raise Refusal(f"Cannot {action}: line mode needs newlines: the model's vocabulary "
                          "has no \"\\n\"")
        lines = [vocab.encode(x, action) for x in text.split("\n") if x]
        cut = math.floor(len(lines) * (1 - o["val"]))
        seq = o["seq"] or (counters["seq"] if counters else max(map(len, lines), default=0) + 1)
    else:
        ids = vocab.encode(text, action)
        cut = math.trunc(len(ids) * (1 - o["val"]))
        seq = o["seq"] or (counters["seq"] if counters else 100)
    if counters and (counters["batch"] != batch or counters["seq"] != seq):
        raise Refusal(f"Cannot resume from {o['resume']}: the model was trained with batch "
                      f"{counters['batch']} × seq {counters['seq']}, got batch {batch} × seq "
                      f"{seq}: train with the same batch and seq")
    per_epoch = (-(-cut // batch) if o["lines"] else cut // (batch * seq))
    if per_epoch == 0:
        held = f" after holding out {o['val'] * 100:g}% for validation" if o["val"] > 0 else ""
        raise Refusal(f"Cannot {action}: corpus too short: {cut} training "
                      f"{'lines' if o['lines'] else 'characters'}{held}, but one batch of "
                      f"{batch} × {seq} needs {'1 line' if o['lines'] else batch * seq}")
    try:
        os.makedirs(o["out"], exist_ok=True)
        probe = os.path.join(o["out"], f".write-test-{uuid.uuid4().hex[:8]}")
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise Refusal(f"Cannot write to --out {o['out']}: {e.strerror or e}")

    import_torch()
    if o["threads"]:
        torch.set_num_threads(o["threads"])
    cuda = o["device"] == "cuda" or (o["device"] == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise Refusal("Cannot use --device cuda: PyTorch sees no CUDA device")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    backend = o["dist_backend"] if o["dist_backend"] != "auto" else ("nccl" if cuda else "gloo")
    if "WORLD_SIZE" in os.environ:
        dist.init_process_group(backend)
    try:
        if o["lines"]:
            source = LineSource(lines, cut, newline, batch, seq, cfg["seed"], r0, r1, device)
        else:
            source = StreamSource(ids[:cut], ids[cut:], batch, seq, r0, r1, device)
        return train(o, ck, source, optimizer, weight_decay, batch, seq, world, rank, r0, r1,
                     device)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def import_torch():
    global torch, nn, F, dist
    import torch as _torch
    import torch.distributed as _dist
    import torch.nn.functional as _F
    from torch import nn as _nn
    torch, nn, F, dist = _torch, _nn, _F, _dist


def finite_tensor(ck, table, name):
    shape, blob = ck[table][name]
    t = torch.frombuffer(bytearray(blob), dtype=torch.float32).view(shape)
    if not torch.isfinite(t).all():
        raise Refusal(f"Cannot resume from {ck['path']}: tensor {name} has a non-finite value")
    return t


def load_weights(model, ck, device):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(finite_tensor(ck, "weights", name))
    return model.to(device)


def f32_bytes(t):
    """Little-endian float32 bytes of a tensor, without numpy."""
    t = t.detach().reshape(-1)
    out = bytearray(t.numel() * 4)
    if out:
        torch.frombuffer(out, dtype=torch.float32).copy_(t)
    return bytes(out)


def tensor_of(ck, key, device):
    return finite_tensor(ck, "moments" if key.startswith("optim.") else "carried", key).to(device)


def evaluate_mode(o, ck, vocab, text):
    """charlstm's evaluate(model, text), dropout off. `--evaluate` (mode stream, evaluate()'s
    default): the exact mean cross-entropy of the text read as one stream from a zero state,
    every character after the first a target (with --lines: each non-empty line from a zero
    state, "\\n" + line in, line + "\\n" out, every target counted). `--evaluate batched`
    (evaluate's mode "batched"): the tutorial's get_batches estimate, the mean of the batches'
    means (with --lines: the lines in order, `batch` at a time, cut at seq - 1 characters)."""
    mode, action = o["evaluate"], "evaluate this text"
    if o["lines"]:
        newline = vocab.ids.get("\n")
        if newline is None:
            raise Refusal(f"Cannot {action}: --lines needs \"\\n\" in the model's vocabulary, "
                          "which has none")
        lines = [vocab.encode(x, action) for x in text.split("\n") if x]
        if not lines:
            raise Refusal(f"Cannot {action}: --lines needs a non-empty line, the text has none")
    else:
        ids = vocab.encode(text, action)
        if len(ids) < 2:
            raise Refusal(f"Cannot {action}: {len(ids)} characters: at least 2 are needed")
        if mode == "stream" and o["batch"] not in (None, 1):
            raise Refusal(f"Cannot {action}: --batch {o['batch']}: the stream is one row (the "
                          "figure does not depend on batching): drop --batch, or use "
                          "--evaluate batched for the tutorial's batched estimate")
    import_torch()
    if o["threads"]:
        torch.set_num_threads(o["threads"])
    ck["path"] = o["resume"]
    cpu = torch.device("cpu")
    model = load_weights(build_model(ck["config"]), ck, cpu).eval()
    V = ck["config"]["vocabSize"]
    ce = lambda logits, y: F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1,
                                           reduction="none").double()
    out = {"mode": mode, "lines": o["lines"]}
    with torch.no_grad():
        if mode == "stream" and o["lines"]:
            # Lines side by side, padded at their ends (where nothing after is counted).
            batch = o["batch"] or 32
            total, count = 0.0, 0
            for at in range(0, len(lines), batch):
                group = lines[at:at + batch]
                width = max(map(len, group)) + 1
                x = [[newline] + line + [newline] * (width - 1 - len(line)) for line in group]
                y = [line + [newline] + [-1] * (width - 1 - len(line)) for line in group]
                y = torch.tensor(y, dtype=torch.long)
                logits, _ = model(torch.tensor(x, dtype=torch.long), None)
                total += ce(logits, y).sum().item()
                count += int((y >= 0).sum().item())
            out.update(loss=total / count, targets=count)
        elif mode == "stream":
            # Windows of --seq characters (default 1024) with the state carried: the figure is
            # the whole stream's, whatever the window.
            window, total, state = o["seq"] or 1024, 0.0, None
            for at in range(0, len(ids) - 1, window):
                x = torch.tensor([ids[at:at + window]], dtype=torch.long)
                y = torch.tensor([ids[at + 1:at + 1 + window]], dtype=torch.long)
                x = x[:, :y.shape[1]]
                logits, state = model(x, state)
                total += ce(logits, y).sum().item()
            out.update(loss=total / (len(ids) - 1), targets=len(ids) - 1)
        else:
            if o["lines"]:
                seq = o["seq"] or max(map(len, lines)) + 1
                batch = o["batch"] or min(32, len(lines))
                source = LineSource(lines, 0, newline, batch, seq, 0, 0, batch, cpu)
            else:
                seq = min(o["seq"] or 100, len(ids) - 1)
                batch = max(1, min(o["batch"] or 32, len(ids) // seq))
                source = StreamSource([], ids, batch, seq, 0, batch, cpu)
            total, state = 0.0, None
            for i in range(source.val_batches):
                x, y = source.fill_val(i)
                logits, state = model(x, None if source.independent else state)
                rows = ce(logits, y)
                total += rows.sum().item() / int((y >= 0).sum().item())
            out.update(loss=total / source.val_batches, batch=batch, seq=seq,
                       batches=source.val_batches)
    if rank0():
        print(json.dumps(out))
    return 0


def train(o, ck, source, optimizer, weight_decay, batch, seq, world, rank, r0, r1, device):
    cfg, counters = ck["config"], ck["counters"]
    ck["path"] = o["resume"]
    V, H, L, cell = cfg["vocabSize"], cfg["hidden"], cfg["layers"], cfg["cell"]
    lstm = cell == "lstm"
    per_epoch, val_batches = source.per_epoch, source.val_batches
    total_steps = o["steps"] if o["steps"] is not None else o["epochs"] * per_epoch
    lr0, clip, clip_mode = o["lr"], o["clip"], o["clip_mode"]
    distributed = dist.is_initialized()

    model = load_weights(build_model(cfg), ck, device)
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    kinds = ["momentum_buffer"] if optimizer == "sgd" else ["exp_avg", "exp_avg_sq"]
    if counters:
        moments = [[tensor_of(ck, f"optim.{k}.{n}", device) for n in names] for k in kinds]
    else:
        moments = [[torch.zeros_like(p) for p in params] for _ in kinds]
    opt = CharlstmOptimizer(params, optimizer, o["momentum"], weight_decay, moments[0],
                            moments[1] if len(moments) > 1 else None)
    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                      else None)

        def sum_hook(_, bucket):  # summed, not averaged: see the module docstring
            fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
            return fut.then(lambda f: f.value()[0])
        net.register_comm_hook(None, sum_hook)

    ts = dict(step=0, epoch=0, batchInEpoch=0, bestValLoss=math.inf, lrScale=1.0)
    if counters:
        ts.update({k: counters[k] for k in ("step", "epoch", "batchInEpoch")})
        if isinstance(counters.get("bestValLoss"), (int, float)):
            ts["bestValLoss"] = float(counters["bestValLoss"])
        scale = counters.get("lrScale")
        if isinstance(scale, (int, float)) and 0 < scale <= 1:
            ts["lrScale"] = float(scale)

    def zero_state(rows):
        h = torch.zeros(L, rows, H, device=device)
        return (h, torch.zeros_like(h)) if lstm else h

    if counters:
        hs = [tensor_of(ck, "state.h", device)[:, r0:r1].contiguous()]
        if lstm:
            hs.append(tensor_of(ck, "state.c", device)[:, r0:r1].contiguous())
        state = tuple(hs) if lstm else hs[0]
    else:
        state = zero_state(r1 - r0)
    step0 = ts["step"]
    # Seconds trained in all (charlstm's trainTime: this run's wall clock added to the
    # checkpoint's), and its --time budget, kept as read: see the module docstring.
    time0 = counters["trainTime"] if counters else 0.0
    budget = counters["timeBudget"] if counters else None

    def trained_seconds():  # (`started` is set where the loop starts)
        return time0 + (time.perf_counter() - started)

    log_file = open(o["log"], "a") if o["log"] and rank == 0 else None

    def say(line):
        if rank == 0:
            print(line, file=sys.stderr, flush=True)

    def event(**e):
        if log_file:
            log_file.write(json.dumps({"time": int(time.time() * 1000), **e}) + "\n")
            log_file.flush()

    def allsum(values):
        t = torch.tensor(values, dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(t)
        return t.tolist()

    def full_state():
        """[layers, batch, hidden] from every rank's rows (a collective: every rank calls)."""
        parts = state if lstm else (state,)
        out = []
        for s in parts:
            full = torch.zeros(L, batch, H, device=device)
            full[:, r0:r1] = s
            if distributed:
                dist.all_reduce(full)
            out.append(full)
        return out

    def save(path):
        carried = full_state()
        if rank != 0:
            return
        tensors = {}
        for i, (n, p) in enumerate(zip(names, params)):
            tensors[n] = (list(p.shape), f32_bytes(p))
            for k, ms in zip(kinds, moments):
                tensors[f"optim.{k}.{n}"] = (list(p.shape), f32_bytes(ms[i]))
        tensors["state.h"] = ([L, batch, H], f32_bytes(carried[0]))
        if lstm:
            tensors["state.c"] = ([L, batch, H], f32_bytes(carried[1]))
        meta = {k: v for k, v in ck["metadata"].items() if k != "charlstm.train"}
        meta["charlstm.train"] = json.dumps({
            "step": ts["step"], "epoch": ts["epoch"], "batchInEpoch": ts["batchInEpoch"],
            "batch": batch, "seq": seq,
            "bestValLoss": ts["bestValLoss"] if math.isfinite(ts["bestValLoss"]) else None,
            "lrScale": ts["lrScale"], "optimizer": optimizer,
            "weightDecay": int(weight_decay) if weight_decay == int(weight_decay) else weight_decay,
            "trainTime": trained_seconds(),
            **({"timeBudget": budget} if budget is not None else {})}, separators=(",", ":"))
        write_atomically(path, encode_safetensors(tensors, meta))

    def validate():
        model.eval()
        sums = []
        with torch.no_grad():
            vstate = zero_state(r1 - r0)
            for i in range(val_batches):
                x, y = source.fill_val(i)
                if source.independent:
                    vstate = zero_state(r1 - r0)
                logits, vstate = model(x, vstate)
                rows = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1,
                                       reduction="none")
                sums += [rows.double().sum().item(), float((y >= 0).sum().item())]
        model.train()
        sums = allsum(sums)
        return sum(sums[2 * i] / sums[2 * i + 1] for i in range(val_batches)) / val_batches

    def ends_cycle(step):
        return o["lr_schedule"] == "cosine" and \
            cosine_cycle(step, per_epoch, o)[0] > cosine_cycle(step - 1, per_epoch, o)[0]

    if ts["batchInEpoch"] >= per_epoch:
        ts["epoch"] += 1
        ts["batchInEpoch"] = 0
        say(f"note: the saved position is past this text's {per_epoch} batches per epoch: "
            f"continuing at the start of epoch {ts['epoch'] + 1}")
    embedded = f" (embedding {cfg['embedding']})" if cfg["embedding"] else ""
    group = dist.get_backend() if distributed else "no process group"
    say(f"model: {L}×{H} {cell}{embedded}, vocabulary {V}, dropout {cfg['dropout']}; {world} "
        f"process{'es' if world > 1 else ''} ({group}, {device.type}), batch {batch} × seq "
        f"{seq} split by rows, {optimizer}"
        f"{f' (weight decay {weight_decay:g})' if weight_decay else ''}, lr {lr0:g}, clip "
        f"{clip:g} ({clip_mode})"
        f"{', line mode' if source.independent else ''}")
    say(f"training on {source.train_chars} characters, validating on {source.val_chars}; "
        f"{per_epoch} batches per epoch, {total_steps} steps"
        + (f" (resuming at step {ts['step']})" if ts["step"] else ""))
    event(type="start", step=ts["step"], totalSteps=total_steps, batchesPerEpoch=per_epoch,
          trainChars=source.train_chars, valChars=source.val_chars, world=world,
          trainTime=time0, timeBudget=budget)
    if budget is not None:
        say(f"note: the checkpoint was trained with --time {duration(budget)} "
            f"({duration(time0)} of it done): this script stops at --steps/--epochs instead; "
            f"its seconds count toward the budget, which the checkpoint it writes keeps "
            f"(train.ts --resume goes on for what is left)")
    if o["val"] > 0 and val_batches == 0:
        say(f"note: validation off: the held-out part ({source.val_chars} characters) is "
            f"smaller than one batch of {batch} × {seq}")

    def snapshot():
        return dict(params=[p.detach().clone() for p in params],
                    moments=[[m.clone() for m in ms] for ms in moments],
                    state=tuple(s.clone() for s in state) if lstm else state.clone(),
                    counters=(ts["step"], ts["epoch"], ts["batchInEpoch"]))

    snap, restores = snapshot(), 0
    last_path = os.path.join(o["out"], "last.safetensors")
    val_loss, diverged = None, False
    started = time.perf_counter()  # the clock starts with the first step, as charlstm's
    net.train()
    while ts["step"] < total_steps:
        step, epoch, index = ts["step"], ts["epoch"], ts["batchInEpoch"]
        if index == 0 or source.independent:
            state = zero_state(r1 - r0)
        x, y = source.fill(epoch, index)
        # Dropout masks: PyTorch's generator, seeded from (seed, step, rank) so that a run
        # restarted from a checkpoint draws the same masks again (an int tuple's hash does not
        # depend on PYTHONHASHSEED).
        if cfg["dropout"] > 0:
            torch.manual_seed(hash((cfg["seed"], step, rank)) % (2 ** 63))
        for p in params:
            p.grad = None
        logits, new_state = net(x, state)
        loss_sum = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1,
                                   reduction="sum")
        targets = source.targets(epoch, index)  # in the whole batch: see the module docstring
        (loss_sum / targets).backward()
        loss = allsum([loss_sum.item()])[0] / targets
        grads = [p.grad for p in params]
        with torch.no_grad():
            norm = math.sqrt(torch.stack([(g * g).double().sum() for g in grads]).sum().item())
            if math.isfinite(norm) and clip > 0 and clip_mode == "norm":
                coef = clip / (norm + 1e-6)
                if coef < 1:
                    for g in grads:
                        g.mul_(f32(coef))
        step_lr = scheduled_lr(lr0, step, per_epoch, o) * ts["lrScale"]
        if not (math.isfinite(loss) and math.isfinite(norm)):
            stop = o["on_divergence"] == "stop" or restores >= MAX_RESTORES
            with torch.no_grad():
                for p, s in zip(params, snap["params"]):
                    p.copy_(s)
                for ms, ss in zip(moments, snap["moments"]):
                    for m, s in zip(ms, ss):
                        m.copy_(s)
            state = tuple(s.clone() for s in snap["state"]) if lstm else snap["state"].clone()
            ts["step"], ts["epoch"], ts["batchInEpoch"] = snap["counters"]
            if not stop:
                ts["lrScale"] *= 0.5
                restores += 1
            say(f"step {step + 1}: loss {loss}, gradient norm {norm}: not applied; " +
                (f"restored step {ts['step']}, learning rate × {ts['lrScale']}" if not stop else
                 f"back at step {ts['step']}, training stopped (--on-divergence stop, or too "
                 "many restores)"))
            event(type="diverged", step=step + 1, loss=loss, gradNorm=norm,
                  action="stopped" if stop else "restored", restoredStep=ts["step"],
                  lrScale=ts["lrScale"])
            if stop:
                diverged = True
                break
            continue
        if clip > 0 and clip_mode == "value":
            c = f32(clip)
            with torch.no_grad():
                for g in grads:
                    g.clamp_(-c, c)
        opt.step(step, step_lr)
        state = tuple(s.detach() for s in new_state) if lstm else new_state.detach()
        ts["step"] += 1
        ts["batchInEpoch"] += 1
        epoch_done = ts["batchInEpoch"] == per_epoch
        if epoch_done:
            ts["epoch"] += 1
            ts["batchInEpoch"] = 0
        s = ts["step"]
        elapsed = time.perf_counter() - started
        speed = (s - step0) * batch * seq / max(elapsed, 1e-9)
        event(type="step", step=s, totalSteps=total_steps, epoch=ts["epoch"] - epoch_done,
              loss=loss, gradNorm=norm, lr=step_lr, charsPerSec=speed, elapsedMs=elapsed * 1000,
              trainTime=time0 + elapsed)
        if s % o["print_every"] == 0 or s == total_steps:
            shown = "-" if val_loss is None else f"{val_loss:.3f}"
            say(f"epoch {ts['epoch'] - epoch_done + 1} step {s}/{total_steps} loss {loss:.3f} "
                f"val {shown} lr {step_lr:.3g} {round(speed)} chars/s")
        if s % o["checkpoint_every"] == 0:
            save(last_path)
        if epoch_done:
            event(type="epoch", step=s, epoch=ts["epoch"])
        if ends_cycle(s):
            cycle = cosine_cycle(s - 1, per_epoch, o)[0] + 1
            event(type="cycle", step=s, epoch=ts["epoch"], cycle=cycle)
            if o["save_cycles"]:
                path = os.path.join(o["out"], f"cycle-{cycle}.safetensors")
                save(path)
                say(f"cosine cycle {cycle} ended at step {s}: saved {path}")
        if val_batches > 0 and o["val_every"] > 0 and (s % o["val_every"] == 0 or s == total_steps):
            val_loss = validate()
            best = val_loss < ts["bestValLoss"]
            if best:
                ts["bestValLoss"] = val_loss
            event(type="validation", step=s, epoch=ts["epoch"], valLoss=val_loss, best=best)
            say(f"step {s} val loss {val_loss:.4f}{' (best)' if best else ''}")
            if best:
                save(os.path.join(o["out"], "best.safetensors"))
        if s % o["checkpoint_every"] == 0:
            snap, restores = snapshot(), 0
    save(last_path)
    event(type="done", step=ts["step"], epoch=ts["epoch"], diverged=diverged, valLoss=val_loss)
    say(f"{'diverged' if diverged else 'done'} at step {ts['step']}"
        + (f", val loss {val_loss:.4f}" if val_loss is not None else "") + f"; saved {last_path}")
    if log_file:
        log_file.close()
    return 1 if diverged else 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except Refusal as e:
        if rank0():
            print(str(e), file=sys.stderr, flush=True)
        code = 2
    sys.exit(code)
