"""TensorFlow's stateless random numbers, in NumPy: the same values on every backend.

The ascent's random parts (the tie-break pattern, the start of the tile-offset sequence,
the jitter per step) were defined by ``tf.random.stateless_uniform`` with the default
algorithm (Philox-4x32-10 on CPUs and GPUs). Backends other than TensorFlow must draw the
very same numbers, or the same seed would give another dream; so this module computes them
exactly as TensorFlow does (``stateless_random_get_key_counter``, Philox, and
``UniformDistribution``), without TensorFlow. ``tests/test_backends.py`` checks it bit for
bit against TensorFlow.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_LOW = np.uint64(0xFFFFFFFF)


def philox(counters: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox-4x32-10 of ``counters`` (``(n, 4)`` uint32) under ``key``: ``(n, 4)`` uint32."""
    c = [counters[:, i].astype(np.uint64) for i in range(4)]
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    for round_ in range(10):
        p0, p1 = _M0 * c[0], _M1 * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & _LOW
        hi1, lo1 = p1 >> np.uint64(32), p1 & _LOW
        c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
        if round_ < 9:
            k0, k1 = np.uint32((int(k0) + int(_W0)) & 0xFFFFFFFF), np.uint32((int(k1) + int(_W1)) & 0xFFFFFFFF)
    return np.stack([x.astype(np.uint32) for x in c], axis=1)


def key_counter(seed: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """TensorFlow's key and counter for a stateless seed (two int64s): the seed scrambled
    through one Philox call under a fixed key."""
    s0, s1 = (int(s) & 0xFFFFFFFFFFFFFFFF for s in seed)
    start = np.array([[s0 & 0xFFFFFFFF, s0 >> 32, s1 & 0xFFFFFFFF, s1 >> 32]], np.uint32)
    mix = philox(start, (0x3EC8F720, 0x02461E29))[0]
    return (int(mix[0]), int(mix[1])), (0, 0, int(mix[2]), int(mix[3]))


def random_bits(seed: Sequence[int], count: int) -> np.ndarray:
    """The first ``count`` uint32 words of the Philox stream of ``seed``."""
    key, counter = key_counter(seed)
    calls = (count + 3) // 4
    low = counter[0] | counter[1] << 32  # TensorFlow starts it at 0: no carry into the high word
    if low + calls > 1 << 64:  # pragma: no cover - unreachable from key_counter
        raise ValueError("the Philox counter would wrap")
    index = np.uint64(low) + np.arange(calls, dtype=np.uint64)
    words = np.empty((calls, 4), np.uint32)
    words[:, 0] = (index & _LOW).astype(np.uint32)
    words[:, 1] = (index >> np.uint64(32)).astype(np.uint32)
    words[:, 2], words[:, 3] = counter[2], counter[3]
    return philox(words, key).reshape(-1)[:count]


def uniform_float32(shape: Sequence[int], seed: Sequence[int], minval: float, maxval: float) -> np.ndarray:
    """``tf.random.stateless_uniform(shape, seed, minval, maxval)`` (float32)."""
    count = int(np.prod(shape, dtype=np.int64))
    bits = random_bits(seed, count)
    unit = ((bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1.0)
    low, high = np.float32(minval), np.float32(maxval)
    return (unit * (high - low) + low).astype(np.float32).reshape(tuple(shape))


def uniform_int(shape: Sequence[int], seed: Sequence[int], minval: int, maxval: int, dtype: str = "int32") -> np.ndarray:
    """``tf.random.stateless_uniform(shape, seed, minval, maxval, dtype)`` for int32 and int64."""
    count = int(np.prod(shape, dtype=np.int64))
    span = int(maxval) - int(minval)
    if dtype == "int32":
        bits = random_bits(seed, count).astype(np.int64)
        values = [int(minval) + int(b) % span for b in bits]
    else:
        words = random_bits(seed, 2 * count).astype(np.uint64)
        wide = words[0::2] | (words[1::2] << np.uint64(32))
        values = [int(minval) + int(b) % span for b in wide]
    return np.array(values, dtype).reshape(tuple(shape))
