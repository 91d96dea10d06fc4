#!/usr/bin/env python3
"""Continue a charlstm training run in PyTorch, across processes with DistributedDataParallel,
and write a checkpoint that charlstm's `train.ts --resume` continues and `sample.ts` samples.

    # 2 processes on one CPU machine (gloo)
    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 scripts/pytorch_ddp.py \\
        --data data/anna.txt --resume checkpoints/last.safetensors --steps 2000 --out ddp
    # the mean cross-entropy of a checkpoint on a text, as charlstm's evaluate() gives it
    python3 scripts/pytorch_ddp.py --resume ddp/last.safetensors --data held_out.txt --evaluate

It reads the checkpoint (weights, config, vocabulary and its encoding, optimizer moments,
counters, carried state), builds the same model (nn.LSTM / nn.GRU / nn.RNN, an optional
nn.Embedding, nn.Linear) and trains it with charlstm's semantics: the tutorial's get_batches with
the batch rows split across ranks, the carried state reset at each epoch, dropout between layers
and before the output layer, clipping by global norm or by value, Adam (AdamW with a weight
decay) or SGD (momentum, L2 weight decay) with charlstm's float32 arithmetic, its learning-rate
schedules (with --warmup and --lr-floor), validation on the held-out end of the text (or the held-out lines in --lines mode).
The text may be a token file (the text encoded once, as train.ts writes it: --data finds it by
its magic, --tokens names it), memory-mapped and read by position batch by batch: the same
batches, the same numbers, in memory that does not grow with the corpus.
Each rank backpropagates the summed cross-entropy of its rows divided by the number of targets in
the whole (global) batch, and the gradients are summed (not averaged) across ranks, so every rank
holds exactly the gradient of the global batch's mean loss: N processes take the same steps as
one process with the same batch.

The weight decay is --weight-decay when given, else the checkpoint's, and is written back. The
checkpoint's trainTime (seconds trained in all) grows by this script's wall clock from its first
step. The script stops at --steps / --epochs (it has no --time): a checkpoint trained with
train.ts --time keeps its budget as read, so the seconds trained here count toward it and
train.ts --resume goes on for what is left of it.

The arithmetic (checkpoint and safetensors I/O, vocabulary, batches and line order, model,
schedules, optimizer) is the charlstm_torch package's (python/charlstm_torch/); this script is
the distributed glue over it: the process group, the rows of each rank, the summed gradients,
the loop, its events and checkpoints.

Needs Python 3 and PyTorch >= 1.13, nothing else (safetensors is read and written by hand).
Bad input ends with one line `Cannot <action>: <what is wrong>` on stderr (from rank 0) and exit
code 2. Run with --help for the flags; they carry train.ts's names.
"""

import json
import math
import os
import sys
import time
import uuid

# The package lives beside scripts/ (no install step): python/charlstm_torch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from charlstm_torch.checkpoint import (  # noqa: E402
    moment_kinds, read_checkpoint, train_position, write_checkpoint)
from charlstm_torch.errors import Refusal  # noqa: E402
from charlstm_torch.flags import parse_args  # noqa: E402
from charlstm_torch.schedule import cosine_cycle, scheduled_lr, warmup_factor  # noqa: E402
from charlstm_torch.tokens import (  # noqa: E402
    TokenLines, as_span, corpus_ids, corpus_lines, longest_line, read_corpus, split_ids)
from charlstm_torch.vocab import Vocab  # noqa: E402

MAX_RESTORES = 10
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "anna.txt")

# PyTorch and the package's torch modules: imported once the input is known to be good (main).
torch = F = dist = None


def rank0():
    return os.environ.get("RANK", "0") == "0"


def duration(seconds):
    """src/cli/_progress.ts duration: 1h05m, 9m59s."""
    s = round(seconds)
    h, m, r = s // 3600, s % 3600 // 60, s % 60
    return f"{h}h{m:02d}m" if h > 0 else f"{m}m{r:02d}s"


