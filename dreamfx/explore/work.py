"""What each explore endpoint does, apart from HTTP: :class:`Explorer` holds the photos, the
dreaming (:class:`dreamfx.explore.sessions.Studio`) and the kept patterns, and answers with
plain values (the routes in :mod:`dreamfx.explore.app` and :mod:`dreamfx.explore.live` turn
them into responses).

A dream's PNG is :func:`dreamfx.io.images.compose` of the result, as ``dreamfx run`` writes
it, with the same provenance (:func:`dreamfx.io.metadata.output_metadata`): ``dreamfx info``
prints it and ``dreamfx run --from`` repeats it. A dream through an uploaded mask
(:mod:`dreamfx.explore.masks`) records the mask by the name its command gives it
(``--mask NAME``: a file the user keeps, downloaded from the explorer) and its SHA-256.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dreamfx.cache import LRUCache
from dreamfx.errors import DreamfxError, SettingsError
from dreamfx.explore import maps as mapping
from dreamfx.explore.masks import Mask, Masks
from dreamfx.explore.options import Options
from dreamfx.explore.photos import Photo, PhotoError, Photos
from dreamfx.explore.sessions import Frame, Studio

#: Finished dreams kept for their panel (each holds four float images of the photo's size).
KEEP_DREAMS = 4
#: The panel's row height in pixels: the default, and the bounds a request may ask for.
PANEL_HEIGHT, PANEL_HEIGHTS = 160, (32, 512)


@dataclass
class Outcome:
    """A finished dream: the PNG (with provenance) and what the page shows beside it."""

    png: bytes
    photo: Photo
    result: Any
    summary: dict[str, Any]
    ident: str = ""  # the id its panel is fetched by (GET /api/dreams/ID/panel.png)


def panel_title(name: str, result: Any) -> str:
    """The panel's title, as ``dreamfx run --panel`` writes it: photo, preset, objective."""
    return f"{name}: {result.settings.preset}, {result.objective}"


#: What "copy as command" says of a mask: the command reads it from a file the user supplies.
MASK_NOTE = ("the command reads the mask from {name}: download the mask this dream used ({download}) and save it "
             "as {name} beside the photo")


