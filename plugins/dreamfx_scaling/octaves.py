"""Octaves: the classic DeepDream pyramid, the whole image through the conv layers."""

from __future__ import annotations

from dreamfx.plugin import SettingsError

from .downscale import ResizeLevel, check_method
from .tiling import check_tile_scale, work_size


class OctaveLevel(ResizeLevel):
    """The whole image at one size, as one canvas the convolutional layers see whole."""

    def __init__(self, work_size: tuple[int, int], method: str) -> None:
        super().__init__(work_size, None, method)


class OctaveScaler:
    """Classic DeepDream octaves: the whole image at ``octaves`` sizes growing by ``factor``
    up to the image size divided by ``scale``, run through the convolutional layers only
    (they accept any size). Objectives on layers after Flatten/Dense are refused."""

    fully_convolutional = True

    def __init__(self, view_size: tuple[int, int], factor: float, octaves: int,
                 scale: float, method: str) -> None:
        check_method(method)
        if not 1.1 <= factor <= 4.0:
            raise SettingsError(f"scaler.factor must be between 1.1 and 4 (size ratio between octaves), got {factor}")
        if not 1 <= octaves <= 32:
            raise SettingsError(f"scaler.octaves must be 1 to 32, got {octaves}")
        check_tile_scale(scale, "scale")
        self.view_size, self.factor, self.octaves, self.scale, self.method = view_size, factor, octaves, scale, method

    def levels(self, image_size: tuple[int, int]) -> list[OctaveLevel]:
        finest = work_size(image_size, self.scale)
        sizes: list[tuple[int, int]] = []
        for i in range(self.octaves):
            size = (max(1, round(finest[0] / self.factor**i)), max(1, round(finest[1] / self.factor**i)))
            if sizes and min(size) < min(self.view_size):
                break  # smaller than the model's own view: nothing left to see
            # a side under the model's view is dreamed at the view's size (then resized back):
            # the deep layers need that much input (conv3 has no pixel left under 18 px), and
            # a small photo dreams as downscale dreams it
            size = (max(size[0], self.view_size[0]), max(size[1], self.view_size[1]))
            if not sizes or size != sizes[-1]:
                sizes.append(size)
        return [OctaveLevel(size, self.method) for size in reversed(sizes)]