def main(argv):
    o = parse_args(argv, DEFAULT_DATA)
    ck = read_checkpoint(o["resume"])
    cfg, counters = ck["config"], ck["counters"]
    vocab = Vocab(ck["chars"], ck["encoding"])
    # A text, or a token file (its ids read by position as batches need them).
    corpus = read_corpus(o["data"], o["tokens"])
    if o["evaluate"]:
        from charlstm_torch.evaluate import evaluate_checkpoint
        out = evaluate_checkpoint(ck, vocab, corpus, o)
        if rank0():
            print(json.dumps(out))
        return 0
    action, val_action = "train on this text", "validate on --val-data"
    val_corpus = read_corpus(o["val_data"]) if o["val_data"] else None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    optimizer = o["optimizer"] or (counters or {}).get("optimizer", "adam")
    if counters and counters["optimizer"] != optimizer:
        raise Refusal(f"Cannot resume from {o['resume']}: the model was trained with "
                      f"{counters['optimizer']}, got {optimizer}: train with the same optimizer")
    # As train.ts: --weight-decay when given, else the checkpoint's (absent: 0).
    weight_decay = o["weight_decay"] if o["weight_decay"] is not None else \
        float((counters or {}).get("weightDecay", 0))
    batch = o["batch"] or (counters["batch"] if counters else 32)
    if batch < world:
        raise Refusal(f"Cannot split a batch of {batch} rows across {world} processes: use "
                      f"--batch of at least {world}")
    r0, r1 = batch * rank // world, batch * (rank + 1) // world

    if o["lines"]:
        newline = vocab.ids.get("\n")
        if newline is None:
            raise Refusal(f"Cannot {action}: line mode needs newlines: the model's vocabulary "
                          "has no \"\\n\"")
        lines = corpus_lines(corpus, vocab, action)
        if val_corpus is None:
            cut = math.floor(len(lines) * (1 - o["val"]))
            train_part, val_part = lines[:cut], lines[cut:]
        else:  # as train.ts --val-data: every line trains, the file's lines validate
            cut, train_part, val_part = len(lines), lines, corpus_lines(val_corpus, vocab,
                                                                        val_action)
        longest = max(longest_line(train_part), longest_line(val_part))
        seq = o["seq"] or (counters["seq"] if counters else longest + 1)
    else:
        ids = corpus_ids(corpus, vocab, action)
        if val_corpus is None:
            cut = math.trunc(len(ids) * (1 - o["val"]))
            train_part, val_part = split_ids(ids, cut)
        else:  # as train.ts --val-data: all of the text trains, the file validates
            cut, train_part, val_part = len(ids), ids, corpus_ids(val_corpus, vocab, val_action)
        seq = o["seq"] or (counters["seq"] if counters else 100)
    if counters and (counters["batch"] != batch or counters["seq"] != seq):
        raise Refusal(f"Cannot resume from {o['resume']}: the model was trained with batch "
                      f"{counters['batch']} × seq {counters['seq']}, got batch {batch} × seq "
                      f"{seq}: train with the same batch and seq")
    per_epoch = (-(-cut // batch) if o["lines"] else cut // (batch * seq))
    if per_epoch == 0:
        held = f" after holding out {o['val'] * 100:g}% for validation" if o["val"] > 0 else ""
        raise Refusal(f"Cannot {action}: corpus too short: {cut} training "
                      f"{'lines' if o['lines'] else 'characters'}{held}, but one batch of "
                      f"{batch} × {seq} needs {'1 line' if o['lines'] else batch * seq}")
    if val_corpus is not None and (not val_part if o["lines"] else
                                   len(val_part) < batch * seq):
        raise Refusal("Cannot validate: the validation text has no non-empty lines" if o["lines"]
                      else f"Cannot validate: the validation text has {len(val_part)} characters, "
                      f"but one batch of {batch} × {seq} needs {batch * seq}: use a longer "
                      "validation text or a smaller batch or seq")
    try:
        os.makedirs(o["out"], exist_ok=True)
        probe = os.path.join(o["out"], f".write-test-{uuid.uuid4().hex[:8]}")
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise Refusal(f"Cannot write to --out {o['out']}: {e.strerror or e}")

    import_torch()
    if o["threads"]:
        torch.set_num_threads(o["threads"])
    cuda = o["device"] == "cuda" or (o["device"] == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise Refusal("Cannot use --device cuda: PyTorch sees no CUDA device")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    backend = o["dist_backend"] if o["dist_backend"] != "auto" else ("nccl" if cuda else "gloo")
    if "WORLD_SIZE" in os.environ:
        dist.init_process_group(backend)
    from charlstm_torch.batches import LineSource, StreamSource, TokenStreamSource
    try:
        if o["lines"]:
            for part in (train_part, val_part):
                if isinstance(part, TokenLines):
                    part.limit = seq  # a row reads its line's first seq tokens at most
            source = LineSource(train_part, val_part, newline, batch, seq, cfg["seed"], r0, r1,
                                device)
        elif isinstance(train_part, list) and isinstance(val_part, list):
            source = StreamSource(train_part, val_part, batch, seq, r0, r1, device)
        else:
            source = TokenStreamSource(as_span(train_part), as_span(val_part), batch, seq, r0,
                                       r1, device)
        return train(o, ck, source, optimizer, weight_decay, batch, seq, world, rank, r0, r1,
                     device)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def import_torch():
    global torch, F, dist
    import torch as _torch
    import torch.distributed as _dist
    import torch.nn.functional as _F
    torch, F, dist = _torch, _F, _dist


def train(o, ck, source, optimizer, weight_decay, batch, seq, world, rank, r0, r1, device):
    from charlstm_torch.model import checkpoint_tensor, from_config, load_weights, tensors_of
    from charlstm_torch.optim import CharlstmOptimizer, clip_by_norm, clip_by_value, global_norm

    cfg, counters = ck["config"], ck["counters"]
    V, H, L, cell = cfg["vocabSize"], cfg["hidden"], cfg["layers"], cfg["cell"]
    lstm = cell == "lstm"
    per_epoch, val_batches = source.per_epoch, source.val_batches
    total_steps = o["steps"] if o["steps"] is not None else o["epochs"] * per_epoch
    lr0, warmup, clip, clip_mode = o["lr"], o["warmup"], o["clip"], o["clip_mode"]
    distributed = dist.is_initialized()

    model = load_weights(from_config(cfg), ck, device)
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    kinds = moment_kinds(optimizer)
    if counters:
        moments = [[checkpoint_tensor(ck, f"optim.{k}.{n}", device) for n in names] for k in kinds]
    else:
        moments = [[torch.zeros_like(p) for p in params] for _ in kinds]
    opt = CharlstmOptimizer(params, optimizer, o["momentum"], weight_decay, moments[0],
                            moments[1] if len(moments) > 1 else None)
    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                      else None)

        def sum_hook(_, bucket):  # summed, not averaged: see the module docstring
            fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
            return fut.then(lambda f: f.value()[0])
        net.register_comm_hook(None, sum_hook)

    ts = train_position(counters)

    def zero_state(rows):
        h = torch.zeros(L, rows, H, device=device)
        return (h, torch.zeros_like(h)) if lstm else h

    if counters:
        hs = [checkpoint_tensor(ck, "state.h", device)[:, r0:r1].contiguous()]
        if lstm:
            hs.append(checkpoint_tensor(ck, "state.c", device)[:, r0:r1].contiguous())
        state = tuple(hs) if lstm else hs[0]
    else:
        state = zero_state(r1 - r0)
    step0 = ts["step"]
    # Seconds trained in all (charlstm's trainTime: this run's wall clock added to the
    # checkpoint's), and its --time budget, kept as read: see the module docstring.
    time0 = counters["trainTime"] if counters else 0.0
    budget = counters["timeBudget"] if counters else None

    def trained_seconds():  # (`started` is set where the loop starts)
        return time0 + (time.perf_counter() - started)

    log_file = open(o["log"], "a") if o["log"] and rank == 0 else None

    def say(line):
        if rank == 0:
            print(line, file=sys.stderr, flush=True)

    def event(**e):
        if log_file:
            log_file.write(json.dumps({"time": int(time.time() * 1000), **e}) + "\n")
            log_file.flush()

    def allsum(values):
        t = torch.tensor(values, dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(t)
        return t.tolist()

    def full_state():
        """[layers, batch, hidden] from every rank's rows (a collective: every rank calls)."""
        parts = state if lstm else (state,)
        out = []
        for s in parts:
            full = torch.zeros(L, batch, H, device=device)
            full[:, r0:r1] = s
            if distributed:
                dist.all_reduce(full)
            out.append(full)
        return out

    def save(path):
        carried = full_state()
        if rank != 0:
            return
        write_checkpoint(path, ck, tensors_of(model, dict(zip(kinds, moments)), carried), {
            "step": ts["step"], "epoch": ts["epoch"], "batchInEpoch": ts["batchInEpoch"],
            "batch": batch, "seq": seq, "bestValLoss": ts["bestValLoss"],
            "lrScale": ts["lrScale"], "optimizer": optimizer, "weightDecay": weight_decay,
            "trainTime": trained_seconds(), "timeBudget": budget})

    def validate():
        model.eval()
        sums = []
        with torch.no_grad():
            vstate = zero_state(r1 - r0)
            for i in range(val_batches):
                x, y = source.fill_val(i)
                if source.independent:
                    vstate = zero_state(r1 - r0)
                logits, vstate = model(x, vstate)
                rows = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1,
                                       reduction="none")
                sums += [rows.double().sum().item(), float((y >= 0).sum().item())]
        model.train()
        sums = allsum(sums)
        return sum(sums[2 * i] / sums[2 * i + 1] for i in range(val_batches)) / val_batches

    def ends_cycle(step):
        return o["lr_schedule"] == "cosine" and \
            cosine_cycle(step, per_epoch, o)[0] > cosine_cycle(step - 1, per_epoch, o)[0]

    if ts["batchInEpoch"] >= per_epoch:
        ts["epoch"] += 1
        ts["batchInEpoch"] = 0
        say(f"note: the saved position is past this text's {per_epoch} batches per epoch: "
            f"continuing at the start of epoch {ts['epoch'] + 1}")
    embedded = f" (embedding {cfg['embedding']})" if cfg["embedding"] else ""
    # The schedule's extras, named only when used (the line is the same without them).
    extras = ([f"warm-up {warmup} steps"] if warmup else []) + \
        ([f"cosine to {lr0 * o['lr_floor']:g}"] if o["lr_floor"] and o["lr_schedule"] == "cosine"
         else [])
    extras = f" ({', '.join(extras)})" if extras else ""
    group = dist.get_backend() if distributed else "no process group"
    say(f"model: {L}×{H} {cell}{embedded}, vocabulary {V}, dropout {cfg['dropout']}; {world} "
        f"process{'es' if world > 1 else ''} ({group}, {device.type}), batch {batch} × seq "
        f"{seq} split by rows, {optimizer}"
        f"{f' (weight decay {weight_decay:g})' if weight_decay else ''}, lr {lr0:g}"
        f"{extras}, clip "
        f"{clip:g} ({clip_mode})"
        f"{', line mode' if source.independent else ''}")
    say(f"training on {source.train_chars} characters, validating on {source.val_chars}; "
        f"{per_epoch} batches per epoch, {total_steps} steps"
        + (f" (resuming at step {ts['step']})" if ts["step"] else ""))
    event(type="start", step=ts["step"], totalSteps=total_steps, batchesPerEpoch=per_epoch,
          trainChars=source.train_chars, valChars=source.val_chars, world=world,
          trainTime=time0, timeBudget=budget)
    if budget is not None:
        say(f"note: the checkpoint was trained with --time {duration(budget)} "
            f"({duration(time0)} of it done): this script stops at --steps/--epochs instead; "
            f"its seconds count toward the budget, which the checkpoint it writes keeps "
            f"(train.ts --resume goes on for what is left)")
    if o["val"] > 0 and val_batches == 0:
        say(f"note: validation off: the held-out part ({source.val_chars} characters) is "
            f"smaller than one batch of {batch} × {seq}")

    def snapshot():
        return dict(params=[p.detach().clone() for p in params],
                    moments=[[m.clone() for m in ms] for ms in moments],
                    state=tuple(s.clone() for s in state) if lstm else state.clone(),
                    counters=(ts["step"], ts["epoch"], ts["batchInEpoch"]))

    snap, restores = snapshot(), 0
    last_path = os.path.join(o["out"], "last.safetensors")
    val_loss, diverged = None, False
    started = time.perf_counter()  # the clock starts with the first step, as charlstm's
    net.train()
    while ts["step"] < total_steps:
        step, epoch, index = ts["step"], ts["epoch"], ts["batchInEpoch"]
        if index == 0 or source.independent:
            state = zero_state(r1 - r0)
        x, y = source.fill(epoch, index)
        # Dropout masks: PyTorch's generator, seeded from (seed, step, rank) so that a run
        # restarted from a checkpoint draws the same masks again (an int tuple's hash does not
        # depend on PYTHONHASHSEED).
        if cfg["dropout"] > 0:
            torch.manual_seed(hash((cfg["seed"], step, rank)) % (2 ** 63))
        for p in params:
            p.grad = None
        logits, new_state = net(x, state)
        loss_sum = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-1,
                                   reduction="sum")
        targets = source.targets(epoch, index)  # in the whole batch: see the module docstring
        (loss_sum / targets).backward()
        loss = allsum([loss_sum.item()])[0] / targets
        grads = [p.grad for p in params]
        norm = global_norm(grads)
        if math.isfinite(norm) and clip > 0 and clip_mode == "norm":
            clip_by_norm(grads, norm, clip)
        step_lr = scheduled_lr(lr0, step, per_epoch, o) * warmup_factor(step, warmup) * \
            ts["lrScale"]
        if not (math.isfinite(loss) and math.isfinite(norm)):
            stop = o["on_divergence"] == "stop" or restores >= MAX_RESTORES
            with torch.no_grad():
                for p, s in zip(params, snap["params"]):
                    p.copy_(s)
                for ms, ss in zip(moments, snap["moments"]):
                    for m, s in zip(ms, ss):
                        m.copy_(s)
            state = tuple(s.clone() for s in snap["state"]) if lstm else snap["state"].clone()
            ts["step"], ts["epoch"], ts["batchInEpoch"] = snap["counters"]
            if not stop:
                ts["lrScale"] *= 0.5
                restores += 1
            say(f"step {step + 1}: loss {loss}, gradient norm {norm}: not applied; " +
                (f"restored step {ts['step']}, learning rate × {ts['lrScale']}" if not stop else
                 f"back at step {ts['step']}, training stopped (--on-divergence stop, or too "
                 "many restores)"))
            event(type="diverged", step=step + 1, loss=loss, gradNorm=norm,
                  action="stopped" if stop else "restored", restoredStep=ts["step"],
                  lrScale=ts["lrScale"])
            if stop:
                diverged = True
                break
            continue
        if clip > 0 and clip_mode == "value":
            clip_by_value(grads, clip)
        opt.step(step, step_lr)
        state = tuple(s.detach() for s in new_state) if lstm else new_state.detach()
        ts["step"] += 1
        ts["batchInEpoch"] += 1
        epoch_done = ts["batchInEpoch"] == per_epoch
        if epoch_done:
            ts["epoch"] += 1
            ts["batchInEpoch"] = 0
        s = ts["step"]
        elapsed = time.perf_counter() - started
        speed = (s - step0) * batch * seq / max(elapsed, 1e-9)
        event(type="step", step=s, totalSteps=total_steps, epoch=ts["epoch"] - epoch_done,
              loss=loss, gradNorm=norm, lr=step_lr, charsPerSec=speed, elapsedMs=elapsed * 1000,
              trainTime=time0 + elapsed)
        if s % o["print_every"] == 0 or s == total_steps:
            shown = "-" if val_loss is None else f"{val_loss:.3f}"
            say(f"epoch {ts['epoch'] - epoch_done + 1} step {s}/{total_steps} loss {loss:.3f} "
                f"val {shown} lr {step_lr:.3g} {round(speed)} chars/s")
        if s % o["checkpoint_every"] == 0:
            save(last_path)
        if epoch_done:
            event(type="epoch", step=s, epoch=ts["epoch"])
        if ends_cycle(s):
            cycle = cosine_cycle(s - 1, per_epoch, o)[0] + 1
            event(type="cycle", step=s, epoch=ts["epoch"], cycle=cycle)
            if o["save_cycles"]:
                path = os.path.join(o["out"], f"cycle-{cycle}.safetensors")
                save(path)
                say(f"cosine cycle {cycle} ended at step {s}: saved {path}")
        if val_batches > 0 and o["val_every"] > 0 and (s % o["val_every"] == 0 or s == total_steps):
            val_loss = validate()
            best = val_loss < ts["bestValLoss"]
            if best:
                ts["bestValLoss"] = val_loss
            event(type="validation", step=s, epoch=ts["epoch"], valLoss=val_loss, best=best)
            say(f"step {s} val loss {val_loss:.4f}{' (best)' if best else ''}")
            if best:
                save(os.path.join(o["out"], "best.safetensors"))
        if s % o["checkpoint_every"] == 0:
            snap, restores = snapshot(), 0
    save(last_path)
    event(type="done", step=ts["step"], epoch=ts["epoch"], diverged=diverged, valLoss=val_loss)
    say(f"{'diverged' if diverged else 'done'} at step {ts['step']}"
        + (f", val loss {val_loss:.4f}" if val_loss is not None else "") + f"; saved {last_path}")
    if log_file:
        log_file.close()
    return 1 if diverged else 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except Refusal as e:
        if rank0():
            print(str(e), file=sys.stderr, flush=True)
        code = 2
    sys.exit(code)
