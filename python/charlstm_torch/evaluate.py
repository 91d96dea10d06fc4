"""charlstm's evaluate(model, text) (src/train/evaluate.ts) in PyTorch, dropout off: the mean
cross-entropy of a checkpoint on a text. Torch is imported only once the input is known good,
so that bad input fails fast."""

from .errors import Refusal
from .tokens import as_span, corpus_ids, corpus_lines, longest_line


def evaluate_checkpoint(ck, vocab, text, o):
    """`o["evaluate"]` "stream" (evaluate()'s default): the exact mean cross-entropy of the text
    read as one stream from a zero state, every character after the first a target (with
    o["lines"]: each non-empty line from a zero state, "\\n" + line in, line + "\\n" out, every
    target counted). "batched" (evaluate's mode "batched"): the tutorial's get_batches
    estimate, the mean of the batches' means (with lines: the lines in order, `batch` at a
    time, cut at seq - 1 characters). `o` also holds batch, seq and threads (None: defaults).
    `text`: a str, or a tokens.TokenFile read by position (the same figure, the same refusals).
    Returns {mode, lines, loss, and targets or batch, seq, batches}."""
    mode, action = o["evaluate"], "evaluate this text"
    if o["lines"]:
        newline = vocab.ids.get("\n")
        if newline is None:
            raise Refusal(f"Cannot {action}: --lines needs \"\\n\" in the model's vocabulary, "
                          "which has none")
        lines = corpus_lines(text, vocab, action)
        if not lines:
            raise Refusal(f"Cannot {action}: --lines needs a non-empty line, the text has none")
    else:
        ids = corpus_ids(text, vocab, action)
        if len(ids) < 2:
            raise Refusal(f"Cannot {action}: {len(ids)} characters: at least 2 are needed")
        if mode == "stream" and o["batch"] not in (None, 1):
            raise Refusal(f"Cannot {action}: --batch {o['batch']}: the stream is one row (the "
                          "figure does not depend on batching): drop --batch, or use "
                          "--evaluate batched for the tutorial's batched estimate")
    import torch
    import torch.nn.functional as F

    from .batches import LineSource, StreamSource, TokenStreamSource
    from .model import from_config, load_weights

    if o["threads"]:
        torch.set_num_threads(o["threads"])
    cpu = torch.device("cpu")
    model = load_weights(from_config(ck["config"]), ck, cpu).eval()
    V = ck["config"]["vocabSize"]
    ce = lambda logits, y: F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1,
                                           reduction="none").double()
    out = {"mode": mode, "lines": o["lines"]}
    with torch.no_grad():
        if mode == "stream" and o["lines"]:
            # Lines side by side, padded at their ends (where nothing after is counted).
            batch = o["batch"] or 32
            total, count = 0.0, 0
            for at in range(0, len(lines), batch):
                group = list(lines[at:at + batch])
                width = max(map(len, group)) + 1
                x = [[newline] + line + [newline] * (width - 1 - len(line)) for line in group]
                y = [line + [newline] + [-1] * (width - 1 - len(line)) for line in group]
                y = torch.tensor(y, dtype=torch.long)
                logits, _ = model(torch.tensor(x, dtype=torch.long), None)
                total += ce(logits, y).sum().item()
                count += int((y >= 0).sum().item())
            out.update(loss=total / count, targets=count)
        elif mode == "stream":
            # Windows of --seq characters (default 1024) with the state carried: the figure is
            # the whole stream's, whatever the window.
            window, total, state = o["seq"] or 1024, 0.0, None
            for at in range(0, len(ids) - 1, window):
                x = torch.tensor([ids[at:at + window]], dtype=torch.long)
                y = torch.tensor([ids[at + 1:at + 1 + window]], dtype=torch.long)
                x = x[:, :y.shape[1]]
                logits, state = model(x, state)
                total += ce(logits, y).sum().item()
            out.update(loss=total / (len(ids) - 1), targets=len(ids) - 1)
        else:
            if o["lines"]:
                seq = o["seq"] or longest_line(lines) + 1
                batch = o["batch"] or min(32, len(lines))
                source = LineSource([], lines, newline, batch, seq, 0, 0, batch, cpu)
            else:
                seq = min(o["seq"] or 100, len(ids) - 1)
                batch = max(1, min(o["batch"] or 32, len(ids) // seq))
                source = StreamSource([], ids, batch, seq, 0, batch, cpu) \
                    if isinstance(ids, list) else \
                    TokenStreamSource(as_span([]), ids, batch, seq, 0, batch, cpu)
            total, state = 0.0, None
            for i in range(source.val_batches):
                x, y = source.fill_val(i)
                logits, state = model(x, None if source.independent else state)
                rows = ce(logits, y)
                total += rows.sum().item() / int((y >= 0).sum().item())
            out.update(loss=total / source.val_batches, batch=batch, seq=seq,
                       batches=source.val_batches)
    return out
