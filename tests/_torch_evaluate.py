"""Test helper (optional: needs PyTorch): PyTorch's own figure for charlstm's evaluate. Reads a
JSON list of cases on stdin, {"checkpoint": PATH, "text": STR, "lines": BOOL}; loads each
checkpoint into the tutorial's CharRNN with load_state_dict(strict=True) (safetensors read with
json and struct, as safetensors.torch.load_file would) and prints, as JSON, one
{"f32": LOSS, "f64": LOSS} per case: the mean cross-entropy of one forward at batch 1 from a
zero state, eval mode, in float32 and in float64. Without lines, the text is one stream:
predict text[1:] from text[:-1]. With lines, each non-empty line is its own stream:
predict line + "\\n" from "\\n" + line; the mean is over every target of every line.
   python3 _torch_evaluate.py < CASES.json"""
import json, os, struct, sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from charrnn import CharRNN  # noqa: E402


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    config, chars = json.loads(meta["charlstm.config"]), json.loads(meta["charlstm.vocab"])
    state = {}
    for name, info in header.items():
        if name.startswith(("optim.", "state.")):
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f4")
        state[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    net = CharRNN(len(chars), config["hidden"], config["layers"], cell=config.get("cell", "lstm"),
                  embedding=config.get("embedding", 0)).eval()
    net.load_state_dict(state, strict=True)
    return net, chars


def stream_loss(net, ids, vocab, dtype):
    """Summed cross-entropy of predicting ids[1:] from ids[:-1], one stream from zero."""
    x = torch.tensor([ids[:-1]], dtype=torch.long)
    if not net.embedding:
        x = F.one_hot(x, vocab).to(dtype)
    with torch.no_grad():
        logits, _ = net(x, None)
        y = torch.tensor(ids[1:], dtype=torch.long)
        return F.cross_entropy(logits.double(), y, reduction="sum").item(), len(ids) - 1


def main():
    out = []
    for case in json.load(sys.stdin):
        net, chars = load(case["checkpoint"])
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
                s, n = stream_loss(model, ids, len(chars), dtype)
                total, count = total + s, count + n
            result[name] = total / count
        out.append(result)
    print(json.dumps(out))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
