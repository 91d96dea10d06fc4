"""PyTorch CPU peer for bench/compare.ts: the tutorial's CharRNN (one-hot input, nn.LSTM or
nn.GRU with --cell, dropout, nn.Linear), Adam, cross-entropy, clip_grad_norm_ 5; sampling one character at a time
with the tutorial's predict (softmax, top-k, np.random.choice).

  python3 bench/torch_charrnn.py --hidden 128 --layers 2 --batch 32 --seq 64 --vocab 83 \
      --threads 2 --rounds 5 --steps 3 --sample 1000

Prints one JSON line: training and sampling chars/s per round, and peak RSS (VmHWM) in MiB.
"""
import argparse, json, os, resource, sys, time

import numpy as np
import torch
from torch import nn

# The package lives beside bench/ (no install step): python/charlstm_torch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from charlstm_torch.model import CharRNN  # noqa: E402


def one_hot(arr, n):
    """The tutorial's one_hot_encode: int array of any shape -> float32 [..., n]."""
    out = np.zeros((arr.size, n), dtype=np.float32)
    out[np.arange(arr.size), arr.flatten()] = 1.0
    return out.reshape((*arr.shape, n))


p = argparse.ArgumentParser()
for name, default in [("hidden", 128), ("layers", 2), ("batch", 32), ("seq", 64), ("vocab", 83),
                      ("threads", 2), ("rounds", 5), ("steps", 3), ("sample", 1000)]:
    p.add_argument("--" + name, type=int, default=default)
p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


net = CharRNN(a.vocab, a.hidden, a.layers, cell=a.cell)


def zero_state(batch):
    """(h, c) for the LSTM, h alone for the others."""
    h = torch.zeros(a.layers, batch, a.hidden)
    return (h, torch.zeros_like(h)) if a.cell == "lstm" else h


def detach(hidden):
    return tuple(t.data for t in hidden) if isinstance(hidden, tuple) else hidden.data
opt = torch.optim.Adam(net.parameters(), lr=0.001)
criterion = nn.CrossEntropyLoss()
rng = np.random.default_rng(0)
x = rng.integers(0, a.vocab, size=(a.batch, a.seq))
y = rng.integers(0, a.vocab, size=(a.batch, a.seq))
h = zero_state(a.batch)


def train_step():
    global h
    net.train()
    inputs = torch.from_numpy(one_hot(x, a.vocab))
    targets = torch.from_numpy(y)
    h = detach(h)
    net.zero_grad()
    output, h = net(inputs, h)
    loss = criterion(output, targets.reshape(a.batch * a.seq).long())
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 5)
    opt.step()


train_step()
train = []
for _ in range(a.rounds):
    t0 = time.perf_counter()
    for _ in range(a.steps):
        train_step()
    train.append(a.steps * a.batch * a.seq / (time.perf_counter() - t0))


def predict(char, hidden, top_k=5):
    inputs = torch.from_numpy(one_hot(np.array([[char]]), a.vocab))
    hidden = detach(hidden)
    out, hidden = net(inputs, hidden)
    p = torch.nn.functional.softmax(out, dim=1).data
    p, top_ch = p.topk(top_k)
    top_ch = top_ch.numpy().squeeze()
    p = p.numpy().squeeze()
    return np.random.choice(top_ch, p=p / p.sum()), hidden


sample = []
net.eval()
with torch.no_grad():
    for _ in range(max(1, a.rounds // 2)):
        hidden = zero_state(1)
        char = 0
        t0 = time.perf_counter()
        for _ in range(a.sample):
            char, hidden = predict(char, hidden)
        sample.append(a.sample / (time.perf_counter() - t0))

rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"engine": f"pytorch {torch.__version__}", "train": train, "sample": sample,
                  "peakRssMiB": rss}))
