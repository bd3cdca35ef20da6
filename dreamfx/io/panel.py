"""The article's figure: pattern (viridis and gray), blurry dream, result, contrast view."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from dreamfx.engine.results import DreamResult

# A degree-6 polynomial fit of matplotlib's viridis colour map (CC0, by Matt Zucker), so the
# panel needs no plotting library. Max error against matplotlib's table: see test_panel.
_VIRIDIS = np.array([
    [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832],
])


def viridis(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB in [0, 1] with the viridis colour map."""
    t = np.clip(values, 0.0, 1.0)[..., None]
    rgb = np.zeros(t.shape[:-1] + (3,))
    for coeffs in _VIRIDIS[::-1]:
        rgb = rgb * t + coeffs
    return np.clip(rgb, 0.0, 1.0)


def stretch(values: np.ndarray) -> np.ndarray:
    """Rescale to use the full [0, 1] range (for showing a small pattern's structure)."""
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


def _tile(rgb: np.ndarray, height: int, resample: Image.Resampling) -> Image.Image:
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    width = max(1, round(img.width * height / img.height))
    return img.convert("RGB").resize((width, height), resample)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def render_panel(result: "DreamResult", height: int = 256, title: str | None = None) -> Image.Image:
    """One labelled row of the five images, each ``height`` pixels high."""
    pattern = result.pattern if result.pattern.ndim == 2 else result.pattern.mean(axis=-1)  # colour model: its mean
    gray3 = lambda a: a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=-1)  # noqa: E731
    tiles = [
        ("pattern (viridis)", _tile(viridis(stretch(pattern)), height, Image.Resampling.NEAREST)),
        ("pattern (gray)", _tile(gray3(result.pattern), height, Image.Resampling.NEAREST)),
        ("upscaled dream", _tile(gray3(result.dream), height, Image.Resampling.LANCZOS)),
        ("+ lost detail", _tile(gray3(result.image), height, Image.Resampling.LANCZOS)),
        (f"contrast x{result.settings.output['panel_contrast']:g}", _tile(gray3(result.contrast), height, Image.Resampling.LANCZOS)),
    ]
    pad, label_h = 12, 28
    title_h = 30 if title else 0
    width = pad + sum(t.width + pad for _, t in tiles)
    panel = Image.new("RGB", (width, title_h + label_h + height + pad), "white")
    draw = ImageDraw.Draw(panel)
    if title:
        draw.text((pad, 8), title, fill="black", font=_font(16))
    x = pad
    for label, tile in tiles:
        draw.text((x, title_h + 6), label, fill="black", font=_font(15))
        panel.paste(tile, (x, title_h + label_h))
        x += tile.width + pad
    return panel


def render_grid(patterns: np.ndarray, labels: list[str], title: str, size: int = 196,
                columns: int = 4) -> Image.Image:
    """Patterns side by side in viridis (each stretched to its own range), labelled."""
    pad, label_h, title_h = 12, 24, 30
    count = len(patterns)
    columns = min(count, columns)
    rows = -(-count // columns)
    width = pad + columns * (size + pad)
    grid = Image.new("RGB", (max(width, 420), title_h + rows * (label_h + size + pad)), "white")
    draw = ImageDraw.Draw(grid)
    draw.text((pad, 8), title, fill="black", font=_font(16))
    for i, (pattern, label) in enumerate(zip(patterns, labels)):
        x = pad + (i % columns) * (size + pad)
        y = title_h + (i // columns) * (label_h + size + pad)
        font_size = 14 if size >= 150 else 12
        while font_size > 8 and draw.textlength(label, font=_font(font_size)) > size + pad - 2:
            font_size -= 1  # a long label ("map 120: no pattern") keeps clear of its neighbour's
        draw.text((x, y + 4), label, fill="black", font=_font(font_size))
        grid.paste(_tile(viridis(stretch(pattern)), size, Image.Resampling.NEAREST), (x, y + label_h))
    return grid
