"""Peak memory of ``dreamfx video`` and of the animated-file writers against the number of
frames (issue 24, rows 5 and 6): it must not grow with the frames.

    python benchmarks/animation_memory.py [--video 30,120] [--size 320x240]
                                          [--writer 100,400] [--writer-size 1200x900]
                                          [--source mp4|folder] [--formats gif,webp,mp4]

Each figure is the peak resident set size of one fresh process (``os.wait4``'s
``ru_maxrss``), so TensorFlow's own start-up (about 0.5 GB) is in every video figure: what
matters is how the figure moves with the frames.

- video: ``dreamfx video CLIP -o OUT/ --set optimizer.steps=1 --set loop.rounds=1`` on a
  slow pan over the bundled photo (an MP4, or a folder of PNG frames), ``--size`` pixels.
- writer: ``write_animation`` alone (what ``dreamfx zoom -o OUT.gif`` does once its frames
  are dreamed) on N gray frames of ``--writer-size`` already in a frames folder, as
  ``zoom``'s default ``--color gray`` writes them.

Run it against another checkout with ``PYTHONPATH=/that/checkout``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "dreamfx" / "data" / "coffee.png"

WRITER = """
import sys
from pathlib import Path
from dreamfx.runs.frames import FrameStore, frames_of, write_animation
folder, count, out, fmt = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
store = FrameStore(folder, count, "bench")
write_animation(out, fmt, frames_of(store, count), 12.0, {"dreamfx_version": "bench", "frames": count})
"""


def peak_mb(argv: list[str]) -> tuple[float, int]:
    """Run ``argv``; its peak RSS in MB and its exit status."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode() if child.stderr else ""
    if child.returncode:
        print(err[-2000:], file=sys.stderr)
    return usage.ru_maxrss / 1024, child.returncode


def pan_clip(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    with Image.open(PHOTO) as src:
        src = src.convert("RGB")
        big = src.resize((round(src.size[0] * h / src.size[1]) + count, h), Image.Resampling.LANCZOS)
    paths = []
    for i in range(count):
        paths.append(folder / f"f{i:04d}.png")
        big.crop((i, 0, i + w, h)).save(paths[-1])
    return paths


def to_mp4(frames: list[Path], out: Path) -> None:
    from dreamfx.tools.clips import write_mp4

    write_mp4(out, frames)


def gray_frames(folder: Path, count: int, size: tuple[int, int]) -> None:
    """``count`` different gray frames (a noise texture panned a pixel a frame), numbered as a
    frames folder holds them."""
    import numpy as np
    from PIL import Image, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    noise = (np.random.default_rng(0).random((h, w + count)) * 255).astype(np.uint8)
    texture = Image.fromarray(noise).filter(ImageFilter.GaussianBlur(2))
    digits = max(5, len(str(count - 1)))
    for i in range(count):
        texture.crop((i, 0, i + w, h)).save(folder / f"frame_{i:0{digits}d}.png", compress_level=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", default="30,120", help="frame counts of the video runs ('' for none)")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--source", choices=("mp4", "folder"), default="mp4")
    parser.add_argument("--writer", default="100,400", help="frame counts of the writer runs ('' for none)")
    parser.add_argument("--writer-size", default="1200x900")
    parser.add_argument("--formats", default="gif,webp,mp4")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    wsize = tuple(int(v) for v in args.writer_size.split("x"))
    env_note = os.environ.get("PYTHONPATH", "this checkout")
    print(f"code: {env_note}")
    with tempfile.TemporaryDirectory(prefix="dreamfx-mem-") as tmp:
        root = Path(tmp)
        for count in [int(c) for c in args.video.split(",") if c]:
            clip = root / f"clip{count}"
            frames = pan_clip(clip, count, size)
            source = clip
            if args.source == "mp4":
                source = root / f"clip{count}.mp4"
                to_mp4(frames, source)
            out = root / f"out{count}"
            mb, code = peak_mb([sys.executable, "-m", "dreamfx", "video", str(source), "-o", f"{out}/", "-q",
                                "--set", "optimizer.steps=1", "--set", "loop.rounds=1"])
            print(f"video {args.source} {size[0]}x{size[1]} {count:5d} frames: peak {mb:7.0f} MB (exit {code})",
                  flush=True)
        for count in [int(c) for c in args.writer.split(",") if c]:
            folder = root / f"frames{count}"
            gray_frames(folder, count, wsize)
            for fmt in [f for f in args.formats.split(",") if f]:
                out = root / f"w{count}.{fmt}"
                mb, code = peak_mb([sys.executable, "-c", WRITER, str(folder), str(count), str(out), fmt.upper()])
                size_mb = out.stat().st_size / 1e6 if out.exists() else 0.0
                print(f"writer {fmt:4s} {wsize[0]}x{wsize[1]} {count:5d} frames: peak {mb:7.0f} MB "
                      f"(file {size_mb:.1f} MB, exit {code})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
