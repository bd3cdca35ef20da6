"""Regenerate the example images in docs/images/ with dreamfx itself.

    python docs/make_figures.py

Each preset dreams the bundled sample photo; the results are shrunk to 450 px wide so the
repository stays small. Also writes the article's panel and an OIP grid, and prints the
figures docs/scaling.md quotes: each preset's objective before -> after and time (as
``dreamfx run`` reports them), and the tile-grid periodicity of the tiled presets' results
(:func:`dreamfx.kinds.scalers.periodicity`, per axis y and x; the photo itself for comparison).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
PHOTO = DOCS.parent / "dreamfx" / "data" / "coffee.png"
PRESETS = ("single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves")


def dreamfx(*args: str, quiet: bool = True) -> str:
    flags = ["-q"] if quiet else []
    return subprocess.run([sys.executable, "-m", "dreamfx", *args, *flags], check=True, capture_output=not quiet,
                          text=True).stdout or ""


def summary_field(summary: str, name: str) -> str:
    """A field of the run summary ``dreamfx run`` prints, e.g. "objective value"."""
    for line in summary.splitlines():
        if line.strip().startswith(name):
            return " ".join(line.strip()[len(name):].split())
    return "?"


def periodicity_of(path: Path) -> tuple[float, float]:
    import numpy as np

    from dreamfx.kinds.scalers import periodicity

    with Image.open(path) as img:
        return periodicity(np.asarray(img.convert("L"), np.float32) / 255.0)


def shrink(src: Path, dst: Path, width: int = 450) -> None:
    with Image.open(src) as img:
        img.convert("RGB").resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS).save(
            dst.with_suffix(".jpg"), quality=85, optimize=True)


def main() -> None:
    out = DOCS / "images"
    out.mkdir(exist_ok=True)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        shrink(PHOTO.with_suffix(".png"), out / "input.png")
        figures.append("photo: periodicity y %.2f x %.2f" % periodicity_of(PHOTO))
        for preset in PRESETS:
            full = Path(tmp) / f"{preset}.png"
            extra = ["--panel", str(Path(tmp) / "panel.png")] if preset == "single-map" else []
            summary = dreamfx("run", "--preset", preset, str(PHOTO), "-o", str(full), *extra, quiet=False)
            line = f"{preset}: objective {summary_field(summary, 'objective value')}; time {summary_field(summary, 'time')}"
            if preset in ("tiling", "hybrid"):  # tile_scale 1: the working size is the photo's
                line += "; periodicity y %.2f x %.2f" % periodicity_of(full)
            figures.append(line)
            shrink(full, out / f"{preset}.png")
        shrink(Path(tmp) / "panel.png", out / "panel.png", width=1000)
        dreamfx("oip", "--layer", "conv3", "--map", "19", "-n", "4", "-o", str(Path(tmp) / "oip.png"))
        shrink(Path(tmp) / "oip.png", out / "oip-conv3-19.png", width=600)
    print("\n".join(figures))


if __name__ == "__main__":
    main()
