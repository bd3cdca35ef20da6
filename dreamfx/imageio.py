"""Reading images into float arrays and writing results atomically, with provenance.

Inputs are only ever opened for reading. Outputs are written to a temporary file in the
target folder and renamed into place, so an interrupted run never leaves a half-written
file under the output's name.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from .errors import ImageError

#: Output formats by file suffix.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
           ".bmp": "BMP", ".webp": "WEBP"}
METADATA_KEY = "dreamfx"


def to_gray(img: Image.Image, background: float = 1.0) -> np.ndarray:
    """A PIL image as a float32 (H, W) array in [0, 1]: EXIF-rotated, alpha composited on
    ``background`` (1.0 = white), 16-bit and float images scaled by their range."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode == "I" and arr.max() > 255 else (255.0 if img.mode == "I" else 1.0)
        return np.clip(arr / top, 0.0, 1.0)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        gray = np.asarray(Image.fromarray((rgba[..., :3] * 255).astype(np.uint8)).convert("L"), np.float32) / 255.0
        alpha = rgba[..., 3]
        return gray * alpha + background * (1.0 - alpha)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as a float32 (H, W) grayscale array in [0, 1]."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ImageError(f"input image {path} does not exist") from None
    except PermissionError:
        raise ImageError(f"input image {path} cannot be read: permission denied") from None
    except OSError as exc:
        raise ImageError(f"input image {path} cannot be read: {exc.strerror}") from None
    if not data:
        raise ImageError(f"input image {path} is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return to_gray(img)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"input image {path} is too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"input image {path} is not a readable image: {exc}") from None


def to_uint8(array: np.ndarray) -> np.ndarray:
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def format_for(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ImageError(f"cannot write {path}: unknown image format {suffix or '(no suffix)'}; "
                         f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def write_image_atomic(path: str | os.PathLike[str], image: Image.Image,
                       metadata: Mapping[str, Any] | None = None) -> Path:
    """Encode ``image`` and move it into place at ``path`` atomically.

    ``metadata`` is stored as JSON in a PNG text chunk (``dreamfx``), or for other formats
    in a sidecar ``<name>.dreamfx.json`` written the same way.
    """
    path = Path(path)
    fmt = format_for(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {}
    blob = json.dumps(dict(metadata), sort_keys=True, default=str) if metadata else None
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
    _write_bytes_atomic(path, buffer.getvalue())
    if fmt != "PNG" and blob:
        _write_bytes_atomic(path.with_name(path.name + ".dreamfx.json"), blob.encode())
    return path


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The dreamfx metadata of an output (PNG text chunk or sidecar), or None."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".dreamfx.json")
    if sidecar.is_file():
        return json.loads(sidecar.read_text())
    try:
        with Image.open(path) as img:
            text = getattr(img, "text", {}) or img.info
            raw = text.get(METADATA_KEY)
    except (OSError, SyntaxError):
        return None
    return json.loads(raw) if raw else None
