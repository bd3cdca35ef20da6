"""A built wheel carries the host, every built-in plugin, the model and the presets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.process("packaging")
def test_wheel_contains_builtins_model_and_presets(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # setuptools has nothing to warn about (a data folder left out of `packages` gave about
    # 40 lines of "Package 'dreamfx.data' is absent from the packages configuration")
    assert "is absent from the" not in proc.stdout + proc.stderr
    assert "Warning" not in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    wheel = next(Path(tmp_path).glob("dreamfx-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"dreamfx", "dreamfx_mnist", "dreamfx_oip", "dreamfx_reinject", "dreamfx_objectives",
                    "dreamfx_scaling", "dreamfx_presets", "dreamfx_executors"}
    assert "plugins" not in tops  # never an importable top-level package called "plugins"
    assert "dreamfx_mnist/mnist_cnn.keras" in names
    assert "dreamfx_presets/single-map.toml" in names
    assert "dreamfx/data/coffee.png" in names
    assert {"dreamfx/config/request.py", "dreamfx/host/commands.py", "dreamfx_mnist/commands.py"} <= names  # train is the plugin's
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: pluggy" in metadata and "scipy" not in metadata  # nothing imports scipy
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[dreamfx]" in text and "mnist = dreamfx_mnist" in text and "presets = dreamfx_presets" in text
    # pyproject's entry points are the one list of built-ins: every built-in package is one
    builtins = {line.split(" = ")[1].strip() for line in text.split("[dreamfx]")[1].strip().splitlines()
                if " = " in line}
    assert tops == {"dreamfx", *builtins}
    assert "dreamfx = dreamfx.cli:entry" in text
