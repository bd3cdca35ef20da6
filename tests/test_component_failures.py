"""Components that raise or return non-finite values (issue 10, items 4 and 10): a failure
names the component and its plugin in one line; a NaN score or image fails that image only
and nothing is written for it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from dreamfx.errors import DreamfxError, PluginError
from dreamfx.io.provenance import read_metadata
from dreamfx.kinds.objectives import Objective
from dreamfx.engine.dreamer import Dreamer
from dreamfx.plugin import OptimizerBase, hookimpl
from dreamfx.host.manager import create_host
from dreamfx.config.presets import settings_for
from dreamfx.config.settings import parse_override

from .conftest import FAST, photo as write_photo, run_cli

#: conftest's FAST as (key, value) overrides for settings_for.
FAST_SETTINGS = [parse_override(text) for text in FAST[1::2]]


class _Mean(Objective):
    layers = ("conv1",)

    def _mean(self, activations):
        import tensorflow as tf

        return tf.reduce_mean(activations["conv1"], axis=[1, 2, 3])


class NanScore(_Mean):
    """Always NaN."""

    def score(self, activations):
        return self._mean(activations) * float("nan")


class NanOnFlat(_Mean):
    """NaN only for images whose conv1 response is exactly uniform (a flat black image)."""

    def score(self, activations):
        import tensorflow as tf

        acts = activations["conv1"]
        flat = tf.reduce_all(tf.reduce_max(acts, axis=[1, 2]) == tf.reduce_min(acts, axis=[1, 2]), axis=1)
        mean = self._mean(activations)
        return tf.where(flat, tf.fill(tf.shape(mean), float("nan")), mean)


class NanGradient(_Mean):
    """A finite score whose gradient is NaN (sqrt at zero), so the dreamed image is NaN."""

    def score(self, activations):
        import tensorflow as tf

        mean = self._mean(activations)
        return mean + tf.sqrt(tf.abs(mean - tf.stop_gradient(mean)))


class WrongLayer(_Mean):
    layers = ("nope",)


class RaisesWhenScored(_Mean):
    def score(self, activations):
        raise ValueError("score exploded")


def _raise_on_build(ctx):
    raise RuntimeError("cannot build this")


class _UpdateRaises(OptimizerBase):
    def __init__(self, steps=2):
        self.steps = steps

    def update(self, canvas, gradient, state, step):
        raise KeyError("no such thing")


class _NoSteps:
    def update(self, canvas, gradient, state, step):
        return canvas, state


class _LoopRaises:
    def __call__(self, images, scaler, run):
        raise ZeroDivisionError("loop fell over")


class ExitsWhenScored(_Mean):
    def score(self, activations):
        raise SystemExit(4)


class _ExitsInUpdate(OptimizerBase):
    def __init__(self, steps=2):
        self.steps = steps

    def update(self, canvas, gradient, state, step):
        raise SystemExit(4)


class _ExitsWhenRun:
    def __call__(self, images, scaler, run):
        raise SystemExit(4)


class _ExitsInLevels:
    fully_convolutional = False

    def levels(self, image_size):
        import sys

        sys.exit(3)


class _ExitsWhenBuilt:
    def __init__(self, ctx):
        raise SystemExit(4)


class _LevelsRaise:
    fully_convolutional = False

    def levels(self, image_size):
        raise IndexError("no levels for you")


class Hostile:
    """A plugin with every way a component can misbehave."""

    @hookimpl
    def dreamfx_register_objectives(self, register):
        register("nan-score", lambda ctx: NanScore())
        register("nan-on-flat", lambda ctx: NanOnFlat())
        register("nan-gradient", lambda ctx: NanGradient())
        register("raises-when-scored", lambda ctx: RaisesWhenScored())
        register("raises-when-built", _raise_on_build)
        register("wrong-layer", lambda ctx: WrongLayer())
        register("exits-when-scored", lambda ctx: ExitsWhenScored())

    @hookimpl
    def dreamfx_register_models(self, register):
        register("raises-when-built", _raise_on_build)

    @hookimpl
    def dreamfx_register_scalers(self, register):
        register("raises-when-built", _raise_on_build)
        register("exits-when-built", _ExitsWhenBuilt)
        register("levels-raise", lambda ctx: _LevelsRaise())
        register("exits-in-levels", lambda ctx: _ExitsInLevels())

    @hookimpl
    def dreamfx_register_optimizers(self, register):
        register("raises-in-update", lambda ctx, steps=2: _UpdateRaises(steps))
        register("no-steps", lambda ctx: _NoSteps())
        register("exits-in-update", lambda ctx, steps=2: _ExitsInUpdate(steps))
        register("nan-default", lambda ctx, step_size=float("nan"): _UpdateRaises())

    @hookimpl
    def dreamfx_register_loops(self, register):
        register("raises-when-run", lambda ctx: _LoopRaises())
        register("exits-when-run", lambda ctx, rounds=1: _ExitsWhenRun())


def hostile_host():
    host = create_host(entry_points=False, disabled=set())
    host.register(Hostile(), name="hostile", distribution="hostile-dist")
    return host


@pytest.fixture
def hhost():
    return hostile_host()


@pytest.fixture
def photo(small_photo):
    return small_photo[:48, :64]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([("model", "raises-when-built")], "model 'raises-when-built' (plugin 'hostile') failed while loading the model: "
                                           "RuntimeError: cannot build this"),
        ([("objective", "raises-when-built")], "objective 'raises-when-built' (plugin 'hostile') failed while being "
                                               "built: RuntimeError: cannot build this"),
        ([("objective", "wrong-layer")], "objective 'wrong-layer' (plugin 'hostile') reads layer 'nope'; model "
                                         "'mnist-cnn' has: conv1, pool1, conv2, pool2, conv3, flatten, drop1, dense1, "
                                         "drop2, logits, softmax"),
        ([("scaler", "raises-when-built")], "scaler 'raises-when-built' (plugin 'hostile') failed while being built: "
                                            "RuntimeError: cannot build this"),
        ([("scaler", "exits-when-built")], "scaler 'exits-when-built' (plugin 'hostile') failed while being built: "
                                           "SystemExit: 4"),
        ([("optimizer", "no-steps")], "optimizer 'no-steps' (plugin 'hostile') does not meet the optimizer protocol: "
                                      "its steps (steps per round) must be a whole number, 0 or more, got None"),
    ],
)
def test_a_component_that_raises_when_built_names_its_plugin(hhost, overrides, message):
    settings = settings_for(hhost, "single-map", overrides)
    with pytest.raises(PluginError) as info:
        Dreamer(hhost, settings, "cpu")
    assert str(info.value) == message
    if "failed while" in message:
        assert info.value.__cause__ is not None  # --debug shows the original traceback


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([("objective", "raises-when-scored")], "objective 'raises-when-scored' (plugin 'hostile') failed while "
                                                "scoring: ValueError: score exploded"),
        ([("loop", "raises-when-run")], "loop 'raises-when-run' (plugin 'hostile') failed while dreaming: "
                                        "ZeroDivisionError: loop fell over"),
        ([("optimizer", "raises-in-update")], "optimizer 'raises-in-update' (plugin 'hostile') failed while running "
                                              "round 1: KeyError: 'no such thing'"),
        ([("scaler", "levels-raise")], "scaler 'levels-raise' (plugin 'hostile') failed while planning the levels "
                                       "of a 64x48 image: IndexError: no levels for you"),
    ],
)
def test_a_component_that_raises_when_run_names_its_plugin(hhost, photo, overrides, message):
    dreamer = Dreamer(hhost, settings_for(hhost, "single-map", overrides + FAST_SETTINGS[:1]), "cpu")
    with pytest.raises(PluginError) as info:
        dreamer(photo)
    assert str(info.value) == message and "\n" not in str(info.value)
    assert isinstance(info.value.__cause__, (ValueError, ZeroDivisionError, IndexError, KeyError))


def test_an_exception_in_the_progress_callback_is_not_blamed_on_the_loop(host, photo):
    # its own dreamer, not a warm one: a fresh dreamer dreams round by round, through the loop
    dreamer = Dreamer(host, settings_for(host, "single-map", FAST_SETTINGS), "cpu")

    def on_round(index):
        raise OSError("terminal went away")

    with pytest.raises(OSError, match="terminal went away"):
        dreamer(photo, on_round)


def test_nan_score_marks_only_that_image(hhost, photo):
    dreamer = Dreamer(hhost, settings_for(hhost, "single-map", [("objective", "nan-on-flat"), *FAST_SETTINGS]), "cpu")
    black = np.zeros_like(photo)
    results = dreamer.dream_batch([photo, black, photo])
    good, bad, again = results
    assert bad.problem == "objective 'nan-on-flat' (plugin 'hostile') returned a non-finite score (nan) on the input"
    assert good.problem is None and again.problem is None
    assert math.isfinite(good.score_before) and good.score_after > good.score_before
    np.testing.assert_array_equal(good.image, again.image)
    alone = dreamer(photo)  # the batch's bad image did not disturb its neighbours
    np.testing.assert_allclose(alone.image, good.image, atol=1e-6)


def test_nan_gradient_gives_a_non_finite_image_naming_the_plugins(hhost, photo):
    dreamer = Dreamer(hhost, settings_for(hhost, "single-map", [("objective", "nan-gradient"), *FAST_SETTINGS]), "cpu")
    result = dreamer(photo)
    assert result.problem is not None and result.problem.startswith("the dream produced a non-finite image (nan)")
    assert "optimizer 'oip' (plugin 'oip')" in result.problem and "objective 'nan-gradient' (plugin 'hostile')" in result.problem


def test_api_refuses_a_non_finite_result(monkeypatch, photo):
    import dreamfx.api
    import dreamfx.host.manager

    monkeypatch.setattr(dreamfx.host.manager, "create_host", lambda **kw: hostile_host())
    monkeypatch.setattr(dreamfx.api, "create_host", lambda **kw: hostile_host())
    with pytest.raises(DreamfxError, match=r"objective 'nan-score' \(plugin 'hostile'\) returned a non-finite score"):
        dreamfx.api.dream(photo, objective="nan-score", steps=1, rounds=1)


@pytest.fixture
def cli_with_hostile_plugin(monkeypatch, tmp_path):
    """``cli`` (in this process) with the hostile plugin registered."""
    import dreamfx.host.manager

    real = dreamfx.host.manager.create_host

    def create(**kwargs):
        host = real(**{**kwargs, "entry_points": False, "disabled": set()})
        host.register(Hostile(), name="hostile", distribution="hostile-dist")
        return host

    monkeypatch.setattr(dreamfx.host.manager, "create_host", create)
    return lambda *argv: run_cli(*argv, watch=tmp_path)


def test_cli_nan_objective_exits_1_and_writes_nothing(cli_with_hostile_plugin, tmp_path):
    source = write_photo(tmp_path / "in.png", size=(64, 48))
    out = tmp_path / "out.png"
    run = cli_with_hostile_plugin("run", source, "-o", out, "--set", "objective=nan-score", *FAST)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "dreamfx: error: objective 'nan-score' (plugin 'hostile') returned a non-finite score (nan) on the input"]
    assert run.written == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_cli_folder_fails_only_the_nan_images_and_reports_them(cli_with_hostile_plugin, tmp_path):
    folder = tmp_path / "in"
    write_photo(folder / "photo.png", size=(64, 48))
    Image.new("RGB", (64, 48), (0, 0, 0)).save(folder / "black.png")
    out = tmp_path / "out"
    run = cli_with_hostile_plugin("run", folder, "-o", out, "--set", "objective=nan-on-flat", "-q", *FAST)
    assert run.returncode == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    files = {p["input"].rsplit("/", 1)[-1]: p for p in report["files"]}
    assert files["black.png"]["status"] == "failed" and "plugin 'hostile'" in files["black.png"]["reason"]
    assert "non-finite score (nan)" in files["black.png"]["reason"]
    assert files["photo.png"]["status"] == "done"
    assert sorted(p.name for p in out.iterdir()) == ["photo.png", "report.json"]
    # the failed image is not "up to date": a re-run tries it again (and fails again)
    assert cli_with_hostile_plugin("run", folder, "-o", out, "--set", "objective=nan-on-flat", "-q", *FAST).returncode == 1
    again = {p["input"].rsplit("/", 1)[-1]: p["status"] for p in json.loads((out / "report.json").read_text())["files"]}
    assert again == {"black.png": "failed", "photo.png": "skipped"}
    assert read_metadata(out / "photo.png")["score_after"] > 0


def test_cli_component_failure_is_one_line(cli_with_hostile_plugin, tmp_path):
    source = write_photo(tmp_path / "in.png", size=(64, 48))
    run = cli_with_hostile_plugin("run", source, "-o", tmp_path / "o.png", "--set", "loop=raises-when-run", *FAST[:2])
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == ["dreamfx: error: loop 'raises-when-run' (plugin 'hostile') failed "
                                               "while dreaming: ZeroDivisionError: loop fell over"]
    run = cli_with_hostile_plugin("run", source, "-o", tmp_path / "o.png", "--set", "model=raises-when-built")
    run.one_line_error(1, "model 'raises-when-built' (plugin 'hostile')")
    assert run.written == [] and not (tmp_path / "o.png").exists()


def test_a_non_finite_default_declared_by_a_plugin_names_it(hhost):
    with pytest.raises(PluginError, match=r"optimizer 'nan-default' \(plugin 'hostile'\) declares a non-finite default "
                                          r"for optimizer.step_size: nan"):
        settings_for(hhost, "single-map", [("optimizer", "nan-default")])
    # a finite value given by the user replaces the default
    assert settings_for(hhost, "single-map", [("optimizer", "nan-default"), ("optimizer.step_size", 0.1)]).optimizer.params \
        == {"step_size": 0.1}


@pytest.mark.parametrize("setting", ["loop=exits-when-run", "scaler=exits-in-levels", "objective=exits-when-scored",
                                     "optimizer=exits-in-update"])
def test_a_component_that_exits_during_a_folder_run_is_named_and_reported(cli_with_hostile_plugin, tmp_path, setting):
    """Issue 24, row 9: sys.exit() inside a component during a folder run ended the process
    with its code, nothing printed, no report.json. Each image fails naming the plugin; the
    run ends with exit 1 and its report."""
    folder = tmp_path / "in"
    write_photo(folder / "a.png", size=(64, 48))
    write_photo(folder / "b.png", size=(40, 30), shift=2)
    out = tmp_path / "out"
    run = cli_with_hostile_plugin("run", folder, "-o", out, "--set", setting, "-q", *FAST)
    assert run.returncode == 1, (run.returncode, run.stderr)
    report = json.loads((out / "report.json").read_text())
    reasons = [f["reason"] for f in report["files"]]
    assert [f["status"] for f in report["files"]] == ["failed", "failed"], reasons
    assert all("(plugin 'hostile')" in r and "SystemExit" in r for r in reasons), reasons
