"""The photos ``dreamfx explore`` dreams: the bundled one, those named on its command line
and those the user uploads. A request names a photo by its id only (``sample``, ``p1``,
``u-<digest>``): no request can name a file on the server.

Uploads go through dreamfx's own decoder (:func:`dreamfx.io.images.picture_of_bytes`): the
bytes are limited, the pixel count is checked from the header before any pixel is decoded
(the decompression-bomb check), and anything that is not an image is refused with the
decoder's reason. Uploads are kept by content (the same file uploaded twice is one photo),
the least recently used dropped beyond :data:`KEEP_UPLOADS`.
"""

from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from dreamfx.errors import ImageError
from dreamfx.io.images import Picture, digest, picture_of_bytes, read_input_bytes

#: The most bytes an uploaded photo may have.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
#: The most pixels an uploaded (or command-line) photo may have: checked from its header.
MAX_PIXELS = 16_000_000
#: Uploaded photos kept at once.
KEEP_UPLOADS = 8
SAMPLE_ID = "sample"
_ID = re.compile(r"^(sample|p\d{1,4}|u-[0-9a-f]{16})$")


class PhotoError(ImageError):
    """A photo that cannot be used; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Photo:
    id: str
    name: str  # what the command line and "copy as command" call it
    source: str  # "bundled", "command line" or "upload"
    picture: Picture
    data: bytes  # the file's bytes, as read

    def describe(self) -> dict[str, object]:
        h, w = self.picture.size
        return {"id": self.id, "name": self.name, "source": self.source, "width": w, "height": h,
                "color": self.picture.rgb is not None, "sha256": self.picture.digest}


class Photos:
    """The photos by id. ``paths``: those named on the command line (read now: a bad one is
    the command's error, not a request's)."""

    def __init__(self, sample: Path, paths: Sequence[str | Path] = (), max_pixels: int = MAX_PIXELS,
                 max_bytes: int = MAX_UPLOAD_BYTES, keep: int = KEEP_UPLOADS) -> None:
        self.max_pixels, self.max_bytes, self.keep = max_pixels, max_bytes, keep
        self._lock = threading.Lock()
        self._fixed: dict[str, Photo] = {}
        self._uploads: OrderedDict[str, Photo] = OrderedDict()
        self._fixed[SAMPLE_ID] = self._read(SAMPLE_ID, sample, "bundled", str(sample))
        for number, path in enumerate(paths, 1):
            self._fixed[f"p{number}"] = self._read(f"p{number}", Path(path), "command line", str(path))

    def _read(self, photo_id: str, path: Path, source: str, name: str) -> Photo:
        data = read_input_bytes(path)
        picture = picture_of_bytes(data, path, max_pixels=self.max_pixels)
        return Photo(photo_id, name, source, picture, data)

    def get(self, photo_id: str | None) -> Photo:
        """The photo ``photo_id`` (default: the first named on the command line, else the bundled one)."""
        if photo_id is None or photo_id == "":
            return self._fixed.get("p1", self._fixed[SAMPLE_ID])
        if not isinstance(photo_id, str) or not _ID.match(photo_id):
            raise PhotoError(f"photo {str(photo_id)[:40]!r} is not a photo id (sample, p1, p2, ... or the id an "
                             "upload returned); a request cannot name a file on the server", 400)
        with self._lock:
            if photo_id in self._uploads:
                self._uploads.move_to_end(photo_id)
                return self._uploads[photo_id]
            if photo_id in self._fixed:
                return self._fixed[photo_id]
        raise PhotoError(f"no photo {photo_id!r}" + (" (uploads are kept a while: upload it again)"
                                                      if photo_id.startswith("u-") else ""), 404)

    def all(self) -> list[Photo]:
        with self._lock:
            return [*self._fixed.values(), *reversed(self._uploads.values())]

    def upload(self, data: bytes, filename: str | None) -> Photo:
        """Decode an uploaded file (limits in bytes and pixels) and keep it; the same bytes
        give the same photo."""
        name = _safe_name(filename)
        check_size(data, name, self.max_bytes)
        key = "u-" + digest(data)[:16]
        with self._lock:
            if key in self._uploads:
                self._uploads.move_to_end(key)
                return self._uploads[key]
        picture = decode_upload(data, name, self.max_pixels)
        photo = Photo(key, name, "upload", picture, data)
        with self._lock:
            self._uploads[key] = photo
            while len(self._uploads) > self.keep:
                self._uploads.popitem(last=False)
        return photo


def check_size(data: bytes, name: str, max_bytes: int) -> None:
    """An upload's bytes: some, and at most ``max_bytes`` (else 413)."""
    if len(data) > max_bytes:
        raise PhotoError(f"the upload {name} has {len(data):,} bytes, over the limit of {max_bytes:,}", 413)
    if not data:
        raise PhotoError(f"the upload {name} is empty (0 bytes)", 400)


def decode_upload(data: bytes, name: str, max_pixels: int) -> Picture:
    """An upload through dreamfx's own decoder: its pixel count checked from the header
    (413 over ``max_pixels``), anything that is not an image refused (415)."""
    try:
        return picture_of_bytes(data, name, max_pixels=max_pixels)
    except ImageError as exc:
        status = 413 if "decompression bomb" in str(exc) else 415
        raise PhotoError(str(exc).replace("--max-pixels", "dreamfx explore's pixel limit"), status) from None


def _safe_name(filename: str | None) -> str:
    """An uploaded file's own name, reduced to a plain file name (it is only ever shown)."""
    name = Path(str(filename or "upload.png").replace("\\", "/")).name
    name = re.sub(r"[^\w.+-]", "_", name)[:80].lstrip(".")
    return name or "upload.png"


def png_of(photo: Photo) -> bytes:
    """The photo as the browser shows it (PNG, as decoded: EXIF rotation applied)."""
    from PIL import Image

    from dreamfx.io.images import to_uint8

    picture = photo.picture
    array = picture.rgb if picture.rgb is not None else picture.luma
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(array)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
