"""Token files (issue #22's format, version 1): a text encoded once, read by position.

    bytes 0..7    b"CHLTOK01"
    bytes 8..15   u64 N (little-endian): the header's length in bytes
    16..16+N      UTF-8 JSON {"version":1,"width":1|2|4,"count":…,"vocab":"…",…}, padded with
                  spaces so that 16 + N is a multiple of 8
    16+N..        `count` little-endian unsigned integers of `width` bytes: token i is the index
                  in `vocab` of the text's i-th character

The tokens stay on disk (numpy.memmap): a batch reads its rows' tokens and nothing else, and turns
them into the model's ids through a lookup table (the file's vocabulary is its text's characters,
the model's may differ). Torch-free; numpy is imported only when a token file is read, so the text
path needs nothing but PyTorch."""

import json
import os

from .errors import Refusal
from .vocab import read_text

MAGIC = b"CHLTOK01"
VERSION = 1
DTYPES = {1: "<u1", 2: "<u2", 4: "<u4"}
# Tokens read at a time by the scans (ids in range, line ends, first appearances): 8 MB at width
# 1. The scans read the file (not the map), so that its pages do not stay in this process.
CHUNK = 1 << 23


def is_token_file(path):
    """Whether `path` starts with the token file's magic (False when it cannot be read: the
    text reader then names the cause)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class TokenFile:
    """A token file, its header checked against its size and every token against the vocabulary
    (one pass in chunks): `chars` (the vocabulary, in id order), `count`, `width`, `lowercase`,
    and `tokens`, the memory-mapped array that batches read by position."""

    def __init__(self, path):
        self.path = path
        bad = lambda what: Refusal(f"Cannot read {path}: {what}")
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                magic = f.read(16)
                if magic[:8] != MAGIC:
                    shown = json.dumps(magic[:8].decode("latin-1"))
                    raise bad(f"not a token file: it starts with {shown}, not \"CHLTOK01\" (a "
                              "text file goes in --data)")
                if len(magic) < 16:
                    raise bad("token file cut short: it ends inside the header's length")
                n = int.from_bytes(magic[8:16], "little")
                if 16 + n > size:
                    raise bad(f"token file cut short: its header is {n} bytes, the file has "
                              f"{max(size - 16, 0)} after the first 16")
                raw = f.read(n)
        except FileNotFoundError:
            raise bad("no such file")
        except OSError as e:
            raise bad(e.strerror or str(e))
        try:
            header = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise bad(f"the token file's header is not UTF-8 (byte {16 + e.start})")
        except ValueError as e:
            raise bad(f"the token file's header is not JSON: {e.msg} at byte {16 + e.pos}")
        if not isinstance(header, dict):
            raise bad("the token file's header is not a JSON object")
        version = header.get("version")
        if version != VERSION:
            raise bad(f"unsupported token file version {json.dumps(version)}: this script reads "
                      f"version {VERSION}")
        width, count, chars = header.get("width"), header.get("count"), header.get("vocab")
        if width not in DTYPES or isinstance(width, bool):
            raise bad(f"token width {json.dumps(width)} is not 1, 2 or 4")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise bad(f"token count {json.dumps(count)} is not a whole number")
        if not isinstance(chars, str) or not chars:
            raise bad("the token file's header has no vocabulary (\"vocab\": a non-empty string)")
        if len(set(chars)) != len(chars):
            raise bad("the token file's vocabulary repeats a character")
        if (16 + n) % 8 != 0:
            raise bad(f"the token file's header ends at byte {16 + n}, not a multiple of 8")
        need = 16 + n + count * width
        if need != size:
            raise bad(f"the file's size does not match its header: {count} tokens × {width} "
                      f"bytes after {16 + n} bytes of header make {need} bytes, the file has "
                      f"{size}: write it again")
        if count == 0:
            raise bad("empty corpus: it has no characters")
        if len(chars) > 256 ** width:
            raise bad(f"{len(chars)} characters do not fit in tokens of {width} "
                      f"byte{'s' if width > 1 else ''}")
        import numpy
        self.np = numpy
        self.chars, self.count, self.width = chars, count, width
        self.lowercase = bool(header.get("lowercase"))
        self.offset = 16 + n
        self.tokens = numpy.memmap(path, dtype=DTYPES[width], mode="r", offset=16 + n,
                                   shape=(count,))
        self._check_ids()

    def chunks(self, start=0, end=None):
        """(offset, tokens) over [start, end), CHUNK tokens at a time."""
        end = self.count if end is None else end
        with open(self.path, "rb") as f:
            for at in range(start, end, CHUNK):
                f.seek(self.offset + at * self.width)
                yield at, self.np.fromfile(f, dtype=DTYPES[self.width],
                                           count=min(CHUNK, end - at))

    def _check_ids(self):
        """Every token an index into the vocabulary (one pass, before anything trains: a
        damaged file is refused at the start, not at the batch that reads it)."""
        size = len(self.chars)
        if size >= 256 ** self.width:
            return  # every value fits
        for at, chunk in self.chunks():
            if int(chunk.max()) >= size:
                i = int(self.np.flatnonzero(chunk >= size)[0])
                raise Refusal(f"Cannot read {self.path}: token {at + i} is {int(chunk[i])}, past "
                              f"the vocabulary's {size} characters: the file is damaged: write "
                              "it again")

    def model_ids(self, vocab, action):
        """The lookup table from this file's ids to the model's (`vocab`, a vocab.Vocab): a
        character the model lacks maps to its unknown symbol, or (without one) is the text
        path's Refusal, naming the first ten in order of appearance as Vocab.encode does."""
        keys = [c.lower() if vocab.lowercase else c for c in self.chars]
        grown = [c for c, k in zip(self.chars, keys) if len(k) != 1]
        if grown:
            raise Refusal(f"Cannot {action}: the model lowercases its text, and "
                          f"{json.dumps(grown[0], ensure_ascii=False)} lowercases to "
                          f"{len(grown[0].lower())} characters: give the text file instead")
        ids = [vocab.ids.get(k, vocab.unknown) for k in keys]
        missing = [i for i, m in enumerate(ids) if m < 0]
        if missing:
            shown = ", ".join(json.dumps(self.chars[i], ensure_ascii=False)
                              for i in self.first_seen(missing, 10))
            raise Refusal(f"Cannot {action}: the text has characters the checkpoint's "
                          f"vocabulary lacks: {shown}")
        return self.np.array(ids, dtype=self.np.int64)

    def first_seen(self, wanted, limit):
        """Up to `limit` of the file ids `wanted`, in the order the text first uses them."""
        np, found, left = self.np, [], set(wanted)
        for _, chunk in self.chunks():
            hits = np.flatnonzero(np.isin(chunk, list(left)))
            for t in chunk[hits]:
                t = int(t)
                if t in left:
                    left.discard(t)
                    found.append(t)
                    if len(found) == limit or not left:
                        return found
        return found + sorted(left)[:limit - len(found)]


