"""Contract tests, one per hook (as datasette's): each registers a minimal component of its
kind from a throwaway in-process plugin, written against ``dreamfx.plugin`` alone, and
dreams with it. Plus: every hook has its ``test_hook_<name>`` here, and docs/plugin-hooks.md
is generated from the code (the committed page is the generated one; tests/test_docs.py checks
that it has a heading for every hook).

The optimizer and loop tests use the current contract (``bind``/``step`` and
``loop(images, scaler, step)``); the plugin API v1 spec ("The host owns the plumbing")
replaces it with ``update(canvas, gradient, state, step)`` and ``LoopRun``: port them when
the ascent branch lands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest

from dreamfx.plugin import BuildContext, LoopResult, Objective, hookimpl

from .conftest import ROOT

FAST = {"steps": 3, "rounds": 1}


@pytest.fixture
def image(small_photo) -> np.ndarray:
    return small_photo[:40, :48]


def _dream(plugin: object, image: np.ndarray, preset: str = "single-map", **overrides):
    """Register ``plugin`` on a fresh host (it must load cleanly) and dream ``image``."""
    from dreamfx.api import make_dreamer
    from dreamfx.host.manager import create_host

    host = create_host(entry_points=False, disabled=set())
    host.register(plugin, name="contract")
    assert host.plugins["contract"].status == "ok", host.plugins["contract"].error
    return make_dreamer(preset, overrides, host=host)(image)


class MeanSquare(Objective):
    """The mean square of a layer, in keras.ops."""

    def __init__(self, ctx: BuildContext, layer: Annotated[str, "Any layer"] = "conv2") -> None:
        ctx.model.check_layer(layer)
        self.layer, self.layers = layer, (layer,)

    def score(self, activations):
        from keras import ops

        acts = activations[self.layer]
        return ops.mean(ops.square(acts), axis=tuple(range(1, len(acts.shape))))


def test_hook_dreamfx_register_models(image):
    def tiny_cnn(ctx: BuildContext, width: Annotated[int, "Maps per layer"] = 4):
        import keras

        assert ctx.model is None and ctx.kind == "models" and ctx.plugin == "contract"
        inputs = keras.Input((28, 28, 1))
        x = keras.layers.Conv2D(width, 3, activation="relu", name="conv1",
                                kernel_initializer=keras.initializers.GlorotUniform(seed=1))(inputs)
        x = keras.layers.Conv2D(width, 3, activation="relu", name="conv2",
                                kernel_initializer=keras.initializers.GlorotUniform(seed=2))(x)
        return keras.Model(inputs, x, name="tiny")

    class Plugin:
        @hookimpl
        def dreamfx_register_models(self, register):
            register("contract-tiny-cnn", tiny_cnn, description="A two-layer CNN with seeded weights")

    result = _dream(Plugin(), image, model="contract-tiny-cnn", objective="whole-layer",
                    objective__layer="conv2", **FAST)
    assert result.problem is None and result.settings.model.params == {"width": 4}
    assert result.score_after > result.score_before


def test_hook_dreamfx_register_objectives(image):
    class Plugin:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("contract-mean-square", MeanSquare, description="The mean square of a layer")

    result = _dream(Plugin(), image, objective="contract-mean-square", **FAST)
    assert result.settings.objective.params == {"layer": "conv2"}
    assert result.score_after > result.score_before > 0


def test_hook_dreamfx_register_scalers(image):
    from dreamfx.plugin import check_resize_method, resize

    class WholeView:
        roll = 0

        def __init__(self, view_size, method):
            self.view_size, self.method = view_size, method

        def to_canvas(self, images):
            from keras import ops

            return ops.clip(resize(images, self.view_size, self.method), 0.0, 1.0)

        def from_canvas(self, canvas, image_size):
            return resize(canvas, image_size, self.method)

    class Shrink:
        def __init__(self, ctx: BuildContext, method: Annotated[str, "The resize method"] = "bilinear"):
            check_resize_method(method)
            self.view_size = ctx.view_size
            self.level = WholeView(ctx.view_size, method)

        def levels(self, image_size):
            return [self.level]

    class Plugin:
        @hookimpl
        def dreamfx_register_scalers(self, register):
            register("contract-shrink", Shrink, description="The whole image, shrunk (bilinear)")

    result = _dream(Plugin(), image, scaler="contract-shrink", objective="whole-layer", **FAST)
    assert result.image.shape == image.shape and result.pattern.shape == (28, 28)
    assert result.score_after > result.score_before


def test_hook_dreamfx_register_optimizers(image):
    from keras import ops

    from dreamfx.plugin import OptimizerBase

    class SignAscent(OptimizerBase):
        """The update rule only: the host computes the gradient (views, shifts, chunks)."""

        def __init__(self, ctx: BuildContext, steps: Annotated[int, "Steps per round"] = 3,
                     step_size: Annotated[float, "Change per pixel per step"] = 0.01):
            self.steps, self.step_size = steps, step_size
            self.updates = 0

        def update(self, canvas, gradient, state, step):
            self.updates += 1  # traced once per canvas shape, not called per step
            assert tuple(gradient.shape[1:]) == tuple(canvas.shape[1:])
            return canvas + self.step_size * ops.sign(gradient), state

    class Plugin:
        @hookimpl
        def dreamfx_register_optimizers(self, register):
            register("contract-sign", SignAscent, description="Sign-of-gradient ascent")

    for preset in ("single-map", "tiling"):  # one view, and a canvas the host cuts into tiles
        result = _dream(Plugin(), image, preset, optimizer="contract-sign", objective="whole-layer", loop__rounds=1)
        assert result.settings.optimizer.params == {"steps": 3, "step_size": 0.01}
        assert result.score_after > result.score_before, preset
        assert 0.0 <= result.image.min() and result.image.max() <= 1.0  # the host clips


def test_hook_dreamfx_register_loops(image):
    from keras import ops

    scores = []

    class FinestOnly:
        def __init__(self, ctx: BuildContext, rounds: Annotated[int, "Rounds of optimisation"] = 2):
            self.rounds = rounds

        def units(self, levels):
            return self.rounds

        def __call__(self, images, scaler, run):
            size = (int(images.shape[1]), int(images.shape[2]))
            level = scaler.levels(size)[-1]
            canvas = level.to_canvas(images)
            detail = run.compile(lambda x, c: x - level.from_canvas(c, size), "detail", size)(images, canvas)
            for round_index in range(self.rounds):
                canvas, score = run.ascend(canvas, round_index, level)
                scores.append(score)  # the loop sees the score: it could stop here
            dream = level.from_canvas(canvas, size)
            return LoopResult(image=ops.clip(dream + detail, 0.0, 1.0), pattern=canvas, dream=dream, detail=detail)

    class Plugin:
        @hookimpl
        def dreamfx_register_loops(self, register):
            register("contract-finest", FinestOnly, description="Rounds at the finest level, detail re-added once")

    result = _dream(Plugin(), image, loop="contract-finest", objective="whole-layer", steps=3)
    assert result.settings.loop.params == {"rounds": 2}
    assert result.score_after > result.score_before
    assert len(scores) == 2 and all(s.shape == (1,) and np.isfinite(s).all() for s in scores)
    assert scores[1][0] > scores[0][0]  # a second round of ascent scores higher


def test_hook_dreamfx_register_presets(image):
    def preset(ctx: BuildContext):
        assert ctx.kind == "presets" and ctx.model is None
        return {"description": "conv2, whole", "seed": 5, "objective": {"name": "whole-layer", "layer": "conv2"},
                "optimizer": {"steps": 3}, "loop": {"rounds": 1}}

    class Plugin:
        @hookimpl
        def dreamfx_register_presets(self, register):
            register("contract-preset", preset, description="conv2, whole")

    result = _dream(Plugin(), image, "contract-preset")
    assert (result.settings.preset, result.settings.seed) == ("contract-preset", 5)
    assert result.settings.objective.params == {"layer": "conv2", "mode": "mean-square"}
    assert result.score_after > result.score_before


def test_hook_dreamfx_register_executors(tmp_path, small_photo):
    """An executor that runs each task through the worker function in this process (what a
    distributed one does on its workers): the outputs equal the in-process run's within
    2/255, with the same provenance, and a failed input keeps its reason."""
    from PIL import Image

    from dreamfx.plugin import PluginError
    from dreamfx.host.manager import create_host
    from dreamfx.api import DreamRequest, run_request

    seen = []

    class InOrder:
        def __init__(self, ctx: BuildContext, address: Annotated[str, "Not used"] = "") -> None:
            assert ctx.kind == "executors" and ctx.model is None
            self.address = address

        def run(self, work):
            problem = work.check_function(work.requirements)
            if problem is not None:
                raise PluginError(problem)
            for task in work.tasks():
                seen.append(len(task.items))
                work.finish(task, work.worker_function(task))

    class Plugin:
        @hookimpl
        def dreamfx_register_executors(self, register):
            register("contract-in-order", InOrder, description="Tasks one by one through the worker function")

    folder = tmp_path / "in"
    folder.mkdir()
    for i, size in enumerate([(48, 40), (48, 40), (40, 32)]):
        Image.fromarray((np.roll(small_photo, 9 * i, axis=1) * 255).astype(np.uint8)).resize(size).save(folder / f"{i}.png")
    (folder / "bad.png").write_bytes(b"GIF89a")
    host = create_host(entry_points=False, disabled=set())
    host.register(Plugin(), name="contract")
    assert host.plugins["contract"].status == "ok", host.plugins["contract"].error
    overrides = ["optimizer.steps=3", "loop.rounds=2"]
    here = run_request(DreamRequest([str(folder)], str(tmp_path / "here"), overrides=overrides), host)
    there = run_request(DreamRequest([str(folder)], str(tmp_path / "there"), overrides=overrides,
                                     executor="contract-in-order", cluster="anywhere"), host)
    assert sorted(seen) == [1, 1, 2]  # same-size inputs together; the unreadable one alone
    statuses = {o.job.source.name: (o.status, o.reason) for o in there.outcomes}
    assert statuses["bad.png"][0] == "failed" and "not a readable image" in statuses["bad.png"][1]
    assert statuses["bad.png"] == {o.job.source.name: (o.status, o.reason) for o in here.outcomes}["bad.png"]
    for name in ("0.png", "1.png", "2.png"):
        assert statuses[name] == ("done", None)
        with Image.open(tmp_path / "here" / name) as a, Image.open(tmp_path / "there" / name) as b:
            diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
            assert diff.max() <= 2, name
            meta_a, meta_b = a.text["dreamfx"], b.text["dreamfx"]
        assert meta_a == meta_b  # the same provenance, input digest and scores included


# -- every hook has its contract test; its page is generated ----------------------------------


def test_every_hook_has_a_contract_test():
    from dreamfx.tools.reference import hook_names

    hooks = hook_names()
    assert len(hooks) >= 6
    # contract tests live here, and in a test module of their own where a hook needs more
    # (tests/test_hook_commands.py)
    tests = {match for path in sorted((ROOT / "tests").glob("test_*.py"))
             for match in re.findall(r"^def (test_hook_\w+)\(", path.read_text(), re.MULTILINE)}
    assert {f"test_hook_{hook}" for hook in hooks} <= tests, "hooks without a contract test"
    assert tests <= {f"test_hook_{hook}" for hook in hooks}, "contract tests of hooks that do not exist"


def test_plugin_hooks_md_is_generated_from_the_code():
    """The committed page is render()'s output. That it has a heading for every hook, and none
    for a hook that does not exist, is tests/test_docs.py::test_every_hookspec_has_a_heading_in_plugin_hooks_md."""
    from dreamfx.tools.reference import render

    committed = (ROOT / "docs" / "plugin-hooks.md").read_text()
    assert committed == render(), ("docs/plugin-hooks.md is stale: run "
                                   "python -m dreamfx.plugin --reference > docs/plugin-hooks.md")


def test_the_reference_documents_the_protocols_dreamfx_plugin_exports():
    """render() takes the protocols from their own modules (dreamfx.plugin runs it, so it may
    not import dreamfx.plugin back): they are the very objects plugin authors import."""
    import importlib

    import dreamfx.plugin
    from dreamfx.tools import reference

    homes = {"Objective": "kinds.objectives", "Scaler": "kinds.scalers", "Level": "kinds.scalers",
             "Optimizer": "kinds.optimizers", "DreamLoop": "kinds.loops", "LoopResult": "kinds.loops",
             "Executor": "kinds.executors", "FolderWork": "runs.folderwork"}
    source = Path(reference.__file__).read_text()
    text = reference.render()
    for name, home in homes.items():
        assert name in dreamfx.plugin.__all__, name
        assert getattr(dreamfx.plugin, name) is getattr(importlib.import_module(f"dreamfx.{home}"), name), name
        assert f"from dreamfx.{home} import" in source and f"\n### {name}\n" in text, name


def test_presets_md_parameter_table_is_generated_from_the_signatures():
    from dreamfx.tools.reference import PARAMETERS_END, PARAMETERS_START, parameter_table

    text = (ROOT / "docs" / "presets.md").read_text()
    shown = text[text.index(PARAMETERS_START) + len(PARAMETERS_START):text.index(PARAMETERS_END)].strip()
    assert shown == parameter_table().strip(), ("docs/presets.md's parameter table is stale: paste the output of "
                                                "python -m dreamfx.plugin --parameters")


# -- the mistakes a plugin author makes get errors that say what to do -----------------------------


@pytest.mark.parametrize("factory, message", [
    (lambda layer="conv2", map=50: None, "the factory's first parameter, 'layer', has a default"),
])
def test_a_factory_without_the_build_context_is_refused_at_registration(factory, message):
    from dreamfx.errors import PluginError
    from dreamfx.host.manager import create_host

    class Plugin:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("no-context", factory)

    host = create_host(entry_points=False, disabled=set(), strict=True)
    with pytest.raises(PluginError, match=re.escape(message)):
        host.register(Plugin(), "no-context")
        host.registries


@pytest.mark.parametrize("reduce", ["batch", "maps"])
def test_an_objective_whose_scores_have_the_wrong_shape_is_named_before_the_optimizer_runs(image, reduce):
    from dreamfx.errors import PluginError

    class Wrong(Objective):
        def __init__(self, ctx: BuildContext):
            self.layers = ("conv3",)

        def score(self, activations):
            from keras import ops

            acts = activations["conv3"]
            return ops.mean(acts) if reduce == "batch" else ops.mean(acts, axis=(1, 2))

    class Plugin:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("wrong-shape", Wrong)

    with pytest.raises(PluginError) as info:
        _dream(Plugin(), image, "tiling", objective="wrong-shape", steps=1, loop__rounds=1)
    text = str(info.value)
    assert text.startswith("objective 'wrong-shape' (plugin ") and "must return one value per batch element" in text
    assert "optimizer" not in text


@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_a_wrong_shape_is_named_also_where_scoring_runs_as_one_compiled_call(image, preset):
    """A batch scores its views in one compiled call (views, network, objective, mean);
    an objective whose scores have the wrong shape still gets the error that names it."""
    from dreamfx.api import make_dreamer
    from dreamfx.errors import PluginError
    from dreamfx.host.manager import create_host

    class Wrong(Objective):
        def __init__(self, ctx: BuildContext):
            self.layers = ("conv3",)

        def score(self, activations):
            from keras import ops

            return ops.mean(activations["conv3"], axis=(1, 2))  # (views, maps): one axis too many

    class Plugin:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("wrong-shape", Wrong)

    host = create_host(entry_points=False, disabled=set())
    host.register(Plugin(), name="contract")
    dreamer = make_dreamer(preset, {"objective": "wrong-shape", "steps": 1, "rounds": 1}, host=host)
    with pytest.raises(PluginError, match=r"^objective 'wrong-shape' .*must return one value per batch element"):
        dreamer.dream_batch([image, image])


def test_each_kind_is_declared_once_and_the_rest_derives_from_it():
    """Issue 23: a kind's contract (protocol and check) is declared in its kinds module and
    listed once in dreamfx.kinds.KINDS; the registries, the settings' sections, the check of
    a built component and the hooks follow from that table."""
    import dreamfx.plugin
    from dreamfx.config.settings import COMPONENT_SECTIONS
    from dreamfx.host import hookspecs, registry
    from dreamfx.kinds import KINDS

    assert registry.KINDS == tuple(kind.name for kind in KINDS)
    assert COMPONENT_SECTIONS == {kind.section: kind.name for kind in KINDS if kind.section}
    hooks = [name for name in hookspecs.__all__ if name.startswith("dreamfx_register_")]
    assert hooks == [kind.hook for kind in KINDS] + ["dreamfx_register_commands"]
    for kind in KINDS:
        contract = kind.contract()
        if contract is not None:
            assert getattr(dreamfx.plugin, kind.protocol) is contract, kind.name
        assert kind.problem(object()) is not None, kind.name  # a bare object meets no kind's contract
