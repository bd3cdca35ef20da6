"""Dense optical flow between video frames, the forward-backward consistency mask, warping,
and the temporal-coherence metrics that ``dreamfx video`` prints.

Flow is OpenCV's Farneback (``opencv-python-headless``, the ``dreamfx[video]`` extra, imported
only here and only when used). Conventions: images are float32 arrays in [0, 1], (H, W) or
(H, W, C); a flow is (H, W, 2) float32 in pixels, ``flow[y, x] = (dx, dy)``; the *backward*
flow of frame t points from each pixel of frame t to where it was in frame t-1, so
``warp(previous, backward)`` brings frame t-1 (or its dream) onto frame t.

The consistency mask is Ruder et al.'s ("Artistic style transfer for videos", 2016): a pixel of
frame t is kept (1) unless the backward flow and the forward flow at its source disagree,
``|w_b + w_f(x + w_b)|^2 > 0.01 (|w_b|^2 + |w_f(x + w_b)|^2) + 0.5`` (a disocclusion), or it
sits on a motion boundary, ``|grad u|^2 + |grad v|^2 > 0.01 |w_b|^2 + 0.002``, or its source
lies outside frame t-1. That hard mask is the metrics'; what a dream carries over
(:func:`carry_weight`) drops the mask's thin lines and feathers its edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dreamfx.engine.pull import Toward
from dreamfx.errors import SettingsError

#: Flow is computed on frames shrunk so that their longer side is at most this (then scaled
#: back): Farneback's cost grows with the pixels, and a dream's strokes are coarse.
FLOW_SIDE = 160
#: The consistency mask's soft edge (:func:`feathered`), as a fraction of the frame's short side.
FEATHER = 0.015
#: Flow inconsistencies narrower than 2 * THIN + 1 pixels do not stop the dream carrying over.
THIN = 2
VIDEO_EXTRA = 'pip install "dreamfx[video]"'


def require_cv2() -> Any:
    """OpenCV, or a one-line error that says what to install."""
    try:
        import cv2
    except ImportError:
        raise SettingsError(f"optical flow needs OpenCV, which is not installed: {VIDEO_EXTRA}") from None
    return cv2


def to_u8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def farneback(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The flow from ``first`` to ``second`` (gray float images of one size): for each pixel
    of ``first``, where it went in ``second``. Computed at most ``FLOW_SIDE`` pixels wide."""
    cv2 = require_cv2()
    h, w = first.shape[:2]
    scale = min(1.0, FLOW_SIDE / max(h, w))
    a, b = to_u8(first), to_u8(second)
    if scale < 1.0:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    if scale < 1.0:
        sy, sx = h / a.shape[0], w / a.shape[1]
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= sx
        flow[..., 1] *= sy
    return flow.astype(np.float32)


def _maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray, maps: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)`` (bilinear, edges repeated); ``maps``: ``flow``'s
    sampling positions, when already made (:attr:`Motion.maps`)."""
    cv2 = require_cv2()
    mx, my = _maps(flow) if maps is None else maps
    return cv2.remap(np.ascontiguousarray(image, np.float32), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _checks(backward: np.ndarray, forward: np.ndarray,
            maps: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ruder et al.'s checks for frame t (see the module's docstring), as boolean (H, W):
    ``dropped``, the flows disagree or a motion boundary; ``outside``, the source pixel lies
    outside frame t-1. ``maps``: ``backward``'s sampling positions, when already made."""
    h, w = backward.shape[:2]
    mx, my = _maps(backward) if maps is None else maps
    forward_at_source = warp(forward, backward, (mx, my))
    # each vector's squared length as u*u + v*v, on contiguous planes: the same bits as a
    # sum over the last axis of the squares, about 10x faster
    u, v = np.ascontiguousarray(backward[..., 0]), np.ascontiguousarray(backward[..., 1])
    fu, fv = forward_at_source[..., 0], forward_at_source[..., 1]
    su, sv = u + fu, v + fv
    length = u * u + v * v
    disagree = su * su + sv * sv > 0.01 * (length + (fu * fu + fv * fv)) + 0.5
    du_y, du_x = np.gradient(u)
    dv_y, dv_x = np.gradient(v)
    boundary = du_x * du_x + du_y * du_y + dv_x * dv_x + dv_y * dv_y > 0.01 * length + 0.002
    outside = (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)
    return disagree | boundary, outside


def consistency_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s mask for frame t: float32 (H, W), 1 where the previous frame's content
    can be carried over, 0 at disocclusions, motion boundaries and pixels whose source is
    outside the frame. The metrics' mask."""
    dropped, outside = _checks(backward, forward)
    return (~(dropped | outside)).astype(np.float32)


def carry_weight(dropped: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """How much of the previous frame's dream a frame carries over, per pixel: the consistency
    mask without its thin lines (flow disagreements and boundaries narrower than
    ``2 * THIN + 1`` pixels: the flow's errors along the edges of flat objects, which would
    be dreamed afresh as seams, not an area the motion revealed), feathered."""
    cv2 = require_cv2()
    wide = cv2.morphologyEx(dropped.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2 * THIN + 1, 2 * THIN + 1), np.uint8),
                            borderType=cv2.BORDER_REPLICATE) > 0
    return feathered((~(wide | outside)).astype(np.float32))


