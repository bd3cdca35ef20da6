"""Reading an output's provenance back (``dreamfx info``, ``--from``, resume): the metadata
dreamfx embedded in a PNG, JPEG, TIFF or WebP file or its sidecar, read through one bounded
reader, so a hostile file cannot make dreamfx read or inflate more than a megabyte.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any


from dreamfx.errors import ImageError
from dreamfx.io.images import METADATA_KEY, open_regular
from dreamfx.io.writing import sidecar_path


#: At most this much metadata is read from an output (a PNG chunk or a sidecar).
METADATA_MAX_BYTES = 1 << 20


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The dreamfx metadata of an output (PNG text chunk or sidecar), or None when there is
    none or it cannot be read (see :func:`provenance` for the reason)."""
    meta, _ = provenance(path)
    return meta


def provenance(path: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, str]:
    """``(metadata, "")`` for a file dreamfx wrote, else ``(None, why not)``. Never raises:
    an existing output may be anything (a user's own photo, a corrupt file, a FIFO, a
    decompression bomb)."""
    try:
        raw = metadata_bytes(path)
    except ImageError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a hostile file must not stop a run
        return None, f"its metadata cannot be read ({type(exc).__name__})"
    if raw is None:
        return None, "it carries no dreamfx metadata"
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "its dreamfx metadata is not valid JSON"
    if not isinstance(meta, dict):
        return None, "its dreamfx metadata is not a JSON object"
    return meta, ""


def metadata_bytes(path: str | os.PathLike[str], max_bytes: int = METADATA_MAX_BYTES) -> bytes | None:
    """The raw dreamfx metadata of an output: its sidecar, else its PNG text chunk, read
    chunk by chunk without decoding pixels; None when it has none. Only regular files are
    opened, and more than ``max_bytes`` is an :class:`ImageError`."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if os.path.lexists(sidecar):
        fd = open_regular(sidecar, "metadata sidecar")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageError(f"its metadata is larger than {_size(max_bytes)}")
        return data
    fd = open_regular(path, "existing output")
    os.set_blocking(fd, True)
    key = METADATA_KEY.encode() + b"\x00"
    with os.fdopen(fd, "rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        while True:
            head = fh.read(8)
            if len(head) < 8:
                return None
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind in (b"IDAT", b"IEND"):
                return None  # dreamfx writes its chunk before the pixels
            if kind in (b"tEXt", b"iTXt", b"zTXt") and length >= len(key):
                prefix = fh.read(len(key))
                if prefix == key:
                    if length - len(key) > max_bytes + 64:  # the iTXt header is a few bytes
                        raise ImageError(f"its metadata is larger than {_size(max_bytes)}")
                    text = _text_chunk_value(kind, fh.read(length - len(key)), max_bytes)
                    if len(text) > max_bytes:
                        raise ImageError(f"its metadata is larger than {_size(max_bytes)}")
                    return text
                fh.seek(length - len(key) + 4, os.SEEK_CUR)
            else:
                fh.seek(length + 4, os.SEEK_CUR)


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n:,} bytes"


def _text_chunk_value(kind: bytes, rest: bytes, max_bytes: int) -> bytes:
    """The text of a PNG text chunk after its keyword, as bytes (Latin-1 for tEXt/zTXt,
    UTF-8 for iTXt, as the PNG specification has them)."""
    if kind == b"tEXt":
        return rest.decode("latin-1").encode("utf-8", "surrogateescape")
    if kind == b"zTXt":  # compression method byte, then zlib data
        return _inflate(rest[1:], max_bytes).decode("latin-1").encode("utf-8", "surrogateescape")
    # iTXt: compression flag, method, language tag\0, translated keyword\0, text
    flag, rest = rest[0], rest[2:]
    _, _, rest = rest.partition(b"\x00")
    _, _, text = rest.partition(b"\x00")
    return _inflate(text, max_bytes) if flag else text


def _inflate(data: bytes, max_bytes: int) -> bytes:
    out = zlib.decompressobj().decompress(data, max_bytes + 1)
    if len(out) > max_bytes:
        raise ImageError(f"its metadata is larger than {_size(max_bytes)}")
    return out
