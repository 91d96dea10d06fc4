"""Test helper (optional: needs PyTorch): PyTorch's own figure for charlstm's evaluate. Reads a
JSON list of cases on stdin, {"checkpoint": PATH, "text": STR, "lines": BOOL}; loads each
checkpoint into the tutorial's CharRNN with load_state_dict(strict=True) (the charlstm_torch
package's load_state_dict_file) and prints, as JSON, one {"f32": LOSS, "f64": LOSS} per case:
the mean cross-entropy of one forward at batch 1 from a zero state, eval mode, in float32 and
in float64. Without lines, the text is one stream: predict text[1:] from text[:-1]. With
lines, each non-empty line is its own stream: predict line + "\\n" from "\\n" + line; the mean
is over every target of every line.
   python3 _torch_evaluate.py < CASES.json"""
import json
import os
import sys

import torch
import torch.nn.functional as F

# The package lives beside tests/ (no install step): python/charlstm_torch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from charlstm_torch.model import load_state_dict_file  # noqa: E402


def stream_loss(net, ids):
    """Summed cross-entropy of predicting ids[1:] from ids[:-1], one stream from zero (the
    model one-hots the ids in its weights' dtype)."""
    x = torch.tensor([ids[:-1]], dtype=torch.long)
    with torch.no_grad():
        logits, _ = net(x, None)
        y = torch.tensor(ids[1:], dtype=torch.long)
        return F.cross_entropy(logits.double(), y, reduction="sum").item(), len(ids) - 1


def main():
    out = []
    for case in json.load(sys.stdin):
        net, chars, _ = load_state_dict_file(case["checkpoint"])
        index = {c: i for i, c in enumerate(chars)}
        if case.get("lines"):
            nl = index["\n"]
            streams = [[nl] + [index[c] for c in line] + [nl]
                       for line in case["text"].split("\n") if line]
        else:
            streams = [[index[c] for c in case["text"]]]
        result = {}
        for name, dtype in (("f32", torch.float32), ("f64", torch.float64)):
            model = net.to(dtype)
            total, count = 0.0, 0
            for ids in streams:
                s, n = stream_loss(model, ids)
                total, count = total + s, count + n
            result[name] = total / count
        out.append(result)
    print(json.dumps(out))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
