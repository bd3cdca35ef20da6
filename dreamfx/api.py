"""The Python API for notebooks and scripts.

    >>> import dreamfx
    >>> result = dreamfx.dream("photo.jpg", "single-map", map=52, steps=40)
    >>> result.save("dream.png")  # with its settings, as ``dreamfx run`` writes them

Keyword overrides are ``section.key`` names written as ``section__key`` (``objective__map``)
or, when unambiguous, the bare parameter name (``map``, ``steps``, ``rounds``, ``seed``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dreamfx.engine import backend
from dreamfx.cache import process_cache
from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.io.metadata import output_metadata
from dreamfx.io import images
from dreamfx.io.images import (PNG_LEVEL, Picture, as_gray_array, as_unit_float, compose, digest, load_picture,
                               read_input_bytes, to_picture, to_uint8)
from dreamfx.io.writing import write_image_atomic
from dreamfx.engine.dreamer import Dreamer
from dreamfx.engine.results import DreamResult
from dreamfx.host.manager import PluginHost, create_host
from dreamfx.config.presets import load_preset, settings_for
from dreamfx.config.request import DreamRequest, check_output_format
from dreamfx.runs.dreams import run_request
from dreamfx.config.settings import COMPONENT_SECTIONS, DEFAULT_COMPONENTS, OUTPUT_DEFAULTS, TOP_LEVEL_KEYS, Settings


def as_model_array(image: Any, channels: int = 1) -> np.ndarray:
    """Like :func:`as_gray_array`, but for a 3-channel model an (H, W, 3) RGB array (gray
    images repeated into three channels, transparency composited on white)."""
    if channels != 3:
        return as_gray_array(image)
    if isinstance(image, (str, os.PathLike)):
        picture = load_picture(Path(image))
    elif isinstance(image, Image.Image):
        picture = to_picture(image)
    else:
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[-1] in (3, 4):
            return np.clip(as_unit_float(array)[..., :3], 0.0, 1.0)
        return np.repeat(as_gray_array(array)[..., None], 3, axis=-1)
    rgb = picture.rgb if picture.rgb is not None else np.repeat(picture.luma[..., None], 3, axis=-1)
    return rgb.astype(np.float32)


def _dotted(key: str, preset: dict[str, Any], host: PluginHost) -> str:
    """Turn an API keyword into a dotted settings key."""
    if "__" in key:
        return key.replace("__", ".")
    if key in TOP_LEVEL_KEYS:
        return key
    sections = []
    for section, kind in COMPONENT_SECTIONS.items():
        name = (preset.get(section) or {}).get("name")
        component = host.get(kind, name or DEFAULT_COMPONENTS[section])
        if key in component.params:
            sections.append(section)
    if key in OUTPUT_DEFAULTS:
        sections.append("output")
    if len(sections) == 1:
        return f"{sections[0]}.{key}"
    if not sections:
        raise SettingsError(f"unknown setting {key!r}; use section__key, for example objective__map=3")
    raise SettingsError(f"setting {key!r} is ambiguous ({', '.join(sections)}); use section__key")


def make_dreamer(
    preset: str = "single-map",
    overrides: dict[str, Any] | None = None,
    *,
    device: str = "auto",
    host: PluginHost | None = None,
) -> Dreamer:
    """Build a reusable :class:`Dreamer` (compile once, dream many images)."""
    backend.start_quietly()
    host = host or create_host()
    _, data = load_preset(host, preset)
    pairs = [(_dotted(k, data, host), v) for k, v in (overrides or {}).items()]
    return Dreamer(host, settings_for(host, preset, pairs), device)


#: The plugin host of the last :func:`dream` call, by what would change it.
_HOSTS = process_cache("api.hosts", 2, "the plugin host of dreamfx.dream(), by DREAMFX_DISABLE_PLUGINS")


def _host() -> PluginHost:
    """The plugin host, found once per process (entry points are read from the installed
    distributions, about 70 ms) unless ``DREAMFX_DISABLE_PLUGINS`` changed;
    :func:`forget_warm` finds them again (after installing a plugin in a notebook)."""
    return _HOSTS.get_or_build((create_host, os.environ.get("DREAMFX_DISABLE_PLUGINS", "")), create_host)


def forget_warm() -> None:
    """Drop the plugin host, the dreamers and the decoded photos kept for later :func:`dream` calls."""
    _HOSTS.clear()
    _WARM.clear()
    _SELECTABLE.clear()
    _DECODED.clear()


#: How many decoded photos are kept, and the most pixels a kept one may have (4 MP: at most
#: 64 MB of float32 luma and RGB each; a larger photo's dream dwarfs its decoding anyway).
DECODED_KEEP, DECODED_MAX_PIXELS = 2, 4_000_000
#: The last photos decoded from files, by the SHA-256 of the file's bytes.
_DECODED = process_cache("api.decoded_photos", DECODED_KEEP,
                         f"photos decoded for dreamfx.dream(), by file digest (up to {DECODED_MAX_PIXELS:,} pixels)")


def decoded(path: Path) -> Picture:
    """The file at ``path`` decoded, or the picture decoded from the same bytes by an earlier
    call: exploring a photo (``dream(photo, map=k)`` for one map after another) decodes it
    once (a 600x400 PNG costs about 12 ms a call, a tenth of a warm dream). The file is read
    every time and keyed by the SHA-256 of its bytes, so a changed file is decoded again;
    the kept arrays are read-only, so no caller can change what a later call gets."""
    data = read_input_bytes(path)
    key = digest(data)
    kept = _DECODED.peek(key)
    if kept is None:
        kept = images.picture_of_bytes(data, path, known_digest=key)
        for array in (kept.luma, kept.rgb, kept.alpha):
            if array is not None:
                array.flags.writeable = False
        if kept.luma.size <= DECODED_MAX_PIXELS:
            _DECODED.put(key, kept)
    return replace(kept, notes=list(kept.notes))


#: Dreamers kept for later calls in this process (:func:`warm_dreamer`).
_WARM = process_cache("api.warm_dreamers", 4, "dreamers of dreamfx.dream()/atlas(), by settings without the map")
#: The parameter each objective (by name) can choose at run time, once one was built.
_SELECTABLE: dict[str, str | None] = {}


def warm_key(host: PluginHost, settings: Settings, selectable: str | None, device: str) -> tuple[Any, ...]:
    """What a warm dreamer for ``settings`` is kept under: the settings without the
    objective's ``selectable`` parameter (fed at run time), that parameter's name, the plugins
    behind the components and the device. :func:`warm_dreamer` and dreamfx explore's
    sessions key their dreamers alike."""
    params = settings.objective.params
    plugins = tuple(host.get(kind, settings.component(section).name).plugin
                    for section, kind in COMPONENT_SECTIONS.items())
    varied = selectable if selectable in params else None
    base = settings if varied is None else replace(settings, objective=replace(
        settings.objective, params={k: v for k, v in params.items() if k != varied}))
    return base.digest(), varied, plugins, backend.resolve_device(device)


def warm_dreamer(host: PluginHost, settings: Settings, device: str = "auto") -> tuple[Dreamer, int | None]:
    """A :class:`Dreamer` for ``settings`` kept from an earlier call in this process when
    one fits, so a notebook's second ``dreamfx.dream()`` reuses the model, the feature model
    and the compiled steps. Dreamers are keyed by the settings *without* the objective's
    ``selectable`` parameter (``map`` of ``single-map``) and by the plugins behind them;
    that parameter is fed at run time. Returns the dreamer and the value to feed (None:
    the dreamer's own settings). TensorFlow starts without its native log lines
    (:func:`dreamfx.engine.backend.start_quietly`)."""
    backend.start_quietly()
    name, params = settings.objective.name, settings.objective.params

    def key(selectable: str | None) -> tuple[Any, ...]:
        return (*warm_key(host, settings, selectable, device), host)

    if name in _SELECTABLE:
        dreamer = _WARM.get_or_build(key(_SELECTABLE[name]), lambda: Dreamer(host, settings, device))
    else:
        built = Dreamer(host, settings, device)
        _SELECTABLE[name] = getattr(built.objective, "selectable", None)
        dreamer = _WARM.get_or_build(key(_SELECTABLE[name]), lambda: built)
    selectable = _SELECTABLE[name]
    if selectable not in params or dreamer.settings.objective.params.get(selectable) == params[selectable]:
        return dreamer, None
    return dreamer, params[selectable]


def as_picture(image: Any) -> tuple[Picture, str | None]:
    """A path, PIL image or array as a :class:`~dreamfx.io.images.Picture` (decoded once: the
    luma dreamed on, the colour and alpha kept for the output) and the input's file name."""
    if isinstance(image, (str, os.PathLike)):
        return decoded(Path(image)), Path(image).name
    if isinstance(image, Image.Image):
        return to_picture(image), None
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise ImageError(f"an image array is (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError(f"the image has no pixels (shape {array.shape})")
    if array.dtype.kind not in "buif":
        raise ImageError(f"an image array holds numbers; got dtype {array.dtype}")
    rgb = alpha = None
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        floats = as_unit_float(array)
        rgb = np.clip(floats[..., :3], 0.0, 1.0)
        alpha = np.clip(floats[..., 3], 0.0, 1.0) if array.shape[-1] == 4 else None
    return Picture(as_gray_array(array), rgb, alpha), None


def dream(image: Any, preset: str = "single-map", *, device: str = "auto", color: str = "gray",
          keep_alpha: bool = False, **overrides: Any) -> "DreamResultView":
    """Dream ``image`` with ``preset`` and keyword overrides; returns the result and intermediates.

    ``color="luma"`` keeps the input's colours around the dreamed brightness, and
    ``keep_alpha=True`` its transparency, in :meth:`DreamResultView.save` and
    :meth:`DreamResultView.to_pil` (as ``dreamfx run --color luma --keep-alpha`` does)."""
    request = DreamRequest((), preset=preset, device=device, color=color, keep_alpha=keep_alpha)
    request.check()
    host = _host()
    _, data = load_preset(host, preset)
    pairs = [(_dotted(k, data, host), v) for k, v in overrides.items()]
    settings, request = replace(request, overrides=pairs).resolve(host)  # the settings `dreamfx run` would use
    dreamer, choice = warm_dreamer(host, settings, device)
    picture, name = as_picture(image)
    pixels = picture.pixels(dreamer.channels)
    result = dreamer.dream_batch([pixels], choices=None if choice is None else [choice])[0]
    if result.problem is not None:
        raise DreamfxError(result.problem)
    source = Path(image) if isinstance(image, (str, os.PathLike)) else None
    return DreamResultView(result, picture, color=color, keep_alpha=keep_alpha, input_name=name, source=source)


def atlas(image: Any, preset: str = "single-map", *, maps: Any = None, layer: str | None = None,
          device: str = "auto", on_round: Any = None, **overrides: Any) -> Any:
    """Dream ``image`` once per map of a layer (``maps``: None for all, ``"0-9,33"`` or a
    list), all in one batch, as ``dreamfx atlas`` does. Returns a
    :class:`dreamfx.runs.atlas.Atlas`: ``.scores`` (each map's score before and after, gain,
    silent), ``.responding`` (the strongest maps after the dream), ``.entries`` (each map's dream) and
    ``.sheet(sort="gain")``, the labelled contact sheet as a PIL image. The dreamer is kept
    for later calls in the process, as :func:`dream` keeps it."""
    from dreamfx.runs.atlas import AtlasRequest, make_atlas

    host = _host()
    _, data = load_preset(host, preset)
    pairs = [(_dotted(k, data, host), v) for k, v in overrides.items()]
    settings = AtlasRequest(preset=preset, overrides=pairs, layer=layer, maps=maps, device=device).resolve(host)
    dreamer, _ = warm_dreamer(host, settings, device)
    picture, name = as_picture(image)
    pixels = picture.pixels(dreamer.channels)
    return make_atlas(dreamer, pixels, maps, on_round=on_round, input_name=name)


class DreamResultView(DreamResult):
    """A :class:`DreamResult` with conveniences for notebooks."""

    def __init__(self, result: DreamResult, picture: Picture | None = None, *, color: str = "gray",
                 keep_alpha: bool = False, input_name: str | None = None,
                 source: Path | None = None) -> None:
        self.__dict__.update(result.__dict__)
        self.source = source  # the input file, when dreamed from one: save() never writes it
        self.picture = picture if picture is not None else Picture(np.asarray(result.image)[..., 0]
                                                                   if np.ndim(result.image) == 3 else result.image)
        self.color, self.keep_alpha, self.input_name = color, keep_alpha, input_name

    def to_pil(self, which: str = "image") -> Image.Image:
        """``image`` (the output, as :meth:`save` writes it: with the input's colours for
        ``color="luma"`` and its alpha for ``keep_alpha``), ``dream``, ``contrast`` or
        ``pattern`` as an 8-bit PIL image (grayscale, or RGB for a 3-channel model)."""
        if which == "image":
            return compose(self.picture, self.image, self.color, self.keep_alpha)
        array = getattr(self, which)
        return Image.fromarray(to_uint8(array), mode="RGB" if array.ndim == 3 else "L")

    def save(self, path: str | os.PathLike[str], png_level: int = PNG_LEVEL, *, force: bool = False) -> Path:
        """Write the output to ``path`` (format from its suffix) atomically, with the same
        provenance metadata as ``dreamfx run`` (``dreamfx info`` prints it, ``--from``
        repeats it); returns the path. As ``dreamfx run`` does, it never writes the input it
        was dreamed from, and replaces a file (or metadata sidecar) that dreamfx did not write
        only with ``force=True`` (``--force``); a refusal is a
        :class:`~dreamfx.errors.SettingsError`."""
        from dreamfx.runs.inputs import Job
        from dreamfx.runs.writes import check_plan, refuse_existing

        path = Path(path)
        check_output_format(path, "output", self.keep_alpha)
        check_plan([Job(self.source, path)] if self.source is not None else [], [] if self.source else [path])
        refuse_existing(path, "output", force)
        metadata = output_metadata(self.settings, self, color=self.color, keep_alpha=self.keep_alpha,
                                   input_name=self.input_name, input_digest=self.picture.digest)
        write_image_atomic(path, self.to_pil(), metadata, png_level)
        return path

    def panel(self, height: int = 256) -> Image.Image:
        from dreamfx.io.panel import render_panel

        return render_panel(self, height)


__all__ = ["dream", "atlas", "run_request", "DreamRequest", "forget_warm", "make_dreamer", "as_gray_array", "as_model_array", "as_picture", "Settings", "DreamResultView"]
