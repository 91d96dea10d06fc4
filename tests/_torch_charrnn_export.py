"""Test helper (optional: runs only where PyTorch is installed): builds the tutorial's CharRNN
with PyTorch's own modules and initialisation, writes its state_dict as safetensors with the
charlstm metadata (the layout safetensors.torch.save_file writes, done by the charlstm_torch
package because the safetensors package is not installed), and prints PyTorch's logits for a
prime string as JSON.   python3 _torch_charrnn_export.py OUT.safetensors HIDDEN LAYERS PRIME"""
import json
import os
import sys

import torch

# The package lives beside tests/ (no install step): python/charlstm_torch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from charlstm_torch.model import CharRNN, f32_bytes  # noqa: E402
from charlstm_torch.safetensors import encode_safetensors  # noqa: E402

out, hidden, layers, prime = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
chars = sorted(set(prime + "abcdefghijklmnopqrstuvwxyz .\n"))
torch.manual_seed(0)


net = CharRNN(len(chars), hidden, layers).eval()
state = net.state_dict()
config = {"cell": "lstm", "vocabSize": len(chars), "hidden": hidden, "layers": layers,
          "dropout": 0.5, "seed": 0}
meta = {"charlstm.format": "1", "charlstm.config": json.dumps(config),
        "charlstm.vocab": json.dumps(chars)}
tensors = {name: (list(t.shape), f32_bytes(t)) for name, t in state.items()}
with open(out, "wb") as f:
    f.write(encode_safetensors(tensors, meta))

ids = torch.tensor([[chars.index(c) for c in prime]])
with torch.no_grad():
    logits, _ = net(ids, None)
print(json.dumps({"logits": logits[-1].tolist(), "chars": chars}))
