"""Shared set-up for the suite: the in-process command-line runner, the one list of tests that
start a real process (and why), one set of small test images and settings, and warm dreamers.

Every test gets a fresh plugin host (``host``: no module-global plugin manager).

**The command line in process.** ``cli("run", photo, "-o", out)`` runs ``dreamfx.cli.main``
in this process (TensorFlow loads once per session, a small dream takes well under a
second) and returns a :class:`CliResult`: the exit code, what was printed on standard
output and standard error, and the files the command wrote or changed under the test's
``tmp_path``. ``cwd=`` and ``env=`` apply for the call only; the signal handlers ``main``
installs are put back afterwards.

**Real processes** are kept only where the process itself is what a test checks. Such a
test carries ``@pytest.mark.process(REASON)`` with a reason from :data:`REAL_PROCESS`; a
test without the mark that starts a Python process (``sys.executable`` or the ``dreamfx``
script) fails, so the list below stays the whole list.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SAMPLE = ROOT / "dreamfx" / "data" / "coffee.png"
CHELSEA = TEST_DATA / "chelsea.png"
DIGITS = TEST_DATA / "mnist_200.csv.gz"
"""200 real MNIST digits (20 per class) for loader and training tests; see tests/data/LICENSES.md."""

#: The few settings that make a CLI dream take a fraction of a second: two steps, one round.
FAST = ("--set", "optimizer.steps=2", "--set", "loop.rounds=1")
#: The same as keyword overrides for :func:`dreamfx.api.make_dreamer`.
FAST_OVERRIDES = {"steps": 2, "rounds": 1}

#: Why a test may start a real process: the process itself is under test. Nothing else may.
REAL_PROCESS = {
    "start-up imports": "what a fresh interpreter imports (TensorFlow, Keras, Dask) before and after a command",
    "signals": "SIGINT, SIGTERM, SIGHUP and a closed pipe delivered to a running program, and when it stops",
    "os._exit": "the program's own exit after an interrupted run (dreamfx.cli.entry), which would end pytest",
    "peak memory": "the peak resident memory of a whole process (getrusage of a child)",
    "instruction set": "oneDNN's instruction set and graph rewrites, read from the environment at start-up",
    "backend at start-up": "the Keras backend, which is fixed once Keras is imported in a process",
    "plugin exits at import": "a plugin that ends the interpreter (os._exit / SystemExit) while it is imported",
    "native log lines": "TensorFlow's C++ log lines, written to file descriptor 2 by native code",
    "cluster workers": "Dask schedulers and workers, which are processes by design",
    "packaging": "building a wheel and running the installed console script",
    "tools": "a script of benchmarks/ or docs/ run as a user runs it",
    "shell examples": "a docs example that is a shell pipeline or sets environment variables, run by bash as the "
                      "docs show",
    "local server": "dreamfx explore's server, listening on a loopback port (its ready line, a real browser)",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "process(reason): the test starts a real process; reason is a key of "
                                       "tests.conftest.REAL_PROCESS")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers("process"):
            if not mark.args or mark.args[0] not in REAL_PROCESS:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.process needs a reason from "
                                        f"tests/conftest.py REAL_PROCESS, not {mark.args!r}")


def _starts_python(argv: Any) -> bool:
    words = [str(a) for a in argv] if isinstance(argv, (list, tuple)) else str(argv).split()
    if not words:
        return False
    first = Path(words[0]).name
    return words[0] == sys.executable or first.startswith("python") or first in ("dreamfx", "dask") or (
        first == "bash" and any("dreamfx" in w or "python" in w for w in words[1:]))


@pytest.fixture(autouse=True)
def _real_processes_are_declared(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts a Python process without ``@pytest.mark.process`` fails at once."""
    if request.node.get_closest_marker("process") is not None:
        return
    real = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
        if _starts_python(args):
            raise AssertionError(f"{request.node.nodeid} starts a real process ({args!r}) but has no "
                                 "@pytest.mark.process(REASON): use the in-process `cli` fixture, or declare why "
                                 "the process itself is under test (tests/conftest.py REAL_PROCESS)")
        real(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)


# -- the command line, in this process ---------------------------------------------------------

