"""Reading images into float arrays and writing results atomically, with provenance.

Inputs are only ever opened for reading. Outputs are written to a temporary file in the
target folder and renamed into place, so an interrupted run never leaves a half-written
file under the output's name.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from dreamfx.errors import ImageError

#: Output formats by file suffix.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
           ".bmp": "BMP", ".webp": "WEBP"}
METADATA_KEY = "dreamfx"
SIDECAR_SUFFIX = ".dreamfx.json"


#: Input suffixes a folder scan picks up.
INPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")
#: PNG compression level of outputs. Level 1 encodes a 512x384 dream about 3x faster than
#: Pillow's default 6 (7 ms vs 22 ms) for files about 10% larger; ``--png-level`` changes it.
PNG_LEVEL = 1
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own default decompression-bomb limit


@dataclass
class Picture:
    """A decoded input: the luminance dreamed on, plus what is needed to rebuild colour.

    All arrays are float32 in [0, 1]. ``rgb`` and ``alpha`` are None for gray inputs and
    inputs without transparency.
    """

    luma: np.ndarray  # (H, W)
    rgb: np.ndarray | None = None  # (H, W, 3), alpha already composited on the background
    alpha: np.ndarray | None = None  # (H, W)
    notes: list[str] = field(default_factory=list)  # warnings worth showing the user
    digest: str | None = None  # SHA-256 of the input file's bytes (resume keys on it)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.luma.shape[0]), int(self.luma.shape[1])

    def pixels(self, channels: int) -> np.ndarray:
        """What a model of ``channels`` input channels dreams: (H, W, 3) RGB for a 3-channel
        model (a gray picture's luma repeated, as the dreamer would repeat it), else the luma."""
        if channels != 3:
            return self.luma
        return self.rgb if self.rgb is not None else np.repeat(self.luma[..., None], 3, axis=-1)


#: ITU-R 601 luma weights, as Pillow's convert("L") and JPEG's YCbCr use.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (:data:`LUMA`)."""
    return (rgb @ LUMA).astype(np.float32)


def to_picture(img: Image.Image, background: float = 1.0) -> Picture:
    """A PIL image as a :class:`Picture`: EXIF-rotated, 16-bit and float images scaled by
    their range, palette and CMYK converted, alpha composited on ``background`` (1 = white)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return Picture(np.asarray(img, dtype=np.float32) / 65535.0)
    if img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode == "I" and arr.max() > 255 else (255.0 if img.mode == "I" else 1.0)
        return Picture(np.clip(arr / top, 0.0, 1.0))
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)
    gray = img.mode in ("1", "L", "LA", "La") or (img.mode == "P" and _palette_is_gray(img))
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        rgb = rgba[..., :3] * alpha[..., None] + background * (1.0 - alpha[..., None])
        return Picture(_luma(rgb), None if gray else rgb, alpha)
    if gray:
        return Picture(np.asarray(img.convert("L"), dtype=np.float32) / 255.0)
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return Picture(_luma(rgb), rgb)


def _palette_is_gray(img: Image.Image) -> bool:
    palette = np.asarray(img.convert("RGB"), dtype=np.int16)
    return bool((palette[..., 0] == palette[..., 1]).all() and (palette[..., 1] == palette[..., 2]).all())


def to_gray(img: Image.Image, background: float = 1.0) -> np.ndarray:
    """A PIL image as a float32 (H, W) luminance array in [0, 1] (see :func:`to_picture`)."""
    return to_picture(img, background).luma


def open_regular(path: str | os.PathLike[str], what: str = "input image") -> int:
    """Open ``path`` for reading only if it is a regular file (after symlinks), and return the
    descriptor. A FIFO, device or socket is never opened for reading (a FIFO would block for
    ever): it is opened non-blocking and checked with ``fstat`` on the same descriptor, so it
    cannot be swapped in between a check and the read."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ImageError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ImageError(f"{path} is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(f"{what} {path} cannot be read: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageError(f"{what} {path} is a symbolic link loop") from None
        raise ImageError(f"{what} {path} cannot be read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ImageError(f"{path} is a folder, not an image file")
        raise ImageError(f"{what} {path} is not a regular file ({file_kind(mode)}); it was not opened for reading")
    return fd


def file_kind(mode: int) -> str:
    """A word for what a non-regular file is."""
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "not a regular file"


def read_input_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an input file (a regular file only), or an :class:`ImageError`."""
    fd = open_regular(path)
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ImageError(f"input image {path} cannot be read: {exc.strerror or exc}") from None


def digest(data: bytes) -> str:
    """The content digest stored in an output's provenance (resume keys on it)."""
    return hashlib.sha256(data).hexdigest()


def load_picture(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 background: float = 1.0) -> Picture:
    """Read an image file (only reading it) into a :class:`Picture`; every way a file can be
    bad becomes an :class:`ImageError` with the reason. ``picture.digest`` is the SHA-256 of
    the file's bytes."""
    path = Path(path)
    return picture_of_bytes(read_input_bytes(path), path, max_pixels=max_pixels, background=background)


def picture_of_bytes(data: bytes, path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                     background: float = 1.0, known_digest: str | None = None) -> Picture:
    """The bytes of the file ``path`` as a :class:`Picture` with their digest (``known_digest``
    when the caller computed it already)."""
    if not data:
        raise ImageError(f"input image {path} is empty (0 bytes)")
    picture = decode_picture(data, path, max_pixels=max_pixels, background=background)
    picture.digest = known_digest or digest(data)
    return picture


def decode_picture(data: bytes, path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                   background: float = 1.0) -> Picture:
    """Decode an encoded image (the bytes of ``path``) into a :class:`Picture`; more pixels
    than ``max_pixels`` is refused from the header, before any pixel is decoded."""
    try:
        with _open_image(io.BytesIO(data)) as img:
            pixels = int(img.size[0]) * int(img.size[1])
            if max_pixels is not None and pixels > max_pixels:
                raise ImageError(f"input image {path} has {pixels:,} pixels, more than the limit of {max_pixels:,} "
                                 "(a possible decompression bomb; raise it with --max-pixels)")
            img.seek(0)  # animated GIF/WebP: the first frame
            img.load()
            return to_picture(img, background)
    except Image.UnidentifiedImageError:
        raise ImageError(f"input image {path} is not a readable image: unknown format or corrupt header") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageError(f"input image {path} is not a readable image: {exc}") from None


_OPEN_LOCK = threading.Lock()


def _open_image(fh: Any) -> Image.Image:
    """``Image.open`` with Pillow's own decompression-bomb check off: dreamfx checks the
    pixel count itself, per call. (Pillow's limit is a module global and its warning goes
    through the process-wide warnings filters, neither of which is safe to change per call
    from decoder threads; the global is only changed under a lock, around ``open``, which
    reads nothing but the header.)"""
    with _OPEN_LOCK:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(fh)
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as a float32 (H, W) grayscale array in [0, 1]."""
    return load_picture(path).luma


def compose(picture: Picture, dreamed: np.ndarray, color: str = "gray", keep_alpha: bool = False) -> Image.Image:
    """The output image: the dreamed luminance, in gray or with the input's chroma
    (``color="luma"``), with the input's alpha channel if ``keep_alpha``.

    A 3-channel model's dream ``(H, W, 3)`` is written as RGB whatever ``color`` says (the
    choice applies to 1-channel models); alpha is honoured the same way."""
    dreamed = np.asarray(dreamed)
    if dreamed.ndim == 3 and dreamed.shape[-1] == 3:
        out = Image.fromarray(to_uint8(dreamed), "RGB")
    elif dreamed.ndim == 3 and dreamed.shape[-1] == 1:
        return compose(picture, dreamed[..., 0], color, keep_alpha)
    elif dreamed.ndim != 2:
        raise ImageError(f"cannot write a dream of shape {dreamed.shape}: expected (H, W) or (H, W, 3)")
    elif color == "luma" and picture.rgb is not None:
        ycbcr = Image.fromarray(to_uint8(picture.rgb), "RGB").convert("YCbCr")
        _, cb, cr = ycbcr.split()
        out = Image.merge("YCbCr", (Image.fromarray(to_uint8(dreamed), "L"), cb, cr)).convert("RGB")
    else:
        out = Image.fromarray(to_uint8(dreamed), "L")
    if keep_alpha and picture.alpha is not None:
        out = out.convert("RGBA" if out.mode == "RGB" else "LA")
        out.putalpha(Image.fromarray(to_uint8(picture.alpha), "L"))
    return out


def to_uint8(array: np.ndarray) -> np.ndarray:
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def as_unit_float(array: np.ndarray) -> np.ndarray:
    """uint8 (0-255) or float (0-1) pixels as float32 in [0, 1] scale."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    raise ImageError(f"image arrays must be uint8 or float in [0, 1], got {array.dtype}")


def as_gray_array(image: Any) -> np.ndarray:
    """A path, PIL image or array (H, W) / (H, W, 3|4), uint8 or float in [0, 1], as (H, W) float32."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(Path(image))
    if isinstance(image, Image.Image):
        return to_gray(image)
    array = as_unit_float(np.asarray(image))
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3] @ LUMA
    elif array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ImageError(f"image arrays must be (H, W) or (H, W, 3), got shape {array.shape}")
    return np.clip(array, 0.0, 1.0)
