"""Made-up photos and clips for the tests and benchmarks of ``dreamfx zoom`` and ``dreamfx video``.

Generated from a seed, so nothing is tuned to them: the tests use seeds below 1000, the
benchmarks seeds from 5000 on (``benchmarks/animation.py``). Pillow and NumPy only; PyAV
(``write_mp4``) is imported when used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def generated_photo(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A made-up photo: a smooth colour field (low-frequency noise), a few soft shapes and some
    fine texture, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    field = rng.random((4, 5, 3)) * 255
    base = Image.fromarray(field.astype(np.uint8), "RGB").resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(6, 12))):
        x, y = rng.integers(0, w), rng.integers(0, h)
        rx, ry = rng.integers(w // 16, w // 4), rng.integers(h // 16, h // 4)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x - rx, y - ry, x + rx, y + ry], fill=colour)
    grain = (rng.normal(0, 18, (h, w, 1))).astype(np.float32)
    image = np.asarray(base.filter(ImageFilter.GaussianBlur(2)), np.float32) + grain
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def pan_frames(photo: Image.Image, count: int, size: tuple[int, int], step: float, zoom: float = 1.0,
               start: float = 0.0) -> list[Image.Image]:
    """``count`` frames of ``size`` (w, h) panning over ``photo`` by ``step`` pixels a frame,
    each also enlarged ``zoom`` times the one before about its centre."""
    w, h = size
    big = photo.resize((round(photo.size[0] * h * 1.25 / photo.size[1]), round(h * 1.25)), Image.Resampling.LANCZOS)
    frames = []
    for i in range(count):
        s = zoom ** -i
        cx, cy = start + i * step + w / 2, (big.size[1] - h) / 2 + h / 2
        frames.append(big.transform((w, h), Image.Transform.AFFINE,
                                    (s, 0, cx - s * w / 2, 0, s, cy - s * h / 2), resample=Image.Resampling.BICUBIC))
    return frames


def save_clip(folder: Path, frames: list[Image.Image], digits: int = 3) -> list[Path]:
    """``frames`` as ``folder/f000.png``, ``f001.png``, ...; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        paths.append(folder / f"f{i:0{digits}d}.png")
        frame.save(paths[-1])
    return paths


def write_mp4(path: Path, frames: list[Path], fps: int = 24, tone: bool = False) -> Path:
    """The image files ``frames`` as an H.264 MP4 at ``path`` (PyAV), with a mono 440 Hz AAC
    track as long as the video when ``tone``; returns ``path``."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        with Image.open(frames[0]) as first:
            stream.width, stream.height = first.size
        stream.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=22050) if tone else None
        if audio is not None:
            audio.layout = "mono"
        for frame in frames:
            with Image.open(frame) as img:
                out.mux(stream.encode(av.VideoFrame.from_image(img.convert("RGB"))))
        out.mux(stream.encode(None))
        if audio is not None:
            samples = int(22050 * len(frames) / fps)
            wave = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 22050)).astype(np.float32)[None]
            chunk = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            chunk.sample_rate = 22050
            out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
    return path