@dataclass
class CliResult:
    """What a ``dreamfx`` command did: like :class:`subprocess.CompletedProcess`, plus the
    files it wrote or changed under the test's folder (``written``)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    written: list[Path] = field(default_factory=list)

    def one_line_error(self, code: int, *words: str) -> str:
        """Assert that the command failed with ``code`` and printed exactly one
        ``dreamfx: error:`` line holding every word; return that line."""
        assert self.returncode == code, (self.argv, self.returncode, self.stdout, self.stderr)
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dreamfx: error:"), self.stderr
        for word in words:
            assert word in lines[0], (word, lines[0])
        return lines[0]


def _snapshot(folder: Path | None) -> dict[Path, tuple[int, int]]:
    if folder is None or not folder.is_dir():
        return {}
    seen = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            seen[path] = (st.st_mtime_ns, st.st_size)
    return seen


_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def run_cli(*argv: Any, cwd: Path | str | None = None, env: dict[str, str] | None = None,
            watch: Path | None = None) -> CliResult:
    """Run ``dreamfx ARGV...`` in this process (see the module docstring). ``env`` adds to
    (or, with a value of None, removes from) the environment for the call. The output is
    laid out for a terminal 200 columns wide whatever runs pytest (a worker of pytest-xdist
    has no terminal, and rich would wrap long paths at 80); a test of narrow terminals
    passes ``env={"COLUMNS": "80"}``."""
    from dreamfx.cli import main

    words = [str(a) for a in argv]
    before = _snapshot(watch)
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    saved_signals = {s: signal.getsignal(s) for s in _STOP_SIGNALS}
    out, err = io.StringIO(), io.StringIO()
    try:
        if cwd is not None:
            os.chdir(cwd)
        for key, value in {"COLUMNS": "200", **(env or {})}.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(words)
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for signum, handler in saved_signals.items():
            signal.signal(signum, handler)
    after = _snapshot(watch)
    written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    return CliResult(words, int(code or 0), out.getvalue(), err.getvalue(), written)


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., CliResult]:
    """``cli("run", photo, "-o", out, ...)``: the command in this process (see
    :func:`run_cli`); ``written`` lists the files it wrote under ``tmp_path``."""

    def call(*argv: Any, **kwargs: Any) -> CliResult:
        kwargs.setdefault("watch", tmp_path)
        return run_cli(*argv, **kwargs)

    return call


# -- one set of small test images ----------------------------------------------------------------

def photo(path: Path, size: tuple[int, int] = (48, 36), shift: int = 0, mode: str = "RGB",
          source: Path = SAMPLE) -> Path:
    """Write a small real photo to ``path``: a 300x200 crop of the bundled photo (``shift``
    pixels from its left edge, so different shifts give different photos), resized to
    ``size`` (width, height), in ``mode``. Returns ``path``."""
    from PIL import Image

    with Image.open(source) as img:
        img = img.convert("RGB").crop((shift, 0, shift + 300, 200)).resize(size, Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert(mode).save(path)
    return path


def gray_photo(size: tuple[int, int], source: Path = SAMPLE, squeeze: bool = False) -> np.ndarray:
    """The whole ``source`` photo resized to ``size`` (width, height), as gray floats in
    [0, 1]; ``squeeze`` maps it into [0.1, 0.9] so no pixel starts at a clipping bound."""
    from PIL import Image

    from dreamfx.io.images import to_gray

    with Image.open(source) as img:
        gray = to_gray(img.resize(size, Image.Resampling.LANCZOS))
    return (0.1 + 0.8 * gray).astype(np.float32) if squeeze else gray


@pytest.fixture
def host():
    from dreamfx.host.manager import create_host

    return create_host(entry_points=False, disabled=set())


@pytest.fixture
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def small_photo() -> np.ndarray:
    """A 120x90 grayscale shrink of the bundled photo: real texture, fast to dream."""
    return gray_photo((120, 90))


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    """The bundled photo, full size (600x400), gray."""
    from dreamfx.api import as_gray_array

    return as_gray_array(SAMPLE)


# -- warm dreamers and dreams computed once ----------------------------------------------------------

_DREAMERS: dict[tuple, Any] = {}


def warm_dreamer(preset: str, **overrides: Any) -> Any:
    """One dreamer per (preset, overrides) for the whole session: built (and traced) once,
    shared by every test that dreams with those settings. Tests that count traces or
    patch a dreamer build their own with :func:`dreamfx.api.make_dreamer`."""
    from dreamfx.api import make_dreamer

    key = (preset, json.dumps(overrides, sort_keys=True, default=repr))
    if key not in _DREAMERS:
        _DREAMERS[key] = make_dreamer(preset, dict(overrides))
    return _DREAMERS[key]


@pytest.fixture(scope="session")
def dreamer() -> Callable[..., Any]:
    """``dreamer("tiling", steps=4)``: the session's warm dreamer for those settings."""
    return warm_dreamer


_DREAMS: dict[tuple, Any] = {}


def dream_once(key: tuple, compute: Callable[[], Any]) -> Any:
    """An expensive result computed once per session under ``key`` and shared by every test
    that checks it."""
    if key not in _DREAMS:
        _DREAMS[key] = compute()
    return _DREAMS[key]


def default_signals() -> None:
    """``preexec_fn`` for a child that a test interrupts: SIGINT, SIGTERM and SIGHUP as a
    terminal would deliver them. A suite started under ``nohup`` or in the background of a
    non-interactive shell hands its children SIGHUP or SIGINT ignored, and dreamfx rightly
    keeps an ignored signal ignored (``nohup dreamfx run ...`` must survive a hang-up)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or with None, remove) environment variables for the block."""
    saved = dict(os.environ)
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
