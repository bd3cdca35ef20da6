"""The map atlas: one photo dreamed under every chosen map (or unit) of a layer, as one
labelled contact sheet and a list of scores (``dreamfx atlas``, :func:`dreamfx.atlas`).

All maps are dreamed together: the batch holds one copy of the photo per map, and the
objective's map is chosen per batch element at run time
(:meth:`dreamfx.kinds.objectives.Objective.score_each`); with tiling, every view of a copy gets
its copy's map. Each tile equals ``dreamfx run --set objective.map=K`` on the photo
(batched dreams equal single dreams). Copies are dreamed in groups under a pixel budget,
so a large photo's 64 copies never sit in memory at once.

The module is named ``mapatlas`` so that importing it never hides the function
``dreamfx.atlas``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from dreamfx.config.request import CommonOptions
from dreamfx.runs.writes import check_outputs
from dreamfx.errors import SettingsError

#: Pixels of photo copies dreamed at once (as the batch runner's budget).
ATLAS_BUDGET_PIXELS = 24_000_000
#: The most maps one atlas takes (a layer wider than this: choose with --maps).
MAX_MAPS = 1024
SORTS = ("map", "gain", "after")


@dataclass
class AtlasEntry:
    """One map's dream of the photo."""

    map: int
    score_before: float
    score_after: float
    image: np.ndarray = field(repr=False)  # (H, W) or (H, W, 3) in [0, 1]: the dream, as `dreamfx run` writes it

    @property
    def silent(self) -> bool:
        """Zero on the photo and on the dream: zero gradient, the dream never started. (A
        map that is zero on the photo can still wake up: the optimizer's jitter shows the
        network slightly shifted views.)"""
        return self.score_before == 0 and self.score_after == 0

    @property
    def gain(self) -> float | None:
        """score_after / score_before; None when the map was zero on the photo."""
        return self.score_after / self.score_before if self.score_before > 0 else None

    def as_dict(self) -> dict[str, Any]:
        gain = self.gain
        return {"map": self.map, "score_before": self.score_before, "score_after": self.score_after,
                "gain": None if gain is None or not math.isfinite(gain) else gain, "silent": self.silent}


@dataclass
class Atlas:
    """The result of :func:`make_atlas`: the entries (in the order asked for), the sheet."""

    entries: list[AtlasEntry]
    layer: str
    selectable: str
    settings: Any
    title: str
    photo: np.ndarray = field(repr=False)
    input_name: str | None = None
    seconds: float = 0.0

    def sorted(self, by: str = "map") -> list[AtlasEntry]:
        """Entries by map index, or by gain / score after (largest first, silent maps last)."""
        if by not in SORTS:
            raise SettingsError(f"--sort {by!r} is not one of {', '.join(SORTS)}")
        if by == "map":
            return sorted(self.entries, key=lambda e: e.map)
        key = (lambda e: math.inf if e.gain is None else e.gain) if by == "gain" else (lambda e: e.score_after)
        return sorted(self.entries, key=lambda e: (e.silent, -key(e), e.map))

    @property
    def scores(self) -> list[dict[str, Any]]:
        """Each map's scores (``map``, ``score_before``, ``score_after``, ``gain``, ``silent``)."""
        return [entry.as_dict() for entry in self.entries]

    @property
    def responding(self) -> list[int]:
        """The maps that are not silent, strongest (the objective after the dream) first."""
        return [e.map for e in self.sorted("after") if not e.silent]

    def sheet(self, sort: str = "map", tile: int = 160, columns: int = 8) -> Any:
        """The contact sheet as a PIL image (see :func:`render_sheet`)."""
        return render_sheet(self, self.sorted(sort), tile=tile, columns=columns)

    def settings_dict(self) -> dict[str, Any]:
        """The settings shared by every tile: the map (or unit) is left out, each entry has its own."""
        data = self.settings.to_dict()
        data["objective"].pop(self.selectable, None)
        return data

    def to_json(self, sort: str = "map") -> dict[str, Any]:
        from dreamfx.io.metadata import provenance_of

        return {"dreamfx_atlas": 1, **provenance_of(self.settings, self.settings_dict(), hashed=False,
                                                    input=self.input_name, layer=self.layer, choice=self.selectable,
                                                    title=self.title, maps=[e.as_dict() for e in self.sorted(sort)])}


