"""Make the images of docs/animation.md with dreamfx itself:

    python docs/make_animation_figures.py

docs/images/zoom.gif: `dreamfx zoom` of the bundled photo (shrunk to 200x133), 16 frames.
docs/images/video-still.jpg: frame 20 of a 24-frame pan over the bundled photo (320x240),
the input beside `dreamfx video --color luma`'s dream of it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    from animation import pan_clip  # benchmarks/animation.py: the slow pan the tests use

    from dreamfx.cli import main as dreamfx

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        with Image.open(ROOT / "dreamfx" / "data" / "coffee.png") as img:
            img.convert("RGB").resize((200, 133), Image.Resampling.LANCZOS).save(base / "photo.png")
        assert dreamfx(["zoom", str(base / "photo.png"), "--frames", "16", "--zoom", "1.04", "--rotate", "1",
                        "--fps", "8", "-q", "-o", str(base / "zoom.gif")]) == 0
        shutil.copyfile(base / "zoom.gif", IMAGES / "zoom.gif")
        paths = pan_clip(base / "clip", 24, (320, 240))
        assert dreamfx(["video", str(base / "clip"), "--color", "luma", "-q", "-o", str(base / "video") + "/"]) == 0
        with Image.open(paths[20]) as a, Image.open(base / "video" / "frame_00020.png") as b:
            still = Image.new("RGB", (640, 240))
            still.paste(a.convert("RGB"), (0, 0))
            still.paste(b.convert("RGB"), (320, 0))
            still.save(IMAGES / "video-still.jpg", quality=85)
    for name in ("zoom.gif", "video-still.jpg"):
        print(f"{IMAGES / name}: {(IMAGES / name).stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
