"""Regenerate the figures of docs/controls.md with dreamfx itself.

    python docs/make_control_figures.py

A masked dream of the bundled photo (photo | mask | dream), a guided dream beside its
guide, a hand-drawn 7, and the same photo under whole-layer on the same layer, and a
looping zoom (GIF).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

DOCS = Path(__file__).resolve().parent
PHOTO = DOCS.parent / "dreamfx" / "data" / "coffee.png"
WIDTH = 300  # each panel's width in the figures


def dreamfx(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "dreamfx", *map(str, args), "-q"], check=True)


def panel(path: Path, height: int) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
        return image.resize((round(image.width * height / image.height), height), Image.Resampling.LANCZOS)


def side_by_side(paths: list[Path], out: Path, height: int = 225) -> None:
    panels = [panel(p, height) for p in paths]
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 8 * (len(panels) - 1), height), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 8
    sheet.save(out, quality=88)
    print("wrote", out)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Image.open(PHOTO) as photo:
            size = photo.size
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).ellipse((size[0] * 0.25, size[1] * 0.1, size[0] * 0.75, size[1] * 0.9), fill=255)
        mask.save(work / "mask.png")
        dreamfx("run", PHOTO, "--mask", work / "mask.png", "-o", work / "masked.png", "--color", "luma")
        side_by_side([PHOTO, work / "mask.png", work / "masked.png"], DOCS / "images" / "mask.jpg")

        seven = Image.new("L", (28, 28), 0)
        ImageDraw.Draw(seven).line([(7, 6), (21, 6), (12, 23)], fill=255, width=3)
        seven.save(work / "seven.png")
        ImageOps.contain(seven, (225, 225), Image.Resampling.NEAREST).save(work / "seven-large.png")
        dreamfx("run", PHOTO, "--set", "objective=guide", "--set", f"objective.image={work / 'seven.png'}",
                "-o", work / "guided.png")
        dreamfx("run", PHOTO, "--set", "objective=whole-layer", "-o", work / "whole.png")
        side_by_side([work / "seven-large.png", work / "guided.png", work / "whole.png"], DOCS / "images" / "guide.jpg")

        with Image.open(PHOTO) as photo:  # a small photo: the GIF stays small
            photo.convert("RGB").resize((200, 133), Image.Resampling.LANCZOS).save(work / "small.png")
        dreamfx("zoom", work / "small.png", "--frames", "24", "--loop", "--fps", "10", "-o", work / "loop.gif")
        shutil.copyfile(work / "loop.gif", DOCS / "images" / "loop.gif")  # the file, not its frames and sidecar
        print("wrote", DOCS / "images" / "loop.gif")


if __name__ == "__main__":
    main()
