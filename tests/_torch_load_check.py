"""Test helper (optional: needs PyTorch): loads a charlstm checkpoint into the tutorial's
CharRNN with load_state_dict(strict=True) (reading safetensors with the charlstm_torch
package, as safetensors.torch.load_file would) and prints the logits for a prime string, and
the names of the tensors that are not weights, as JSON.
   python3 _torch_load_check.py CHECKPOINT PRIME"""
import json
import os
import sys

import torch

# The package lives beside tests/ (no install step): python/charlstm_torch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from charlstm_torch.model import load_state_dict_file  # noqa: E402

path, prime = sys.argv[1], sys.argv[2]
net, chars, extra = load_state_dict_file(path)
ids = torch.tensor([[chars.index(c) for c in prime]])  # one-hot (or embedded) by the model
with torch.no_grad():
    logits, _ = net(ids, None)
print(json.dumps({"logits": logits[-1].tolist(), "extra": extra}))
