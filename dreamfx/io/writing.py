"""Writing outputs: encoding with provenance embedded, atomic writes (a temporary file in the
target's folder, then a rename: an interrupted run leaves only complete files), the paths
an output occupies (its sidecar included), stale temporaries of killed runs, and the check
that a folder can be written before any work.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

from PIL import Image, PngImagePlugin

from dreamfx.errors import ImageError, OutputError
from dreamfx.io.images import FORMATS, METADATA_KEY, PNG_LEVEL, SIDECAR_SUFFIX


def format_for(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ImageError(f"cannot write {path}: unknown image format {suffix or '(no suffix)'}; "
                         f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def write_image_atomic(path: str | os.PathLike[str], image: Image.Image,
                       metadata: Mapping[str, Any] | None = None, png_level: int = PNG_LEVEL) -> Path:
    """Encode ``image`` and move it into place at ``path`` atomically.

    ``metadata`` is stored as JSON in a PNG text chunk (``dreamfx``), or for other formats
    in a sidecar ``<name>.dreamfx.json`` written the same way. ``png_level`` is the PNG
    compression level, 0-9 (lossless at every level; higher is smaller and slower).
    """
    path = Path(path)
    data = encode_image(image, format_for(path), metadata, png_level)
    return write_encoded_atomic(path, data, metadata)


def encode_image(image: Image.Image, fmt: str, metadata: Mapping[str, Any] | None = None,
                 png_level: int = PNG_LEVEL) -> bytes:
    """The bytes of ``image`` in format ``fmt`` (``FORMATS``' values); a PNG carries
    ``metadata`` in its text chunk (other formats get a sidecar from
    :func:`write_encoded_atomic`). Cluster workers encode with this, the client writes."""
    options: dict[str, Any] = {}
    blob = json.dumps(dict(metadata), sort_keys=True, default=str) if metadata else None
    if fmt == "PNG":
        if not 0 <= png_level <= 9:
            raise ImageError(f"PNG compression level must be 0-9, got {png_level}")
        options["compress_level"] = png_level
    if fmt == "PNG" and blob:
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, blob)
        options["pnginfo"] = info
    if fmt == "JPEG":
        options["quality"] = 95
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def write_encoded_atomic(path: str | os.PathLike[str], data: bytes,
                         metadata: Mapping[str, Any] | None = None) -> Path:
    """Move an image encoded by :func:`encode_image` into place at ``path`` atomically;
    for formats without a PNG text chunk, ``metadata`` goes to the sidecar."""
    path = Path(path)
    fmt = format_for(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(path, exc) from exc
    if fmt != "PNG" and metadata:
        blob = json.dumps(dict(metadata), sort_keys=True, default=str)
        # The sidecar says "being written" until the image is in place: a run killed in
        # between leaves an output that is recognised as dreamfx's, and redone, never one
        # that carries the new provenance over old pixels.
        sidecar = sidecar_path(path)
        write_bytes_atomic(sidecar, json.dumps({**dict(metadata), "complete": False}, sort_keys=True,
                                               default=str).encode())
        write_bytes_atomic(path, data)
        write_bytes_atomic(sidecar, blob.encode())
    else:
        write_bytes_atomic(path, data)
    return path


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where the provenance of a non-PNG output is kept."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def written_paths(path: str | os.PathLike[str]) -> list[Path]:
    """Every path that writing an output at ``path`` creates: the image, and for formats
    without a PNG text chunk its metadata sidecar."""
    path = Path(path)
    return [path] if format_for(path) == "PNG" else [path, sidecar_path(path)]


#: Temporary files are named ``.<name>.dreamfx-<pid>-<random>.tmp`` beside their target,
#: so a later run can tell the leftovers of a killed run (dead pid) from a live run's.
_TMP = re.compile(r"^\.(?P<name>.+)\.dreamfx-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")


#: dreamfx 0.1.0 named them ``.<name>.<8 random>.tmp`` (names of outputs or report.json).
_OLD_TMP = re.compile(r"^\..+\.(png|jpe?g|tiff?|bmp|webp|json)\.[a-z0-9_]{8}\.tmp$")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename:
    a reader, or a run killed half-way, never sees a partial file under the final name. A
    failed write (a full disk, a read-only folder) is an :class:`~dreamfx.errors.OutputError`
    naming ``path``, and leaves no temporary file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:120]}.dreamfx-{os.getpid()}-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(path, exc) from exc
        raise


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Remove the temporary files that a killed dreamfx run left in ``folder`` (those of a
    process that no longer runs); symbolic links are not followed. Returns what was removed."""
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda exc: None):
        for name in filenames:
            match = _TMP.match(name)
            stale = (match is not None and not _pid_alive(int(match["pid"]))) or _OLD_TMP.match(name) is not None
            path = Path(dirpath) / name
            if stale and path.is_file() and not path.is_symlink():
                try:
                    path.unlink()
                    removed.append(path)
                except OSError:
                    pass
        if not recursive:
            break
    return removed


def check_writable_folder(folder: str | os.PathLike[str]) -> None:
    """Create ``folder`` if needed and prove a file can be written there, before any work;
    an :class:`ImageError` says why not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ImageError(f"output folder {folder} is an existing file, not a folder") from None
    except OSError as exc:
        raise ImageError(f"cannot create the output folder {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise ImageError(f"output folder {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".dreamfx-{os.getpid()}-probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ImageError(f"output folder {folder} is not writable: {exc.strerror or exc}") from None