def _index(value: Any, what: str) -> int:
    """One map index given from Python: an int (NumPy's too), or a str of digits; never a
    float silently truncated (1.7 is not map 1) nor a bool."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d{1,6}", value.strip()):
        return int(value)
    raise SettingsError(f"maps: {value!r} is not a {what} index; give whole numbers, e.g. [3, 7, 56] or '0-9,33'")


def parse_maps(text: str | Sequence[int] | None, count: int | None, what: str = "map") -> list[int]:
    """``"0-127"``, ``"3,7,56"``, ``"0-9,33"`` or ``"all"`` (None) as map indices, each
    checked against the ``count`` maps of the layer; order kept, duplicates dropped."""
    if text is None or text == "all":
        if count is None:
            raise SettingsError(f"the layer's {what} count is unknown: choose {what}s with --maps, e.g. 0-9")
        values = list(range(count))
    elif isinstance(text, str):
        values = []
        for part in (p.strip() for p in text.split(",")):
            match = re.fullmatch(r"(\d{1,6})(?:-(\d{1,6}))?", part)
            if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
                raise SettingsError(f"--maps {text!r}: give {what} indices and ranges, e.g. 0-127 or 3,7,56")
            first, last = int(match[1]), int(match[2] or match[1])
            if last - first >= MAX_MAPS:
                raise SettingsError(f"--maps {part}: at most {MAX_MAPS} {what}s in one atlas")
            values.extend(range(first, last + 1))
    else:
        values = [_index(v, what) for v in text]
    values = list(dict.fromkeys(values))
    if not values:
        raise SettingsError(f"--maps names no {what}")
    if len(values) > MAX_MAPS:
        raise SettingsError(f"at most {MAX_MAPS} {what}s in one atlas, got {len(values)}")
    bad = [v for v in values if v < 0 or (count is not None and v >= count)]
    if bad:
        limit = f"0 to {count - 1}" if count else "0 or more"
        raise SettingsError(f"{what} {bad[0]} does not exist: this layer has {count} {what}s ({limit})")
    return values


def layer_of(dreamer: Any) -> tuple[str, str, int | None]:
    """The atlas's layer, the parameter it varies and how many values it has."""
    objective = dreamer.objective
    selectable = getattr(objective, "selectable", None)
    name = dreamer.settings.objective.name
    if not selectable or selectable not in dreamer.settings.objective.params:
        raise SettingsError(f"objective {name!r} has no map or unit to vary; an atlas needs single-map (maps of a "
                            "convolutional layer) or class (units of a dense layer, --set objective=class)")
    layer = str(dreamer.settings.objective.params.get("layer", objective.layers[0]))
    count = dreamer.model_info.layers[layer][-1]
    return layer, selectable, None if count is None else int(count)


