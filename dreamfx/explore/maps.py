"""What the page shows about a photo and a layer, besides the dream: each map's response
to the photo, each map's optimal input pattern (as ``dreamfx oip --all`` grows them), the
atlas (as ``dreamfx atlas`` dreams it) and what the network classifies the photo's 28x28
view as. Images go out as small PNGs (data URLs in JSON, or bytes)."""

from __future__ import annotations

import base64
import io
from typing import Any, Sequence

import numpy as np

from dreamfx.cache import LRUCache
from dreamfx.io.images import to_uint8

#: Optimizer calls that grow each map's pattern (``dreamfx oip``'s default ``--rounds``).
OIP_ROUNDS = 10
#: Patterns kept, by settings and layer.
KEEP_PATTERNS = 8
#: The longer side of an atlas thumbnail, in pixels.
THUMBNAIL = 96


def png(array: np.ndarray, size: int | None = None, level: int = 1) -> bytes:
    """An (H, W) or (H, W, 3) array in [0, 1] as PNG bytes, its longer side ``size`` if given."""
    from PIL import Image

    image = Image.fromarray(to_uint8(np.asarray(array)))
    if size is not None and max(image.size) != size:
        w, h = image.size
        scale = size / max(w, h)
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def jpeg(image: Any, quality: int = 90) -> bytes:
    """A PIL image as JPEG bytes (frames: small and quick to encode)."""
    buffer = io.BytesIO()
    image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(buffer, format="JPEG",
                                                                                quality=quality)
    return buffer.getvalue()


def data_url(data: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def layers(dreamer: Any) -> list[dict[str, Any]]:
    """The model's layers with feature maps (``dreamfx layers``' rows with maps), and the
    dense layers a ``class`` objective reads."""
    info = dreamer.model_info
    return [{"name": name, "maps": int(shape[-1]) if shape[-1] is not None else None,
             "kind": "maps" if len(shape) == 3 else "units", "shape": list(shape)}
            for name, shape in info.layers.items() if len(shape) in (1, 3)]


def responses(dreamer: Any, pixels: np.ndarray, layer: str) -> list[float]:
    """Each map's mean response to the photo, through the scaler's finest level, as
    ``objective.map = "auto"`` measures it (:func:`dreamfx.engine.responses.map_responses`)."""
    from dreamfx.engine.backend import on_device
    from dreamfx.engine.responses import map_responses

    dreamer.model_info.check_layer(layer, spatial=True)
    with on_device(dreamer.device):
        found = map_responses(dreamer.model, dreamer.model_info, dreamer.scaler, layer, dreamer.model_input([pixels]))
    return [float(v) for v in found[0]]


def classify(dreamer: Any, images: Sequence[np.ndarray]) -> list[list[float]]:
    """What the network says each image's view at its input size (28x28: the whole photo
    shrunk, bicubic, antialiased, as the ``downscale`` scaler sees it) is: the last layer's
    output per image (for the MNIST networks, the probability of each digit). Compiled
    through the dreamer's function cache (eagerly, a page's two images took 12 ms)."""
    from dreamfx.engine.backend import on_device, tensor
    from dreamfx.engine.views import resize

    size = dreamer.model_info.input_size
    model = dreamer.model

    def predict(batch: Any) -> Any:
        return model(resize(batch, size, "bicubic"), training=False)

    with on_device(dreamer.device):
        batch = tensor(dreamer.model_input(list(images)))
        # one function per batch shape (as the loop's per level and size): the cache bounds them
        predict = dreamer.compiled.get(predict, ("explore.classify", tuple(size), tuple(batch.shape)))
        out = np.asarray(predict(batch), np.float64)
    return [[round(float(v), 6) for v in row.reshape(-1)] for row in out]


class Patterns:
    """Each map's optimal input pattern, grown once per settings and layer and kept."""

    def __init__(self, keep: int = KEEP_PATTERNS) -> None:
        self.kept = LRUCache(keep)

    def get(self, dreamer: Any, maps: Sequence[int], rounds: int = OIP_ROUNDS) -> list[dict[str, Any]]:
        from dreamfx.runs.patterns import grow_patterns

        chosen = list(maps)
        key = (dreamer.settings.digest(), tuple(chosen), rounds)

        def grow() -> list[dict[str, Any]]:
            result = grow_patterns(dreamer, len(chosen), rounds, choices=chosen)
            return [{"map": int(k), "score": float(after), "pattern": bool(after > 0),
                     "png": data_url(png(result.patterns[i]))}
                    for i, (k, after) in enumerate(zip(chosen, result.after))]

        return self.kept.get_or_build(key, grow)


def atlas(dreamer: Any, pixels: np.ndarray, maps: Any, input_name: str | None, size: int = THUMBNAIL) -> dict[str, Any]:
    """The photo dreamed under each map (``dreamfx atlas``): scores, gain, silent, and a thumbnail."""
    from dreamfx.runs.atlas import make_atlas

    made = make_atlas(dreamer, pixels, maps, input_name=input_name)
    return {"layer": made.layer, "choice": made.selectable, "title": made.title, "seconds": made.seconds,
            "maps": [{**entry.as_dict(), "png": data_url(png(entry.image, size))} for entry in made.entries]}
