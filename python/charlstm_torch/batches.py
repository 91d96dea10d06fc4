"""Batches and line order (src/data/batches.ts, src/data/lines.ts, src/_random.ts): the
tutorial's get_batches over a stream, line mode's padded lines shuffled each epoch, each
source serving the rows [r0, r1) of every global batch as torch tensors of ids."""

import math

import torch


class Random:
    """src/_random.ts: mulberry32, in 32-bit unsigned arithmetic."""
    M = 0xFFFFFFFF

    def __init__(self, seed):
        self.state = seed & self.M

    def next(self):
        M = self.M
        self.state = (self.state + 0x6D2B79F5) & M
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & M
        t = t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M)) & M)
        return ((t ^ (t >> 14)) & M) / 4294967296


def line_permutation(count, seed, epoch):
    """src/data/lines.ts linePermutation: Fisher-Yates seeded by (seed, epoch)."""
    M = Random.M
    s = ((((seed ^ 0x9E3779B9) & M) * 0x85EBCA6B) & M) ^ ((((epoch + 1) & M) * 0xC2B2AE35) & M)
    rnd, order = Random(s), list(range(count))
    for i in range(count - 1, 0, -1):
        j = math.floor(rnd.next() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


class StreamSource:
    """The tutorial's get_batches over a text: `batch` contiguous rows walked in windows of
    `seq`, the last target of each row wrapping to its first character. This rank owns rows
    [r0, r1) of every batch."""
    independent = False

    def __init__(self, train, val, batch, seq, r0, r1, device):
        self.batch, self.seq, self.r0, self.r1, self.device = batch, seq, r0, r1, device
        self.train_chars, self.val_chars = len(train), len(val)
        self.per_epoch = len(train) // (batch * seq)
        self.val_batches = len(val) // (batch * seq)
        self.train = self._rows(train, self.per_epoch)
        self.val = self._rows(val, self.val_batches)

    def _rows(self, ids, count):
        if count == 0:
            return None
        arr = torch.tensor(ids[:count * self.batch * self.seq], dtype=torch.long)
        return arr.view(self.batch, count * self.seq)[self.r0:self.r1].contiguous().to(self.device)

    def _window(self, rows, index):
        start, width = index * self.seq, rows.shape[1]
        cols = torch.arange(start + 1, start + 1 + self.seq, device=self.device) % width
        return rows[:, start:start + self.seq], rows[:, cols]

    def fill(self, epoch, index):
        return self._window(self.train, index)

    def fill_val(self, index):
        return self._window(self.val, index)

    def targets(self, epoch, index):
        return self.batch * self.seq


class TokenStreamSource(StreamSource):
    """StreamSource over token spans (tokens.TokenSpan, tokens.IdSpan): the same rows, windows
    and wrap, each batch read from the file by position (its rows' seq + 1 tokens), so that
    memory does not grow with the text."""

    def __init__(self, train, val, batch, seq, r0, r1, device):
        self.batch, self.seq, self.r0, self.r1, self.device = batch, seq, r0, r1, device
        self.train_chars, self.val_chars = len(train), len(val)
        self.per_epoch = len(train) // (batch * seq)
        self.val_batches = len(val) // (batch * seq)
        self.train = (train, self.per_epoch)
        self.val = (val, self.val_batches)

    def _window(self, rows, index):
        span, count = rows
        np = span.np
        width, start = count * self.seq, index * self.seq
        # Row b of the text's view(batch, count * seq) starts at b * width; the window's last
        # target wraps to the row's first token, as StreamSource's `% width`.
        cols = (start + np.arange(self.seq + 1, dtype=np.int64)) % width
        at = np.arange(self.r0, self.r1, dtype=np.int64)[:, None] * width + cols[None, :]
        ids = torch.from_numpy(span.take(at)).to(self.device)
        return ids[:, :self.seq], ids[:, 1:]


def line_chars(lines):
    """Characters in `lines` (lists of ids, or a tokens.TokenLines), each newline counted."""
    return lines.chars() if hasattr(lines, "chars") else sum(len(x) + 1 for x in lines)


class LineSource:
    """src/data/lines.ts: every line one sequence from a zero state, x = "\\n" + line,
    y = line + "\\n", padded with target -1, lines shuffled each epoch by (seed, epoch).
    `lines`: lists of ids, or a tokens.TokenLines whose lines are read as batches need them."""
    independent = True

    def __init__(self, train, val, newline, batch, seq, seed, r0, r1, device):
        self.train, self.val = train, val
        self.batch, self.seq, self.newline, self.seed = batch, seq, newline, seed
        self.r0, self.r1, self.device = r0, r1, device
        self.per_epoch = -(-len(self.train) // batch)
        self.val_batches = -(-len(self.val) // batch)
        self.train_chars, self.val_chars = line_chars(self.train), line_chars(self.val)
        self._epoch, self._order = -1, []
        self.val_order = list(range(len(self.val)))

    def _order_for(self, epoch):
        if epoch != self._epoch:
            self._order, self._epoch = line_permutation(len(self.train), self.seed, epoch), epoch
        return self._order

    def _batch(self, lines, order, index, r0, r1):
        x = [[self.newline] * self.seq for _ in range(r1 - r0)]
        y = [[-1] * self.seq for _ in range(r1 - r0)]
        for b in range(r0, r1):
            k = index * self.batch + b
            if k >= len(order):
                break
            line, row_x, row_y = lines[order[k]], x[b - r0], y[b - r0]
            n = min(len(line), self.seq - 1)
            row_x[1:1 + n] = line[:n]
            m = min(len(line), self.seq)
            row_y[:m] = line[:m]
            if len(line) < self.seq:
                row_y[len(line)] = self.newline
        return x, y

    def _tensors(self, x, y):
        to = lambda a: torch.tensor(a, dtype=torch.long, device=self.device).view(-1, self.seq)
        return to(x), to(y)

    def fill(self, epoch, index):
        return self._tensors(*self._batch(self.train, self._order_for(epoch), index,
                                          self.r0, self.r1))

    def fill_val(self, index):
        return self._tensors(*self._batch(self.val, self.val_order, index, self.r0, self.r1))

    def targets(self, epoch, index):
        """Targets in the whole batch (every rank's rows): the loss's denominator."""
        _, y = self._batch(self.train, self._order_for(epoch), index, 0, self.batch)
        return sum(1 for row in y for t in row if t >= 0)
