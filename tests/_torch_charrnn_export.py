"""Test helper (optional: runs only where PyTorch is installed): builds the tutorial's CharRNN
with PyTorch's own modules and initialisation, writes its state_dict as safetensors with the
charlstm metadata (the layout safetensors.torch.save_file writes, done here with json and
struct because the safetensors package is not installed), and prints PyTorch's logits for a
prime string as JSON.   python3 _torch_charrnn_export.py OUT.safetensors HIDDEN LAYERS PRIME"""
import json, struct, sys

import os

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from charrnn import CharRNN  # noqa: E402

out, hidden, layers, prime = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
chars = sorted(set(prime + "abcdefghijklmnopqrstuvwxyz .\n"))
torch.manual_seed(0)


net = CharRNN(len(chars), hidden, layers).eval()
state = net.state_dict()
header, blobs, offset = {}, [], 0
for name in sorted(state):  # save_file: by dtype alignment, then name; all F32 here
    data = state[name].detach().contiguous().numpy().astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(state[name].shape),
                    "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
config = {"cell": "lstm", "vocabSize": len(chars), "hidden": hidden, "layers": layers,
          "dropout": 0.5, "seed": 0}
meta = {"charlstm.format": "1", "charlstm.config": json.dumps(config),
        "charlstm.vocab": json.dumps(chars)}
text = json.dumps({"__metadata__": meta, **header}, separators=(",", ":"))
text += " " * (-len(text) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text.encode() + b"".join(blobs))

ids = np.array([[chars.index(c) for c in prime]])
x = np.zeros((1, len(prime), len(chars)), dtype=np.float32)
x[0, np.arange(len(prime)), ids[0]] = 1
with torch.no_grad():
    logits, _ = net(torch.from_numpy(x), None)
print(json.dumps({"logits": logits[-1].tolist(), "chars": chars}))
