"""The masks ``dreamfx explore`` dreams through: uploaded beside the photos (``POST
/api/masks``), named by id (``m-<digest>``), never by a path on the server.

An upload passes the checks a photo upload passes (bytes, then the pixel count from the
header, then dreamfx's own decoder) and is kept as a private temporary file: in a folder
only this server's user may enter (``mkdtemp``), created exclusively, readable by that user
alone. The server owns these files: a mask removed (``DELETE /api/masks/ID``), or dropped as
the least recently used beyond :data:`KEEP_MASKS`, is deleted at once, and the folder with
whatever is left when the server stops (:meth:`Masks.close`, or at the interpreter's exit).

A dream reads its mask's bytes once, when it starts, and checks them against the upload's
SHA-256 (:class:`dreamfx.engine.masks.MaskFile`), so a mask removed while a dream runs
cannot change that dream.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamfx.io.images import digest
from dreamfx.explore.photos import MAX_PIXELS, MAX_UPLOAD_BYTES, PhotoError, _safe_name, check_size, decode_upload

#: Uploaded masks kept at once.
KEEP_MASKS = 8
_ID = re.compile(r"^m-[0-9a-f]{16}$")


@dataclass(frozen=True)
class Mask:
    id: str
    name: str  # the upload's own file name: what "copy as command" calls it (--mask NAME)
    path: Path  # the private temporary file
    sha256: str
    size: tuple[int, int]  # (height, width)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "width": self.size[1], "height": self.size[0],
                "sha256": self.sha256, "download": f"/api/masks/{self.id}"}


class Masks:
    """The uploaded masks by id, each a private temporary file this object deletes."""

    def __init__(self, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_UPLOAD_BYTES, keep: int = KEEP_MASKS) -> None:
        self.max_pixels, self.max_bytes, self.keep = max_pixels, max_bytes, keep
        self._lock = threading.Lock()
        self._masks: OrderedDict[str, Mask] = OrderedDict()
        self._folder: Path | None = None
        self._cleanup: Any = None

    def folder(self) -> Path:
        """The private folder of the files (made on the first upload)."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="dreamfx-explore-masks-"))  # mode 0700
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._folder), ignore_errors=True)
        return self._folder

    def upload(self, data: bytes, filename: str | None) -> Mask:
        """Check an uploaded mask as a photo upload is checked and keep it as a private file;
        the same bytes give the same mask."""
        name = _safe_name(filename or "mask.png")
        check_size(data, name, self.max_bytes)
        sha256 = digest(data)
        key = "m-" + sha256[:16]
        with self._lock:
            if key in self._masks:
                self._masks.move_to_end(key)
                return self._masks[key]
        picture = decode_upload(data, name, self.max_pixels)
        with self._lock:
            if key in self._masks:
                return self._masks[key]
            path = self.folder() / f"{key}.mask"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            mask = self._masks[key] = Mask(key, name, path, sha256, picture.size)
            while len(self._masks) > self.keep:
                _, dropped = self._masks.popitem(last=False)
                dropped.path.unlink(missing_ok=True)
        return mask

    def get(self, mask_id: Any) -> Mask:
        """The mask ``mask_id``: a 400 for what is not a mask id (no request names a file), a
        404 for one this server does not keep (never uploaded, removed, or dropped)."""
        if not isinstance(mask_id, str) or not _ID.match(mask_id):
            raise PhotoError(f"mask {str(mask_id)[:40]!r} is not a mask id (the id an upload to /api/masks "
                             "returned); a request cannot name a file on the server", 400)
        with self._lock:
            if mask_id in self._masks:
                self._masks.move_to_end(mask_id)
                return self._masks[mask_id]
        raise PhotoError(f"no mask {mask_id!r} (removed, or dropped after {self.keep} newer ones): upload it again",
                         404)

    def read(self, mask_id: Any) -> tuple[Mask, bytes]:
        """The mask and its file's bytes, as uploaded."""
        mask = self.get(mask_id)
        with self._lock:
            try:
                data = mask.path.read_bytes()
            except FileNotFoundError:
                data = b""
        if digest(data) != mask.sha256:  # removed meanwhile (or changed behind the server's back)
            raise PhotoError(f"no mask {mask_id!r}: it was removed; upload it again", 404)
        return mask, data

    def all(self) -> list[Mask]:
        with self._lock:
            return list(reversed(self._masks.values()))

    def remove(self, mask_id: Any) -> Mask:
        """Forget the mask ``mask_id`` and delete its file."""
        mask = self.get(mask_id)
        with self._lock:
            self._masks.pop(mask.id, None)
            mask.path.unlink(missing_ok=True)
        return mask

    def close(self) -> None:
        """Delete every mask's file and the folder (the server stops)."""
        with self._lock:
            self._masks.clear()
            if self._cleanup is not None:
                self._cleanup()
