"""The model: the PyTorch char-RNN tutorial's CharRNN (nn.LSTM / nn.GRU / nn.RNN named after
its cell, so that its state_dict names are charlstm's checkpoint names; an optional
nn.Embedding; dropout between layers and before nn.Linear), and charlstm's checkpoint tensors
to and from PyTorch's."""

import json

import torch
import torch.nn.functional as F
from torch import nn

from .errors import Refusal
from .safetensors import read_safetensors


class CharRNN(nn.Module):
    """cell: "lstm" | "gru" | "rnn" (tanh), stored under that attribute name as charlstm's
    checkpoint names it; embedding > 0 adds nn.Embedding as `encoder`. The input is ids
    ([batch, seq] integers: embedded, or one-hot in the weights' dtype) or, as the tutorial
    feeds it, one-hot floats [batch, seq, vocab]; the logits come out [batch · seq, vocab]."""

    def __init__(self, vocab_size, n_hidden, n_layers, drop_prob=0.5, cell="lstm", embedding=0):
        super().__init__()
        self.cell, self.embedding = cell, embedding
        if embedding:
            self.encoder = nn.Embedding(vocab_size, embedding)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        # The module's dropout acts between layers only: one layer has none (and no warning).
        setattr(self, cell, rnn(embedding or vocab_size, n_hidden, n_layers, batch_first=True,
                                dropout=drop_prob if n_layers > 1 else 0.0))
        self.dropout = nn.Dropout(drop_prob)
        self.fc = nn.Linear(n_hidden, vocab_size)

    def forward(self, x, hidden):
        if not x.is_floating_point():
            x = self.encoder(x) if self.embedding else \
                F.one_hot(x, self.fc.out_features).to(self.fc.weight.dtype)
        r_output, hidden = getattr(self, self.cell)(x, hidden)
        out = self.dropout(r_output).contiguous().view(-1, self.fc.in_features)
        return self.fc(out), hidden


def from_config(cfg):
    """A CharRNN of a checkpoint's charlstm.config (read_checkpoint's `config`)."""
    return CharRNN(cfg["vocabSize"], cfg["hidden"], cfg["layers"], float(cfg["dropout"]),
                   cfg["cell"], cfg["embedding"])


def f32_tensor(shape, blob):
    """A float32 tensor of `shape` from little-endian float32 bytes (a copy)."""
    return torch.frombuffer(bytearray(blob), dtype=torch.float32).view(shape)


def f32_bytes(t):
    """Little-endian float32 bytes of a tensor, without numpy."""
    t = t.detach().reshape(-1)
    out = bytearray(t.numel() * 4)
    if out:
        torch.frombuffer(out, dtype=torch.float32).copy_(t)
    return bytes(out)


def tensors_of(model, moments, carried):
    """A checkpoint's tensors (name -> (shape, float32 bytes)): the weights of `model`, the
    optimizer's `moments` (kind -> one tensor per parameter, in its order) as optim.<kind>.*,
    and the `carried` state [layers, batch, hidden] as state.h (and state.c for the LSTM)."""
    tensors = {}
    for i, (name, p) in enumerate(model.named_parameters()):
        tensors[name] = (list(p.shape), f32_bytes(p))
        for kind, ms in moments.items():
            tensors[f"optim.{kind}.{name}"] = (list(p.shape), f32_bytes(ms[i]))
    for key, s in zip(("state.h", "state.c"), carried):
        tensors[key] = (list(s.shape), f32_bytes(s))
    return tensors


def checkpoint_tensor(ck, key, device):
    """A weight, optim.* moment or state.* tensor of read_checkpoint's `ck`, on `device`; a
    non-finite value is a Refusal."""
    table = "weights" if key in ck["weights"] else \
        "moments" if key.startswith("optim.") else "carried"
    t = f32_tensor(*ck[table][key])
    if not torch.isfinite(t).all():
        raise Refusal(f"Cannot resume from {ck['path']}: tensor {key} has a non-finite value")
    return t.to(device)


def load_weights(model, ck, device):
    """`model` with the weights of `ck` copied in, moved to `device`."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(checkpoint_tensor(ck, name, "cpu"))
    return model.to(device)


def load_state_dict_file(path):
    """(model in eval mode, vocabulary, names of the other tensors): a charlstm checkpoint read
    as PyTorch users read one, with no check of ours: a CharRNN of its config, given its
    tensors but the optim.* and state.* ones by load_state_dict(strict=True), which names any
    weight missing or left over."""
    tensors, meta = read_safetensors(path, f"load {path}")
    config, chars = json.loads(meta["charlstm.config"]), json.loads(meta["charlstm.vocab"])
    state = {name: f32_tensor(shape, data) for name, (_, shape, data) in tensors.items()
             if not name.startswith(("optim.", "state."))}
    net = CharRNN(len(chars), config["hidden"], config["layers"], cell=config.get("cell", "lstm"),
                  embedding=config.get("embedding", 0)).eval()
    net.load_state_dict(state, strict=True)
    return net, chars, sorted(set(tensors) - set(state))
