"""The engine written once (issue 23): only the kernels know the backend.

- every kernel module defines the same names (:data:`dreamfx.engine.backends.KERNEL_NAMES`);
- no host module outside the kernels and the backend selector imports TensorFlow or JAX or
  branches on a backend's name (imports inside functions counted: a lazy import hides a
  dependency, it does not remove it);
- a round's context is decided from the canvas itself: a canvas that is one view is never
  cut and evened out, whatever shapes the compiled step was traced for before.
"""

from __future__ import annotations

import ast
import importlib

import numpy as np

from .conftest import ROOT

#: The modules that may import or name a backend: the selector and the kernels.
BACKEND_AWARE = {"dreamfx/engine/backend.py", "dreamfx/engine/backends/tensorflow_kernel.py",
                 "dreamfx/engine/backends/jax_kernel.py", "dreamfx/engine/backends/jax_pooling.py"}
BACKENDS = ("tensorflow", "jax")


def _names_a_backend(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in BACKENDS]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in BACKENDS:
            found.append(node.module or "")
        elif isinstance(node, ast.Compare):
            for part in (node.left, *node.comparators):
                if isinstance(part, ast.Constant) and part.value in BACKENDS:
                    found.append(f"compares with {part.value!r}")
        elif isinstance(node, ast.Name) and node.id == "is_jax":
            found.append("is_jax")
    return found


def test_only_the_kernels_import_or_branch_on_a_backend():
    aware = {}
    for path in sorted((ROOT / "dreamfx").rglob("*.py")):
        found = _names_a_backend(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            aware[str(path.relative_to(ROOT))] = found
    assert set(aware) <= BACKEND_AWARE, {k: v for k, v in aware.items() if k not in BACKEND_AWARE}
    assert len(BACKEND_AWARE) <= 5  # the bound on host modules that know the backend


def test_every_kernel_defines_the_same_names():
    from dreamfx.engine.backend import KERNELS
    from dreamfx.engine.backends import KERNEL_NAMES

    for name, module in KERNELS.items():
        kernel = importlib.import_module(module)  # importing a kernel imports no backend
        missing = [attr for attr in KERNEL_NAMES if not hasattr(kernel, attr)]
        assert not missing, (name, missing)
        assert kernel.NAME == name


def test_a_canvas_of_one_view_is_never_cut_whatever_was_traced_before():
    """A canvas the size of one view is dreamed whole (as a level without a view size: not
    cut, its gradient not evened out), also by a compiled step traced before for canvases
    of other sizes, whose shape it generalised (hybrid's 28x28 rounds once came out cut
    and evened out after a batch's tiled 56x84 rounds)."""
    from dreamfx.api import make_dreamer
    from dreamfx.kinds.scalers import Geometry

    rng = np.random.default_rng(5)
    small, tiled = rng.random((1, 28, 28, 1), np.float32), rng.random((3, 56, 84, 1), np.float32)
    settings = {"map": 56, "steps": 3, "optimizer__jitter": 1}
    fresh = make_dreamer("hybrid", settings)
    whole = {roll: np.asarray(fresh.ascent(small, 1, Geometry(None, roll)).canvas) for roll in (0, 28)}
    used = make_dreamer("hybrid", settings)
    assert np.array_equal(np.asarray(used.ascent(small, 1, Geometry((28, 28), 0)).canvas), whole[0])
    used.ascent(np.repeat(small, 3, axis=0), 0, Geometry((28, 28), 0))
    used.ascent(tiled, 0, Geometry((28, 28), 28))
    for roll in (0, 28):
        assert np.array_equal(np.asarray(used.ascent(small, 1, Geometry((28, 28), roll)).canvas), whole[roll]), roll
