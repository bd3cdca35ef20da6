"""Load MNIST digits from the common on-disk formats and split them for evaluation.

`load_mnist` accepts the three layouts MNIST is usually distributed in and returns
them in one shape, so training and evaluation never care where the digits came from:

* IDX files (LeCun's ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and the
  ``t10k-`` pair), plain or ``.gz``;
* Keras' ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``);
* CSV, plain or ``.gz``, one digit per line: 784 pixel values 0-255 (28x28, row-major)
  followed by the label, as in ``shared/data/mnist_5k.csv.gz``.

Every mistake in the user's file is reported as a one-line ``ValueError`` naming the
file and what was expected, so a command-line host can show it without a traceback.
"""

from __future__ import annotations

import gzip
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

IMAGE_SIDE = 28
NUM_CLASSES = 10

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_IDX_UBYTE = 0x08
_IDX_SPLITS = ("train", "t10k")
_CSV_COLUMNS = IMAGE_SIDE * IMAGE_SIDE + 1

HOLDOUT_SEED = 0
"""Seed of the held-out split used for training reports, fixed so that models trained
with different seeds are scored on the same digits."""


def load_mnist(path: str | os.PathLike[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Return all digits found at ``path`` as ``(x, y)``.

    ``x`` is uint8 of shape (N, 28, 28) with values 0-255 (white digit on black) and
    ``y`` is uint8 of shape (N,) with labels 0-9. ``path`` may be a directory of IDX
    files (train and t10k are concatenated when both are there), an IDX images file
    (its labels file is expected beside it), an ``.npz`` file (train and test are
    concatenated) or a CSV file. The format is recognised from the file's content, so
    a misleading name does not matter. With ``path=None`` the full MNIST set is
    fetched through ``keras.datasets.mnist`` (needs internet on first use).
    """
    if path is None:
        return _load_keras_download()
    path = Path(path)
    if path.is_dir():
        return _load_idx_dir(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or directory (expected MNIST data)")
    head = _read_bytes(path, limit=4)
    if head[:2] == b"\x00\x00" and head[2:3] == bytes([_IDX_UBYTE]):
        return _load_idx_images(path)
    if head == _ZIP_MAGIC and not _is_gzip(path):
        return _load_npz(path)
    looks_numeric = bool(head) and all(chr(b) in "0123456789,.-+ \t\r\n" for b in head)
    if looks_numeric or ".csv" in path.suffixes:
        return _load_csv(path)
    raise ValueError(
        f"{path}: unrecognised format (expected IDX files, a Keras mnist.npz or a CSV of "
        "784 pixels then the label per line, optionally gzip-compressed)"
    )


def stratified_split(
    y: np.ndarray, holdout_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into ``(train_idx, test_idx)`` holding out exactly
    ``holdout_per_class`` random digits of every class 0-9.

    A fixed count per class keeps the held-out accuracy and confusion matrix
    comparable across data files whatever their class balance. The choice depends only
    on ``y`` and ``seed``; both index arrays are sorted and disjoint, and together
    cover every digit.
    """
    y = np.asarray(y)
    if holdout_per_class < 1:
        raise ValueError(f"holdout_per_class must be at least 1, got {holdout_per_class}")
    rng = np.random.default_rng(seed)
    held = []
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(y == digit)
        if members.size <= holdout_per_class:
            raise ValueError(
                f"digit {digit} has {members.size} examples; holding out "
                f"{holdout_per_class} per class needs more than that"
            )
        held.append(rng.choice(members, size=holdout_per_class, replace=False))
    test_idx = np.sort(np.concatenate(held))
    train_idx = np.setdiff1d(np.arange(y.size), test_idx)
    return train_idx, test_idx


def _load_keras_download() -> tuple[np.ndarray, np.ndarray]:
    """Fetch MNIST (70,000 digits) via Keras, turning a failed download into a hint."""
    import keras  # Deferred: loading files must not pay for importing TensorFlow.

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as err:  # Keras raises a bare Exception when the fetch fails.
        raise ValueError(
            f"could not download MNIST through Keras ({err}); pass a local data file instead"
        ) from err
    return _checked(
        np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]), "keras mnist"
    )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_bytes(path: Path, limit: int = -1) -> bytes:
    """Read (up to ``limit``) bytes of ``path``, decompressing gzip transparently."""
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            return f.read(limit)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: cannot read the file ({err})") from err


