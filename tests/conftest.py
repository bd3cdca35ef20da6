"""Shared fixtures. Every test gets a fresh plugin host (no module-global plugin manager)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SAMPLE = ROOT / "dreamfx" / "data" / "coffee.png"


@pytest.fixture
def host():
    from dreamfx.plugins import create_host

    return create_host(entry_points=False, disabled=set())


@pytest.fixture
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def small_photo() -> np.ndarray:
    """A 120x90 grayscale crop-and-shrink of the bundled photo: real texture, fast to dream."""
    from PIL import Image

    from dreamfx.imageio import to_gray

    with Image.open(SAMPLE) as img:
        return to_gray(img.resize((120, 90), Image.Resampling.LANCZOS))


CHELSEA = TEST_DATA / "chelsea.png"
DIGITS = TEST_DATA / "mnist_200.csv.gz"
"""200 real MNIST digits (20 per class) for loader and training tests; see tests/data/LICENSES.md."""


def default_signals() -> None:
    """``preexec_fn`` for a child that a test interrupts: SIGINT, SIGTERM and SIGHUP as a
    terminal would deliver them. A suite started under ``nohup`` or in the background of a
    non-interactive shell hands its children SIGHUP or SIGINT ignored, and dreamfx rightly
    keeps an ignored signal ignored (``nohup dreamfx run ...`` must survive a hang-up)."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