def groups(count: int, pixels: int, budget: int = ATLAS_BUDGET_PIXELS) -> list[range]:
    """Consecutive groups of copies that fit ``budget`` pixels (at least one copy each)."""
    size = max(1, budget // max(1, pixels))
    return [range(start, min(count, start + size)) for start in range(0, count, size)]


def make_atlas(dreamer: Any, image: np.ndarray, maps: Sequence[int] | str | None = None, *,
               on_round: Callable[[int], None] | None = None, input_name: str | None = None,
               budget: int = ATLAS_BUDGET_PIXELS) -> Atlas:
    """Dream ``image`` ((H, W) or (H, W, C) in [0, 1]) once per map of ``maps`` (default:
    every map of the objective's layer), in batches of copies of the photo, each copy with
    its own map. ``on_round(i)`` is called after each round of each batch."""
    import time

    layer, selectable, count = layer_of(dreamer)
    chosen = parse_maps(maps, count, selectable)
    dreamer.choices(chosen)  # every value valid before any work
    started = time.perf_counter()
    entries: list[AtlasEntry] = []
    image = np.asarray(image, np.float32)
    for group in groups(len(chosen), int(image.shape[0]) * int(image.shape[1]), budget):
        values = [chosen[i] for i in group]
        results = dreamer.dream_batch([image] * len(values), on_round, choices=values)
        for value, result in zip(values, results):
            if result.problem is not None:
                from dreamfx.errors import DreamfxError

                raise DreamfxError(f"{selectable} {value}: {result.problem}")
            entries.append(AtlasEntry(value, result.score_before, result.score_after, result.image))
    settings = dreamer.settings
    steps = getattr(dreamer.optimizer, "steps", "?")
    title = (f"{layer} {selectable}s of {input_name or 'the photo'}: {settings.objective.name}, {settings.scaler.name}, "
             f"{dreamer.rounds_for(tuple(image.shape[:2]))} x {steps} steps, seed {settings.seed}")
    return Atlas(entries, layer, selectable, settings, title, image, input_name, time.perf_counter() - started)


def render_sheet(atlas: Atlas, entries: Sequence[AtlasEntry], tile: int = 160, columns: int = 8) -> Any:
    """The sheet: a title line, the photo, then one tile per map with its index and gain
    underneath; a silent map's tile is dimmed, framed in red and labelled ``silent``."""
    from PIL import Image, ImageDraw

    from dreamfx.io.images import to_uint8
    from dreamfx.io.panel import _font

    h, w = atlas.photo.shape[:2]
    tw, th = (tile, max(1, round(tile * h / w))) if w >= h else (max(1, round(tile * w / h)), tile)
    pad, label_h, title_h = 10, 34, 34
    cells = [None, *entries]  # the photo first
    columns = max(1, min(columns, len(cells)))
    rows = -(-len(cells) // columns)
    width = max(pad + columns * (tw + pad), 480)
    sheet = Image.new("RGB", (width, title_h + rows * (th + label_h + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    responding = sum(not e.silent for e in atlas.entries)
    draw.text((pad, 6), atlas.title, fill="black", font=_font(15))
    draw.text((pad, 20), f"{responding} of {len(atlas.entries)} {atlas.selectable}s respond; under each tile: its "
              "gain (after / before) and the objective before -> after", fill=(90, 90, 90), font=_font(12))

    def thumbnail(array: np.ndarray) -> Any:
        mode = "RGB" if array.ndim == 3 else "L"
        return Image.fromarray(to_uint8(array), mode=mode).convert("RGB").resize((tw, th), Image.Resampling.LANCZOS)

    for index, entry in enumerate(cells):
        x = pad + (index % columns) * (tw + pad)
        y = title_h + (index // columns) * (th + label_h + pad)
        if entry is None:
            sheet.paste(thumbnail(atlas.photo), (x, y))
            draw.text((x, y + th + 3), "input", fill="black", font=_font(15))
            continue
        picture = thumbnail(entry.image)
        if entry.silent:
            picture = Image.blend(picture, Image.new("RGB", picture.size, "white"), 0.6)
        sheet.paste(picture, (x, y))
        name = f"{atlas.selectable} {entry.map}"
        draw.text((x, y + th + 3), name, fill="black", font=_font(15))
        if entry.silent:
            draw.rectangle((x, y, x + tw - 1, y + th - 1), outline=(200, 0, 0), width=2)
            draw.text((x, y + th + 19), "silent", fill=(200, 0, 0), font=_font(13))
        else:
            gain, scores = gain_text(entry)
            if gain:
                draw.text((x + tw - 2, y + th + 4), gain, fill=(0, 100, 0), font=_font(14), anchor="ra")
            draw.text((x, y + th + 19), scores, fill=(0, 100, 0), font=_font(12))
    return sheet


def gain_text(entry: AtlasEntry) -> tuple[str, str]:
    """``("x3.6", "1.3 -> 4.7")``; ``("", "woke: 0 -> 3.9")`` for a map that was zero on the photo."""
    gain = entry.gain
    if gain is None:
        return "", f"{'woke: 0' if entry.score_before == 0 else f'{entry.score_before:.2g}'} -> {entry.score_after:.2g}"
    return (f"x{gain:.1f}" if gain < 100 else f"x{gain:,.0f}"), f"{entry.score_before:.2g} -> {entry.score_after:.2g}"


def write_atlas(atlas: Atlas, output: Path, json_path: Path | None, sort: str = "map") -> None:
    """Write the sheet (with provenance) and the scores' JSON, each atomically."""
    from dreamfx.io.metadata import provenance_of
    from dreamfx.io.writing import write_bytes_atomic, write_image_atomic

    metadata = provenance_of(atlas.settings, atlas.settings_dict(), hashed=False, command="atlas",
                             input=atlas.input_name, layer=atlas.layer, maps=[e.as_dict() for e in atlas.sorted(sort)])
    write_image_atomic(output, atlas.sheet(sort), metadata)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(json_path, (json.dumps(atlas.to_json(sort), indent=2) + "\n").encode())


@dataclass(frozen=True, kw_only=True)
class AtlasRequest(CommonOptions):
    """The options of ``dreamfx atlas`` and :func:`dreamfx.atlas`: ``layer`` stands for
    ``objective.layer``; ``output`` and ``json_path`` are the command's files (none for the API)."""

    photo: str | None = None
    output: str | None = None
    json_path: str | None = None
    maps: Any = None
    layer: str | None = None

    def shortcuts(self) -> list[tuple[str, Any]]:
        return [] if self.layer is None else [("objective.layer", self.layer)]

    def resolve(self, host: Any) -> Any:
        """The options checked, the files refused before any work
        (:func:`dreamfx.runs.writes.check_outputs`), and
        the settings."""
        self.check_common()
        settings = self.settings(host)
        if self.photo is not None and self.output is not None:
            json_path = Path(self.json_path) if self.json_path else None
            check_outputs([Path(self.photo)], [("output", Path(self.output), None),
                                               ("the --json file", json_path, ("dreamfx_atlas",))], self.force)
        return settings
