"""Regenerate the images of docs/exploring-maps.md with dreamfx itself.

    python docs/make_atlas.py

Writes docs/images/atlas-coffee.jpg (the atlas of conv3's 128 maps on the bundled photo,
``dreamfx.atlas``, sorted by the score after the dream) and docs/images/oip-conv3-all.jpg
(``dreamfx oip --layer conv3 --all``), as JPEGs of a few hundred KB, and prints the figures
the page quotes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
PHOTO = DOCS.parent / "dreamfx" / "data" / "coffee.png"


def main() -> None:
    import dreamfx

    atlas = dreamfx.atlas(PHOTO)
    atlas.sheet(sort="after", tile=120).save(DOCS / "images" / "atlas-coffee.jpg", quality=80)
    zero = [e.map for e in atlas.entries if e.score_before == 0]
    silent = [e.map for e in atlas.entries if e.silent]
    print(f"{len(zero)} of the {len(atlas.entries)} maps are zero on the photo; {len(silent)} of them stay silent: {silent}")
    print("woken by the jitter:", [k for k in zero if k not in silent])
    print("strongest after:", [(e.map, round(e.score_after, 2)) for e in atlas.sorted("after")[:8]])
    with tempfile.TemporaryDirectory() as tmp:
        sheet = Path(tmp) / "sheet.png"
        subprocess.run([sys.executable, "-m", "dreamfx", "oip", "--layer", "conv3", "--all", "-o", str(sheet), "-q"],
                       check=True)
        with Image.open(sheet) as img:
            img = img.convert("RGB")
            img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS).save(
                DOCS / "images" / "oip-conv3-all.jpg", quality=75)


if __name__ == "__main__":
    main()
