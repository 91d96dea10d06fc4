"""nanoGPT's CPU recipe, the peer of the learning goals (bench/README.md, "What a budget buys").

A small GPT as nanoGPT's README runs it on a laptop ("I only have a macbook": 4 layers, 4 heads,
128 wide, context 64, batch 12, 2,000 iterations, dropout 0; config/train_shakespeare_char.py's
AdamW at lr 1e-3, beta2 0.99, weight decay 0.1 on matrices, 100 warm-up steps, cosine to 1e-4,
gradient clip 1; bias-free LayerNorm and Linear, GELU, tied input and output embeddings, weights
N(0, 0.02) with the residual projections scaled by 1/sqrt(2 layers); random windows of the
training text). Written here from that description, not nanoGPT's source, so that it runs with
Debian's torch 1.13 and no download.

  /usr/bin/python3 bench/nanogpt_cpu.py --train train.txt --val val.txt [--iters 2000]
      [--threads 1] [--seed 1337]

Prints one JSON line: its wall time, nanoGPT's own estimate (20 random validation batches) and the
loss over the whole validation text (every character scored with at least 32 of context: windows
of 64 at a stride of 32, the first scored whole). Both texts share the vocabulary of the two.
"""
import argparse, json, math, time

import torch
from torch import nn
from torch.nn import functional as F

p = argparse.ArgumentParser()
p.add_argument("--train", required=True)
p.add_argument("--val", required=True)
for name, default in [("iters", 2000), ("threads", 1), ("seed", 1337), ("layers", 4), ("heads", 4),
                      ("width", 128), ("context", 64), ("batch", 12)]:
    p.add_argument(f"--{name}", type=int, default=default)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

train_text = open(a.train, encoding="utf-8").read()
val_text = open(a.val, encoding="utf-8").read()
chars = sorted(set(train_text + val_text))
index = {c: i for i, c in enumerate(chars)}
train_ids = torch.tensor([index[c] for c in train_text], dtype=torch.long)
val_ids = torch.tensor([index[c] for c in val_text], dtype=torch.long)
V, T, C, L, H = len(chars), a.context, a.width, a.layers, a.heads


class LayerNorm(nn.Module):
    """LayerNorm with a weight and no bias (nanoGPT's bias=False)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(C), LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)
        self.fc = nn.Linear(C, 4 * C, bias=False)
        self.fc_proj = nn.Linear(4 * C, C, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, x):
        B, t, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (z.view(B, t, H, C // H).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, t, C))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = LayerNorm(C)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
        for b in self.blocks:
            for w in (b.proj.weight, b.fc_proj.weight):
                nn.init.normal_(w, 0.0, 0.02 / math.sqrt(2 * L))

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.t()  # tied output embedding


model = GPT()
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))


def lr_at(it, lr=1e-3, min_lr=1e-4, warmup=100):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    ratio = min(1.0, (it - warmup) / (a.iters - warmup))
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


def batch(ids):
    ix = torch.randint(len(ids) - T - 1, (a.batch,))
    return (torch.stack([ids[i:i + T] for i in ix]), torch.stack([ids[i + 1:i + T + 1] for i in ix]))


t0 = time.perf_counter()
for it in range(a.iters):
    for g in opt.param_groups:
        g["lr"] = lr_at(it)
    x, y = batch(train_ids)
    loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
train_seconds = time.perf_counter() - t0

model.eval()
with torch.no_grad():
    estimate = sum(F.cross_entropy(model(x).view(-1, V), y.view(-1)).item()
                   for x, y in (batch(val_ids) for _ in range(20))) / 20
    total, count, stride = 0.0, 0, T // 2
    starts = list(range(0, len(val_ids) - T - 1, stride))
    for n in range(0, len(starts), 256):
        s = starts[n:n + 256]
        x = torch.stack([val_ids[i:i + T] for i in s])
        y = torch.stack([val_ids[i + 1:i + T + 1] for i in s])
        nll = F.cross_entropy(model(x).view(-1, V), y.view(-1), reduction="none").view(len(s), T)
        for row, i in enumerate(s):
            keep = nll[row] if i == 0 else nll[row, T - stride:]
            total += keep.sum().item()
            count += keep.numel()

print(json.dumps({"train": a.train, "iters": a.iters, "threads": a.threads,
                  "trainSeconds": round(train_seconds, 1), "estimate": round(estimate, 4),
                  "valLoss": round(total / count, 4), "scored": count,
                  "params": sum(p.numel() for p in model.parameters())}))
