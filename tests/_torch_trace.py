"""Test helper (optional: needs PyTorch): PyTorch's states for charlstm's trace. Reads a JSON
case on stdin, {"checkpoint": PATH, "text": STR, "steps": K}; loads the checkpoint into the
tutorial's CharRNN with load_state_dict(strict=True) (the charlstm_torch package's
load_state_dict_file) and prints, as JSON, {"h": [...], "c": [...]}: h[p][l] is layer l's
hidden state after reading text[0..p] from a zero state (p < K), in float64 (PyTorch returns
every layer's final state, so each prefix is run once); c likewise for the LSTM, null for the
other cells.
   python3 _torch_trace.py < CASE.json"""
import json
import os
import sys

import torch

# The package lives beside tests/ (no install step): python/charlstm_torch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from charlstm_torch.model import load_state_dict_file  # noqa: E402


def main():
    case = json.load(sys.stdin)
    net, chars, _ = load_state_dict_file(case["checkpoint"])
    net = net.double()
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in case["text"]]
    hs, cs = [], []
    for p in range(case["steps"]):
        x = torch.tensor([ids[:p + 1]], dtype=torch.long)  # one-hot in float64 by the model
        with torch.no_grad():
            _, hidden = net(x, None)
        if isinstance(hidden, tuple):
            hs.append(hidden[0][:, 0, :].tolist())
            cs.append(hidden[1][:, 0, :].tolist())
        else:
            hs.append(hidden[:, 0, :].tolist())
    print(json.dumps({"h": hs, "c": cs if cs else None}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