class TokenSpan:
    """Tokens [start, end) of a token file as the model's ids: `take(positions)` reads those
    positions (relative to `start`) and nothing else, as int64."""

    def __init__(self, file, lut, start=0, end=None):
        self.file, self.lut, self.start, self.np = file, lut, start, file.np
        self.end = file.count if end is None else end

    def __len__(self):
        return self.end - self.start

    def take(self, positions):
        # (TokenFile checked every id when it opened the file.)
        return self.lut[self.file.tokens[positions + self.start]]

    def __getitem__(self, k):
        """A slice's ids as a list (as a text's ids list slices)."""
        a, b, _ = k.indices(len(self))
        return self.read(a, b)

    def part(self, a, b=None):
        """Tokens [a, b) of this span (relative), as a span."""
        b = len(self) if b is None else b
        return TokenSpan(self.file, self.lut, self.start + a, self.start + b)

    def read(self, a, b):
        """The ids of tokens [a, b) (relative), as a list."""
        b = min(b, len(self))
        return self.lut[self.file.tokens[self.start + a:self.start + b]].tolist()


class IdSpan:
    """A text's ids in memory with TokenSpan's reads: a text beside a token file (one trains,
    the other validates) in one source."""

    def __init__(self, ids):
        import numpy
        self.np, self.ids = numpy, numpy.asarray(ids, dtype=numpy.int64)

    def __len__(self):
        return len(self.ids)

    def take(self, positions):
        return self.ids[positions]


class TokenLines:
    """The non-empty lines of a TokenSpan (text.split("\\n") without the empty ones), found by
    one scan for the newline and kept as start and end positions (16 bytes a line, not the
    lines): `lines[k]` reads line k's ids, its first `limit` at most (None: all of it)."""

    def __init__(self, span, starts=None, ends=None, limit=None):
        self.span, self.limit = span, limit
        if starts is None:
            starts, ends = self._find(span)
        self.starts, self.ends = starts, ends

    @staticmethod
    def _find(span):
        np, file = span.np, span.file
        newline = file.chars.find("\n")
        if newline < 0:
            breaks = np.zeros(0, dtype=np.int64)
        else:
            breaks = np.concatenate([np.flatnonzero(chunk == newline) + (at - span.start)
                                     for at, chunk in file.chunks(span.start, span.end)]
                                    + [np.zeros(0, dtype=np.int64)])
        starts = np.concatenate([[0], breaks + 1]).astype(np.int64)
        ends = np.concatenate([breaks, [len(span)]]).astype(np.int64)
        keep = ends > starts
        return starts[keep], ends[keep]

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return TokenLines(self.span, self.starts[k], self.ends[k], self.limit)
        a, b = int(self.starts[k]), int(self.ends[k])
        return self.span.read(a, b if self.limit is None else min(b, a + self.limit))

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def chars(self):
        """Characters in these lines, each line's newline counted."""
        return int((self.ends - self.starts).sum()) + len(self)

    def longest(self):
        return int((self.ends - self.starts).max()) if len(self) else 0


def read_corpus(path, tokens=False):
    """The corpus at `path`: a TokenFile when it is one (its magic; `tokens`: it must be one),
    else the text (vocab.read_text)."""
    return TokenFile(path) if tokens or is_token_file(path) else read_text(path)


def corpus_ids(corpus, vocab, action):
    """The model's ids of a corpus: a list for a text, a TokenSpan (read later, by position) for
    a token file. Characters the model lacks: the same Refusal either way."""
    if isinstance(corpus, str):
        return vocab.encode(corpus, action)
    return TokenSpan(corpus, corpus.model_ids(vocab, action))


def corpus_lines(corpus, vocab, action):
    """The model's ids of a corpus's non-empty lines: lists for a text, a TokenLines for a token
    file."""
    if isinstance(corpus, str):
        return [vocab.encode(x, action) for x in corpus.split("\n") if x]
    return TokenLines(corpus_ids(corpus, vocab, action))


def split_ids(ids, cut):
    """(ids before `cut`, ids from `cut`): list slices, or spans of the same file."""
    return (ids[:cut], ids[cut:]) if isinstance(ids, list) else (ids.part(0, cut), ids.part(cut))


def as_span(ids):
    """A TokenSpan as it is; a list of ids as an IdSpan."""
    return IdSpan(ids) if isinstance(ids, list) else ids


def longest_line(lines):
    return lines.longest() if isinstance(lines, TokenLines) else max(map(len, lines), default=0)
