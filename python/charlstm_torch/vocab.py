"""The text and the vocabulary (src/data/*.ts): a corpus read as charlstm reads it, and a
checkpoint's characters to ids. Torch-free."""

import json

from .errors import Refusal


def read_text(path):
    """The UTF-8 text at `path`, its BOM dropped and its line ends made "\\n"."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise Refusal(f"Cannot read {path}: no such file")
    except OSError as e:
        raise Refusal(f"Cannot read {path}: {e.strerror or e}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal(f"Cannot read {path}: invalid UTF-8 at byte offset {e.start}")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise Refusal(f"Cannot read {path}: empty corpus: it has no characters")
    return text


class Vocab:
    """A checkpoint's characters (charlstm.vocab) and their encoding (charlstm.vocab_encoding:
    lowercase, the unknown symbol that characters outside the vocabulary map to)."""

    def __init__(self, chars, encoding):
        self.chars = chars
        self.ids = {c: i for i, c in enumerate(chars)}
        self.lowercase = bool(encoding.get("lowercase"))
        unknown = encoding.get("unknown")
        self.unknown = self.ids[unknown] if unknown is not None else -1

    def encode(self, text, action):
        """The ids of `text`; without an unknown symbol, a character outside the vocabulary is
        a Refusal "Cannot <action>: …" naming the first ten."""
        if self.lowercase:
            text = text.lower()
        ids, get, unk = self.ids, self.ids.get, self.unknown
        if unk < 0:
            missing = [c for c in dict.fromkeys(text) if c not in ids]
            if missing:
                shown = ", ".join(json.dumps(c, ensure_ascii=False) for c in missing[:10])
                raise Refusal(f"Cannot {action}: the text has characters the checkpoint's "
                              f"vocabulary lacks: {shown}")
        return [get(c, unk) for c in text]