class Explorer:
    def __init__(self, photos: Photos, studio: Studio | None = None, masks: Masks | None = None) -> None:
        self.photos = photos
        self.studio = studio or Studio()
        #: The uploaded masks (private temporary files, deleted by :meth:`close`).
        self.masks = masks or Masks(photos.max_pixels, photos.max_bytes)
        # the plugin host is made here, on the caller's thread: loading plugins watches for
        # Ctrl-C with signal handlers, which only the main thread may set
        self.studio.host()
        self.patterns = mapping.Patterns()
        #: The last dreams' results, by id, for their panels (:meth:`panel`).
        self.dreams = LRUCache(KEEP_DREAMS)
        self._ids = itertools.count(1)

    # -- settings ----------------------------------------------------------------------------

    def presets(self) -> list[dict[str, Any]]:
        """The registered presets, each with the values of the page's controls."""
        from dreamfx.config.presets import load_preset

        host = self.studio.host()
        out = []
        for component in host.registry("presets"):
            try:
                settings = Options(preset=component.name).settings(host)
            except DreamfxError:
                continue
            _, data = load_preset(host, component.name)
            out.append({"name": component.name, "description": str(data.get("description", "")),
                        "settings": settings.to_dict()})
        return out

    def settings(self, options: Options) -> Any:
        return options.settings(self.studio.host())

    def close(self) -> None:
        """Delete the uploaded masks' files (the server stops)."""
        self.masks.close()

    def dreamer(self, options: Options, layer: str | None = None) -> Any:
        """A warm dreamer for ``options`` (on ``layer`` when given: the map picker's)."""
        if layer is not None:
            options = Options(options.photo, options.preset, options.sets, options.seed, options.color,
                              (("objective.layer", layer),))
        settings = self.settings(options)
        return self.studio.dreamer(settings)[0], settings

    # -- the dream -----------------------------------------------------------------------------

    def dream(self, options: Options, on_frame: Callable[[Frame], None] | None = None,
              check: Callable[[], None] = lambda: None, classify: bool = True) -> Outcome:
        from dreamfx.io.images import compose
        from dreamfx.io.metadata import output_metadata
        from dreamfx.io.writing import encode_image

        photo = self.photos.get(options.photo)
        settings = self.settings(options)
        mask, own = self._mask(options, settings)
        if own is not None and on_frame is not None:
            on_frame = _masked_frames(on_frame, settings, own, photo.picture)
        started = time.perf_counter()
        result, dreamer = self.studio.dream(settings, photo.picture, on_frame=on_frame, check=check, mask=own)
        seconds = time.perf_counter() - started
        if result.problem is not None:
            raise DreamfxError(result.problem)
        if mask is not None:  # recorded as the command names it: --mask NAME (the private file is the server's)
            from dataclasses import replace

            from dreamfx.engine.masks import MaskFile, with_mask

            shown = MaskFile(mask.name, mask.sha256)
            settings, result = with_mask(settings, shown), replace(result, settings=with_mask(result.settings, shown))
        picture = photo.picture
        image = compose(picture, result.image, options.color, False)
        metadata = output_metadata(settings, result, color=options.color, keep_alpha=False,
                                   input_name=photo.name.replace("\\", "/").rpartition("/")[2],
                                   input_digest=picture.digest)
        png = encode_image(image, "PNG", metadata)
        ident = f"d{next(self._ids)}"
        self.dreams.put(ident, (result, photo.name.replace("\\", "/").rpartition("/")[2]))
        summary: dict[str, Any] = {
            "dream": ident, "panel": f"/api/dreams/{ident}/panel.png",
            "photo": photo.id, "objective": result.objective, "score_before": result.score_before,
            "score_after": result.score_after, "seconds": round(seconds, 4),
            "silent": result.silence.reason() if result.silence is not None else None,
            "command": options.command(photo.name, mask_name=None if mask is None else mask.name),
            "settings": result.settings.to_dict(), "rounds": dreamer.rounds_for(picture.size), "mask": None,
        }
        if mask is not None:
            summary["mask"] = {**mask.describe(), "note": MASK_NOTE.format(**mask.describe())}
        if classify:
            pixels = picture.pixels(dreamer.channels)
            dreamed = np.asarray(result.image, np.float32)
            with self.studio.busy:
                before, after = mapping.classify(dreamer, [pixels, dreamed])
            summary["classes_before"], summary["classes_after"] = before, after
        return Outcome(png, photo, result, summary, ident)

    def panel(self, ident: str, height: Any = None) -> bytes:
        """The article's panel of a kept dream (:func:`dreamfx.io.panel.render_panel`: the
        pattern in viridis and gray, the upscaled dream, the result, the contrast view) as PNG,
        titled as ``dreamfx run --panel`` titles it."""
        from dreamfx.io.writing import encode_image
        from dreamfx.io.panel import render_panel

        kept = self.dreams.peek(ident)
        if kept is None:
            raise PhotoError(f"no dream {ident[:40]!r}: the server keeps the last {KEEP_DREAMS} dreams' panels", 404)
        try:
            rows = PANEL_HEIGHT if height in (None, "") else int(height)
        except ValueError:
            rows = -1
        if not PANEL_HEIGHTS[0] <= rows <= PANEL_HEIGHTS[1]:
            raise SettingsError(f"panel height must be {PANEL_HEIGHTS[0]} to {PANEL_HEIGHTS[1]} pixels, got {height!r}")
        result, name = kept
        return encode_image(render_panel(result, rows, title=panel_title(name, result)), "PNG")

    def _mask(self, options: Options, settings: Any) -> tuple[Mask | None, Any]:
        """The request's uploaded mask and what the dreamer is handed (its bytes, read now,
        and the request's feather: the warm dreamer's settings may hold another), or
        (None, None)."""
        if options.mask is None:
            return None, None
        from dreamfx.engine.masks import MaskFile

        mask, data = self.masks.read(options.mask)
        return mask, MaskFile(str(mask.path), mask.sha256, data, settings.output["mask_feather"])

    # -- the maps ----------------------------------------------------------------------------

    def layers(self, options: Options) -> dict[str, Any]:
        dreamer, settings = self.dreamer(options)
        return {"model": settings.model.name, "layer": settings.objective.params.get("layer"),
                "map": settings.objective.params.get("map"), "layers": mapping.layers(dreamer)}

    def _layer(self, options: Options, layer: str | None) -> tuple[Any, Any, str]:
        dreamer, settings = self.dreamer(options, layer)
        name = layer or settings.objective.params.get("layer")
        if not isinstance(name, str):
            raise SettingsError(f"objective {settings.objective.name!r} reads no single layer: give layer=NAME")
        return dreamer, settings, name

    def responses(self, options: Options, layer: str | None) -> dict[str, Any]:
        photo = self.photos.get(options.photo)
        dreamer, _, name = self._layer(options, layer)
        values = self.studio.run(lambda: mapping.responses(dreamer, photo.picture.pixels(dreamer.channels), name))
        return {"photo": photo.id, "layer": name, "responses": values,
                "strongest": int(np.argmax(values)) if max(values, default=0) > 0 else None,
                "silent": [i for i, v in enumerate(values) if v == 0]}

    def oip(self, options: Options, layer: str | None, maps: Any, rounds: int = mapping.OIP_ROUNDS) -> dict[str, Any]:
        from dreamfx.runs.atlas import layer_of, parse_maps

        dreamer, _, name = self._layer(options, layer)
        _, selectable, count = layer_of(dreamer)
        chosen = parse_maps(maps, count, selectable)
        dreamer.choices(chosen)
        patterns = self.studio.run(lambda: self.patterns.get(dreamer, chosen, rounds))
        return {"layer": name, "choice": selectable, "rounds": rounds, "maps": patterns}

    def atlas(self, options: Options, layer: str | None, maps: Any) -> dict[str, Any]:
        photo = self.photos.get(options.photo)
        dreamer, _, _ = self._layer(options, layer)
        made = self.studio.run(lambda: mapping.atlas(dreamer, photo.picture.pixels(dreamer.channels), maps,
                                                     photo.name))
        return {"photo": photo.id, **made}


def _masked_frames(on_frame: Callable[[Frame], None], settings: Any, own: Any, picture: Any) -> Callable[[Frame], None]:
    """``on_frame`` handed each round's image through the mask, as the finished dream is."""
    from dreamfx.engine.masks import apply_mask

    def masked(frame: Frame) -> None:
        photo = picture.rgb if frame.image.ndim == 3 and picture.rgb is not None else picture.luma
        if photo.shape == frame.image.shape:
            frame.image = apply_mask(settings, frame.image[None], photo[None], [own])[0]
        on_frame(frame)

    return masked
