"""Test helper (optional: needs PyTorch): loads a charlstm checkpoint into the tutorial's
CharRNN with load_state_dict(strict=True) (reading safetensors with json and struct, as
safetensors.torch.load_file would) and prints the logits for a prime string as JSON.
   python3 _torch_load_check.py CHECKPOINT PRIME"""
import json, struct, sys

import os

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from charrnn import CharRNN  # noqa: E402

path, prime = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__")
config, chars = json.loads(meta["charlstm.config"]), json.loads(meta["charlstm.vocab"])
tensors = {}
for name, info in header.items():
    begin, end = info["data_offsets"]
    array = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f4").reshape(info["shape"])
    tensors[name] = torch.from_numpy(array.copy())
state = {k: v for k, v in tensors.items() if not k.startswith(("optim.", "state."))}


net = CharRNN(len(chars), config["hidden"], config["layers"], cell=config.get("cell", "lstm"),
              embedding=config.get("embedding", 0)).eval()
net.load_state_dict(state, strict=True)
ids = [chars.index(c) for c in prime]
if net.embedding:
    x = torch.tensor([ids], dtype=torch.long)
else:
    x = np.zeros((1, len(prime), len(chars)), dtype=np.float32)
    x[0, np.arange(len(prime)), ids] = 1
    x = torch.from_numpy(x)
with torch.no_grad():
    logits, _ = net(x, None)
print(json.dumps({"logits": logits[-1].tolist(), "extra": sorted(set(tensors) - set(state))}))
