"""Device selection and the compiled-loop contract (one graph call per round)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamfx.engine.backend import resolve_device
from dreamfx.errors import DreamfxError


def test_cpu_and_auto_resolve():
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    assert resolve_device("cpu") == "/CPU:0"
    assert resolve_device(" AUTO ") == (gpus[0].name if gpus else "/CPU:0")


@pytest.mark.parametrize("spec", ["tpu", "cpu:1", "gpu:x", ""])
def test_bad_device_names_are_refused(spec):
    with pytest.raises(DreamfxError, match="choose auto, cpu, gpu or gpu:N"):
        resolve_device(spec)


def test_missing_gpu_says_how_to_get_one():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(DreamfxError, match=r"dreamfx\[cuda\]"):
        resolve_device("gpu")


def test_each_round_is_one_compiled_call(small_photo):
    from dreamfx.api import make_dreamer

    for preset, rounds, levels in (("single-map", 3, 1), ("tiling", 2, 1)):
        dreamer = make_dreamer(preset, {"rounds": rounds, "steps": 4})
        calls = []
        inner = dreamer.ascend

        def counting(canvas, round_index, level, inner=inner):
            calls.append(round_index)
            return inner(canvas, round_index, level)

        dreamer.ascend = counting
        dreamer(small_photo)
        assert calls == list(range(rounds * levels))
        assert dreamer.ascent.compiled.experimental_get_tracing_count() == 1
        # the compiled function holds the whole step loop: its graph is one while loop
        import tensorflow as tf

        from dreamfx.kinds.scalers import Geometry

        ascent = dreamer.ascent
        x, ctx = ascent.begin(np.zeros((1, 28, 28, 1), np.float32), None, 0, Geometry((28, 28), 28), ascent.steps)
        graph = ascent.compiled.get_concrete_function(
            x, ascent.start_state(x), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32), ctx.shifts,
            ctx.pattern, None, None, view_size=(28, 28)).graph
        assert any(op.type in ("While", "StatelessWhile") for op in graph.get_operations())
