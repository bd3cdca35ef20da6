"""Regenerate the example images in docs/images/ with dreamfx itself.

    python docs/make_figures.py

Each preset dreams the bundled sample photo; the results are shrunk to 450 px wide so the
repository stays small. Also writes the article's panel and an OIP grid.
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


def dreamfx(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dreamfx", *args, "-q"], check=True)


def shrink(src: Path, dst: Path, width: int = 450) -> None:
    with Image.open(src) as img:
        img.convert("RGB").resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS).save(
            dst.with_suffix(".jpg"), quality=85, optimize=True)


def main() -> None:
    out = DOCS / "images"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shrink(PHOTO.with_suffix(".png"), out / "input.png")
        for preset in PRESETS:
            full = Path(tmp) / f"{preset}.png"
            extra = ["--panel", str(Path(tmp) / "panel.png")] if preset == "single-map" else []
            dreamfx("run", "--preset", preset, str(PHOTO), "-o", str(full), *extra)
            shrink(full, out / f"{preset}.png")
        shrink(Path(tmp) / "panel.png", out / "panel.png", width=1000)
        dreamfx("oip", "--layer", "conv3", "--map", "56", "-n", "4", "-o", str(Path(tmp) / "oip.png"))
        shrink(Path(tmp) / "oip.png", out / "oip-conv3-56.png", width=600)


if __name__ == "__main__":
    main()
