"""Signals and bounds: a dream returns to Python often enough for Ctrl-C and SIGTERM to
take effect within 2 s, however large the image; settings have upper bounds."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dreamfx.api import make_dreamer
from dreamfx.errors import SettingsError

from .conftest import default_signals


@pytest.mark.parametrize("overrides, message", [
    ({"steps": 2_147_483_648}, r"optimizer.steps must be at most 100,000 \(per round\), got 2147483648"),
    ({"step_size": 1.5}, r"optimizer.step_size must be at most 1 \(the whole pixel range\), got 1.5"),
    ({"step_size": float("nan")}, r"optimizer.step_size must be a finite number, got nan"),
    ({"jitter": 1000}, r"optimizer.jitter must be at most 64 \(pixels\)"),
    ({"blur": 100.0}, r"optimizer.blur must be at most 16"),
    ({"chunk": 10**6}, r"optimizer.chunk must be at most 65,536 \(views per network call\)"),
    ({"rounds": 10_001}, r"loop.rounds must be at most 10,000, got 10001"),
    ({"scaler__tile_scale": 1e9}, r"scaler.tile_scale must be 1 to 1000 \(image pixels per model pixel\)"),
])
def test_settings_have_upper_bounds(overrides, message):
    preset = "tiling" if "scaler__tile_scale" in overrides else "single-map"
    with pytest.raises(SettingsError, match=message):
        make_dreamer(preset, overrides)


def test_hybrid_and_octaves_bounds():
    with pytest.raises(SettingsError, match="scaler.max_levels must be 1 to 16, got 17"):
        make_dreamer("hybrid", {"max_levels": 17})
    with pytest.raises(SettingsError, match="scaler.octaves must be 1 to 32, got 33"):
        make_dreamer("octaves", {"octaves": 33})


# Marks the moment the dream starts (after imports, decoding and building the components),
# then runs the CLI as `dreamfx` would. SIGINT is set explicitly: a shell starts background
# jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
CHILD = """
import signal, sys, pathlib
signal.signal(signal.SIGINT, signal.default_int_handler)
from dreamfx.engine.dreamer import Dreamer
marker, argv = pathlib.Path(sys.argv[1]), sys.argv[2:]
dream_batch = Dreamer.dream_batch
def marked(self, *args, **kwargs):
    marker.write_text("dreaming")
    return dream_batch(self, *args, **kwargs)
Dreamer.dream_batch = marked
from dreamfx.cli import entry
entry(argv)
"""


def _large_image(path, size=(3000, 2000)) -> None:
    """Smooth random texture: photo-like, so the dream has gradients everywhere."""
    from PIL import Image

    noise = np.random.default_rng(0).random((size[1] // 40, size[0] // 40))
    small = Image.fromarray((noise * 255).astype(np.uint8))
    small.resize(size, Image.Resampling.BICUBIC).save(path)


@pytest.mark.slow
@pytest.mark.process("signals")
@pytest.mark.parametrize("signum, preset", [(signal.SIGINT, "tiling"), (signal.SIGTERM, "tiling"),
                                            (signal.SIGINT, "octaves")])
def test_signal_stops_a_large_dream_within_2_seconds(tmp_path, signum, preset):
    """3000x2000 with the tiling preset: 7,700 tiles, several seconds per step on a 2-core
    CPU; with octaves, one step of the finest level is a single TensorFlow call of seconds
    that cannot be cut (the whole image is one view). The signal lands 3 s into the dream
    (past the first compiled calls' tracing); the process must exit with 130 within 2 s, its
    interpreter shutdown included."""
    src, marker = tmp_path / "big.png", tmp_path / "dreaming"
    _large_image(src)
    cmd = [sys.executable, "-c", CHILD, str(marker), "run", "--preset", preset, str(src), "-o",
           str(tmp_path / "out.png"), "--set", "optimizer.steps=10000"]
    if preset == "octaves":  # one level, the whole image: every step is one long call
        cmd += ["--set", "scaler.octaves=1", "--set", "scaler.scale=1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate()[1][-2000:]
        time.sleep(3.0)
        assert proc.poll() is None, "the dream ended before the signal"
        sent = time.monotonic()
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
        latency = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"signal {signum!r}: exit {proc.returncode} after {latency:.2f} s")
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr
    assert latency < 2.0, latency
    assert not (tmp_path / "out.png").exists()