def _load_idx_dir(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load and concatenate the train and t10k IDX image files found in ``directory``."""
    found = [p for split in _IDX_SPLITS if (p := _find_idx_images(directory, split))]
    if not found:
        raise ValueError(
            f"{directory}: no MNIST IDX files found (expected train-images-idx3-ubyte "
            "and train-labels-idx1-ubyte, optionally .gz, and/or the t10k- pair)"
        )
    parts = [_load_idx_images(p) for p in found]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _find_idx_images(directory: Path, split: str) -> Path | None:
    for sep in ("-", "."):
        for suffix in ("", ".gz"):
            candidate = directory / f"{split}-images{sep}idx3-ubyte{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _labels_beside(images: Path) -> Path:
    """Locate the IDX labels file that belongs to an IDX images file."""
    name = images.name.replace("images", "labels").replace("idx3", "idx1")
    stem = name.removesuffix(".gz")
    for candidate in (stem, stem + ".gz"):
        path = images.with_name(candidate)
        if path != images and path.is_file():
            return path
    raise ValueError(f"{images}: labels file {images.with_name(name)} not found beside it")


def _load_idx_images(images: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load an IDX images file together with its labels file."""
    x = _read_idx(images)
    if x.ndim == 1:
        raise ValueError(
            f"{images}: this is an IDX labels file; pass the images file (…-images-idx3-ubyte)"
        )
    y = _read_idx(_labels_beside(images))
    return _checked(x, y, str(images))


def _read_idx(path: Path) -> np.ndarray:
    """Decode one unsigned-byte IDX file (magic 0x0000 08 NDIM, big-endian dims)."""
    data = _read_bytes(path)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != _IDX_UBYTE:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(f"{path}: IDX header is truncated")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    payload = np.frombuffer(data, np.uint8, offset=offset)
    if payload.size != int(np.prod(dims)):
        raise ValueError(
            f"{path}: IDX header promises {int(np.prod(dims))} values for shape {dims}, "
            f"file holds {payload.size}"
        )
    return payload.reshape(dims)


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load Keras' mnist.npz layout, concatenating the train and test arrays."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            wanted = {"x_train", "y_train", "x_test", "y_test"} & keys
            arrays = {key: npz[key] for key in wanted}
    except (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: cannot read the npz file ({err})") from err
    if not {"x_train", "y_train"} <= keys:
        raise ValueError(
            f"{path}: expected arrays x_train and y_train (Keras mnist.npz layout), "
            f"found {sorted(keys)}"
        )
    if ("x_test" in keys) != ("y_test" in keys):
        raise ValueError(f"{path}: has only one of x_test / y_test")
    splits = ("train", "test") if "x_test" in keys else ("train",)
    parts = [_checked(arrays[f"x_{s}"], arrays[f"y_{s}"], f"{path} [{s}]") for s in splits]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load a CSV of 784 pixel values followed by the label on every line."""
    text = _read_bytes(path).decode("ascii", errors="replace").splitlines()
    try:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as err:
        raise ValueError(
            f"{path}: expected integer CSV, 784 pixels then the label per line ({err})"
        ) from err
    if table.shape[1] != _CSV_COLUMNS:
        raise ValueError(
            f"{path}: expected {_CSV_COLUMNS} values per line (784 pixels then the label), "
            f"found {table.shape[1]}"
        )
    x = table[:, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return _checked(x, table[:, -1], str(path))


def _checked(x: np.ndarray, y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes and value ranges, returning uint8 ``(x, y)``."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"{source}: expected images of shape (N, 28, 28), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{source}: contains no digits")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"{source}: expected {x.shape[0]} labels of shape ({x.shape[0]},), got {y.shape}"
        )
    if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() > 255:
        raise ValueError(f"{source}: pixels must be integers 0-255 (dtype {x.dtype})")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{source}: labels must be integers 0-9 (dtype {y.dtype})")
    bad = y[(y < 0) | (y >= NUM_CLASSES)]
    if bad.size:
        raise ValueError(f"{source}: labels must be 0-9, found {int(bad[0])}")
    return x.astype(np.uint8), y.astype(np.uint8)