def feathered(mask: np.ndarray) -> np.ndarray:
    """A consistency mask with soft edges: 0 where ``mask`` is 0, rising to 1 over about
    :data:`FEATHER` of the short side inside the kept region, so what is carried over fades
    out toward a disocclusion instead of ending in a straight seam."""
    cv2 = require_cv2()
    sigma = max(1.0, FEATHER * min(mask.shape))
    blurred = cv2.GaussianBlur(np.ascontiguousarray(mask, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return (np.clip(2.0 * blurred - 1.0, 0.0, 1.0) * mask).astype(np.float32)


@dataclass(frozen=True)
class Motion:
    """What is known about the motion from frame t-1 to frame t."""

    backward: np.ndarray  # flow t -> t-1
    mask: np.ndarray  # 1 where frame t-1's content carries over (consistency_mask): the metrics' mask
    weight: np.ndarray  # the mask feathered (feathered): how much of it a dream carries over
    #: Where each pixel of frame t samples frame t-1 (``backward``'s maps for :func:`warp`),
    #: made with the flow (in the flow's thread, off the dream's path); None: made when used.
    maps: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def between(cls, previous: np.ndarray, current: np.ndarray) -> "Motion":
        """Flow both ways between two gray frames, the consistency mask and its feathered weight."""
        backward = farneback(current, previous)
        forward = farneback(previous, current)
        maps = _maps(backward)
        dropped, outside = _checks(backward, forward, maps)
        return cls(backward, (~(dropped | outside)).astype(np.float32), carry_weight(dropped, outside), maps)

    def carry(self, image: np.ndarray) -> np.ndarray:
        """``image`` (frame t-1's, or its dream) warped onto frame t."""
        return warp(image, self.backward, self.maps)


def blend_start(frame: np.ndarray, previous_dream: np.ndarray, motion: Motion | None, blend: float,
                carried: np.ndarray | None = None) -> np.ndarray:
    """Where the dream of ``frame`` starts: the frame, with the previous dream warped onto it
    mixed in at weight ``blend`` where the feathered mask keeps it (fresh frame at
    disocclusions). ``motion`` None: no warp, the plain blend of most DeepDream video tools.
    ``carried``: the previous dream already warped (``motion.carry``), when made."""
    if blend <= 0.0:
        return frame
    if motion is None:
        return ((1.0 - blend) * frame + blend * previous_dream).astype(np.float32)
    carried = motion.carry(previous_dream) if carried is None else carried
    weight = blend * (motion.weight if frame.ndim == 2 else motion.weight[..., None])
    return (frame + weight * (carried - frame)).astype(np.float32)


def temporal_term(previous_output: np.ndarray, motion: Motion | None, weight: float,
                  carried: np.ndarray | None = None) -> Toward:
    """The temporal term of a frame's dream (:class:`dreamfx.engine.pull.Toward`): pull toward
    the previous frame's output warped onto it, by ``weight`` where the feathered mask keeps
    it. ``motion`` None: toward the previous output where it was, everywhere. ``carried``: the
    previous output already warped (``motion.carry``), when made."""
    if motion is None:
        return Toward(previous_output, np.full(previous_output.shape[:2], weight, np.float32))
    target = motion.carry(previous_output) if carried is None else carried
    return Toward(target, (weight * motion.weight).astype(np.float32))


@dataclass
class Coherence:
    """Running sums of the temporal-coherence metrics over consecutive frame pairs.

    ``flicker``: the mean absolute difference between consecutive output frames minus that
    of the input frames (0-1 scale; 0 = the output changes no more than the input does).
    ``warping_error``: Lai et al. (ECCV 2018): the mean squared difference between each
    output frame and the previous output warped onto it, over the pixels the consistency
    mask keeps (0-1 scale, as theirs)."""

    pairs: int = 0
    out_change: float = 0.0
    in_change: float = 0.0
    warp_sum: float = 0.0

    def add(self, in_prev: np.ndarray, in_cur: np.ndarray, out_prev: np.ndarray, out_cur: np.ndarray,
            motion: Motion) -> None:
        self.pairs += 1
        self.out_change += float(np.abs(out_cur - out_prev).mean())
        self.in_change += float(np.abs(in_cur - in_prev).mean())
        kept = float(motion.mask.sum())
        if kept > 0:
            diff = (out_cur - warp(out_prev, motion.backward)) ** 2
            self.warp_sum += float((diff * motion.mask).sum() / kept)

    @property
    def flicker(self) -> float:
        return (self.out_change - self.in_change) / self.pairs if self.pairs else 0.0

    @property
    def output_change(self) -> float:
        return self.out_change / self.pairs if self.pairs else 0.0

    @property
    def input_change(self) -> float:
        return self.in_change / self.pairs if self.pairs else 0.0

    @property
    def warping_error(self) -> float:
        return self.warp_sum / self.pairs if self.pairs else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"pairs": self.pairs, "flicker": self.flicker, "warping_error": self.warping_error,
                "output_change": self.output_change, "input_change": self.input_change}


def clip_coherence(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> Coherence:
    """The metrics of a dreamed clip from its gray input and output frames (e.g. a folder
    dreamed by ``dreamfx run``, to compare with ``dreamfx video``)."""
    metrics = Coherence()
    for t in range(1, len(inputs)):
        metrics.add(inputs[t - 1], inputs[t], outputs[t - 1], outputs[t], Motion.between(inputs[t - 1], inputs[t]))
    return metrics
