"""safetensors, read and written by hand (docs/checkpoints.md, "The file"): the package needs no
safetensors (nor numpy) install. Torch-free."""

import json
import os
import struct
import uuid

from .errors import Refusal

DTYPE_BYTES = {"F32": 4}


def read_safetensors(path, action):
    """(tensors, metadata) of the file at `path`: tensors maps a name to (dtype, shape, a
    memoryview of its bytes); metadata is __metadata__ (strings). Anything malformed is a
    Refusal "Cannot <action>: not a valid safetensors file: …"."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise Refusal(f"Cannot {action}: no such file")
    except OSError as e:
        raise Refusal(f"Cannot {action}: {e.strerror or e}")
    fail = lambda what: Refusal(f"Cannot {action}: not a valid safetensors file: {what}")
    if len(raw) < 8:
        raise fail(f"{len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > 100_000_000 or 8 + n > len(raw):
        raise fail(f"header length {n} does not fit the file's {len(raw)} bytes")

    def no_duplicates(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise fail(f"duplicate key {json.dumps(k)} in the header")
            seen[k] = v
        return seen

    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except ValueError as e:  # UnicodeDecodeError included
        raise fail(f"the header is not JSON ({e})")
    if not isinstance(header, dict):
        raise fail("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("__metadata__ is not a map of strings")
    data = memoryview(raw)[8 + n:]
    entries = []
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            ok = all(isinstance(d, int) and d >= 0 for d in shape) and 0 <= begin <= end
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise fail(f"tensor {name} has a malformed entry")
        entries.append((begin, end, name, dtype, shape))
    entries.sort()
    at, tensors = 0, {}
    for begin, end, name, dtype, shape in entries:
        if begin != at:
            raise fail(f"tensor {name} does not start where the previous one ends")
        count = 1
        for d in shape:
            count *= d
        if dtype in DTYPE_BYTES and end - begin != count * DTYPE_BYTES[dtype]:
            raise fail(f"tensor {name} has {end - begin} bytes for shape {shape} of {dtype}")
        tensors[name] = (dtype, list(shape), data[begin:end])
        at = end
    if at != len(data):
        raise fail(f"the tensors cover {at} of the {len(data)} data bytes")
    return tensors, metadata


def encode_safetensors(tensors, metadata):
    """tensors: name -> (shape, little-endian float32 bytes). Sorted and padded as the
    reference writer does (and as charlstm writes): compact JSON, metadata first."""
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    utf8 = lambda s: s.encode("utf-8")
    parts = []
    if metadata:
        inner = ",".join(f"{dump(k)}:{dump(metadata[k])}" for k in sorted(metadata, key=utf8))
        parts.append(f'"__metadata__":{{{inner}}}')
    offset, blobs = 0, []
    for name in sorted(tensors, key=utf8):
        shape, blob = tensors[name]
        parts.append(f'{dump(name)}:{{"dtype":"F32","shape":{dump(list(shape))},'
                     f'"data_offsets":[{offset},{offset + len(blob)}]}}')
        offset += len(blob)
        blobs.append(blob)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    return b"".join([struct.pack("<Q", len(header)), header] + blobs)


def write_atomically(path, data):
    """A temporary file in the same folder (named as charlstm names its own, so train.ts clears
    one a crash left behind), flushed, then renamed over `path`."""
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise Refusal(f"Cannot save {path}: {e.strerror or e}")
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # the rename is atomic even where a folder cannot be synced
