"""Read the examples out of README.md and docs/*.md, and run them: the machinery of test_docs.py.

A *shell block* is a fenced ``sh``/``bash``/``console`` block (indented ones too). In a block
with ``$ `` prompts, each prompt line is a command and the lines after it, up to the next
prompt, are what the docs say it prints. In a block without prompts (README style) every
line is a command and nothing is quoted. ``$ cat NAME`` followed by text is how the docs
show a file: the runner writes that text to NAME first, so the command prints it back.

Commands run in a sandbox folder prepared per document: small copies of the photos the
docs name (``photo.png`` is the 200x150 cat the tutorial makes, ``photo.jpg`` a small copy
of the bundled photo), folders for the batch examples, the preset and Python files the
docs show (``Save this as X.toml``), and the repository's 200 test digits, which replace
the 5,000 that the docs train on (see REWRITES). ``dreamfx`` commands run in this process (TensorFlow
loads once), and so does a plain ``python SCRIPT.py`` or ``python -c CODE`` and the docs'
Python examples, as scripts (:func:`run_script`). Anything else (``&&``, pipes, environment
assignments in front) runs in bash with ``dreamfx`` and ``python`` on PATH pointing at this
interpreter, as does ``python -c`` code that checks what a fresh interpreter imports;
:func:`real_process` says which commands start a process, and why.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SAMPLE = ROOT / "dreamfx" / "data" / "coffee.png"
TEST_DATA = ROOT / "tests" / "data"
EXAMPLE = ROOT / "plugins" / "examples" / "dreamfx-objective-example"

SHELL_LANGS = {"sh", "bash", "console", "shell"}

#: Commands not run, each with the reason. Anything else found in a shell block is run.
SKIPPED = {
    "make test": "the suite itself: CI runs it (.ci/run); running it here would recurse",
    "make bench": "minutes of benchmarks; benchmarks/run.py checks its own figures against targets",
    "pip install ./spotlight": "would change the test environment; make test installs the example the same way",
    ".venv/bin/python benchmarks/profile_ops.py --preset tiling --size 560x560": "a profiler (tens of seconds); nothing to check",
    # docs/cluster.md: a real cluster's commands; tests/test_cluster.py starts `dask scheduler`
    # and `dask worker` on 127.0.0.1 and runs `dreamfx run --cluster tcp://127.0.0.1:PORT`
    'pip install "dreamfx[cluster]"': "would change the test environment; make test installs the cluster extra",
    "dask scheduler --port 8786": "a server on a fixed port; tests/test_cluster.py starts one on a free loopback port",
    "ssh node1 dask worker tcp://scheduler:8786 --nthreads 1": "needs other machines; tests/test_cluster.py starts "
                                                               "`dask worker` processes on 127.0.0.1",
    "dreamfx run photos/ -r -o dreams/ --cluster tcp://scheduler:8786": "needs a running cluster; tests/test_cluster.py "
                                                                        "runs the same against one on 127.0.0.1",
    "helm repo add dask https://helm.dask.org": "needs the network and Kubernetes",
    "helm install dreamfx-dask dask/dask --set worker.image.repository=you/dreamfx --set worker.replicas=8 "
    "--set jupyter.image.repository=you/dreamfx": "needs Kubernetes",
    "dreamfx run /data/photos -r -o /data/dreams --cluster tcp://dreamfx-dask-scheduler:8786": "needs a cluster on "
        "Kubernetes; tests/test_cluster.py runs the same against one on 127.0.0.1",
}

#: Rewrites that keep a command fast or point it at data a clone has, with the reason.
#: (pattern, replacement); applied to the command text before it runs.
REWRITES = [
    # training: the 200 repository digits (the sandbox's digits.csv.gz) instead of the 5,000
    # beside the developers' checkout, and 1 epoch
    (r"\.\./\w+/data/mnist_5k\.csv\.gz", "digits.csv.gz"),
    (r"(dreamfx train .*?)--epochs \d+", r"\1--epochs 1"),
    (r"^(dreamfx train (?:(?!--epochs).)*)$", r"\1 --epochs 1"),
    (r"^(dreamfx train .*)$", r"\1 --holdout 5"),
    (r"epochs=60\)", r"epochs=1, holdout_per_class=5)"),
    # the tutorial's photo is made from the repository's copy of the cat
    (r"'[^']*tests/data/chelsea\.png'", repr(str(TEST_DATA / "chelsea.png"))),
    # the bundled photo, named by its path in the repository
    (r"(?<![\w/])dreamfx/data/coffee\.png", str(SAMPLE)),
    # `make demo` is `dreamfx demo -o out` once .venv exists
    (r"^make demo$", "dreamfx demo -o out"),
]

#: Summary rows compared as text (whitespace-normalised); 'time' is machine-dependent.
SUMMARY_KEYS = ("preset", "model", "objective", "scaler", "rounds x steps", "output", "panel")


@dataclass
class Command:
    doc: Path
    line: int
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


@dataclass
class Block:
    doc: Path
    line: int  # of the opening fence
    lang: str
    lines: list[str]
    before: str  # the prose line just above the block


def blocks(doc: Path) -> list[Block]:
    found, current, lines = [], None, doc.read_text().splitlines()
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            if current is None:
                indent = len(raw) - len(raw.lstrip())
                before = next((l for l in reversed(lines[: number - 1]) if l.strip()), "")
                current = Block(doc, number, stripped[3:].strip(), [], before)
                current.indent = indent  # type: ignore[attr-defined]
            else:
                found.append(current)
                current = None
            continue
        if current is not None:
            indent = current.indent  # type: ignore[attr-defined]
            current.lines.append(raw[indent:] if not raw[:indent].strip() else raw.lstrip())
    return found


def _joined(lines: list[str]) -> list[tuple[int, str]]:
    """Lines with shell continuations (a trailing ``\\``) joined, each with its first line's offset."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for offset, line in enumerate(lines, 1):
        if pending is not None:
            pending = (pending[0], pending[1] + " " + line.strip())
        else:
            pending = (offset, line)
        if pending[1].rstrip().endswith("\\"):
            pending = (pending[0], pending[1].rstrip()[:-1].rstrip())
            continue
        out.append(pending)
        pending = None
    if pending is not None:
        out.append(pending)
    return out


def commands(doc: Path) -> list[Command]:
    out: list[Command] = []
    for block in blocks(doc):
        if block.lang not in SHELL_LANGS and not (block.lang == "" and any(l.startswith("$ ") for l in block.lines)):
            continue
        prompted = any(l.startswith("$ ") for l in block.lines)
        for offset, line in _joined(block.lines):
            if prompted:
                if line.startswith("$ "):
                    out.append(Command(doc, block.line + offset, _strip_comment(line[2:])))
                elif out and out[-1].doc == doc and out[-1].line > block.line:
                    out[-1].expected.append(line)
            elif line.strip() and not line.lstrip().startswith("#"):
                out.append(Command(doc, block.line + offset, _strip_comment(line.strip())))
    return out


def _strip_comment(text: str) -> str:
    """Drop a trailing ``# comment`` (a ``#`` after whitespace, outside quotes)."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].strip()
    return text.strip()


def rewrite(text: str) -> str:
    for pattern, repl in REWRITES:
        text = re.sub(pattern, repl, text)
    return text


# -- the sandbox --------------------------------------------------------------------------------


def _save_small(src: Path, dst: Path, size: tuple[int, int], mode: str | None = None) -> None:
    from PIL import Image

    with Image.open(src) as img:
        img = img.convert(mode) if mode else img
        dst.parent.mkdir(parents=True, exist_ok=True)
        img.resize(size, Image.Resampling.LANCZOS).save(dst)


def make_sandbox(root: Path) -> Path:
    """A working folder with what the examples expect beside them; returns it."""
    work = root / "work"
    work.mkdir(parents=True)
    _save_small(SAMPLE, work / "photo.jpg", (150, 100), "RGB")
    for name, src in (("holiday/beach.jpg", SAMPLE), ("holiday/day2/cat.png", TEST_DATA / "chelsea.png"),
                      ("a.jpg", TEST_DATA / "camera.png"), ("b.png", TEST_DATA / "horse.png"),
                      ("frames/frame_001.png", SAMPLE), ("frames/frame_002.png", TEST_DATA / "chelsea.png"),
                      ("frames/other.png", TEST_DATA / "camera.png")):
        _save_small(src, work / name, (84, 56), "RGB" if name.endswith(".jpg") else None)
    shutil.copy(TEST_DATA / "mnist_200.csv.gz", work / "digits.csv.gz")
    (root / "home").mkdir()
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, target in (("dreamfx", f'"{sys.executable}" -m dreamfx'), ("python", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        (bin_dir / name).chmod(0o755)
    return work


def write_files_shown(doc: Path, work: Path) -> None:
    """Write the files a document shows and then uses: 'Save this as `X`', a block whose first
    line is '# X.toml', and the Python block just before '$ python X.py'."""
    doc_blocks = blocks(doc)
    for i, block in enumerate(doc_blocks):
        text = "\n".join(block.lines) + "\n"
        named = re.search(r"Save this as `([\w.-]+)`", block.before)
        if named:
            (work / named.group(1)).write_text(text)
        elif block.lines and re.fullmatch(r"# [\w.-]+\.toml", block.lines[0].strip()):
            (work / block.lines[0].strip()[2:]).write_text(text)
        for line in block.lines:
            script = re.match(r"\$ python ([\w-]+\.py)\b", line)
            if script and f"$ cat {script.group(1)}" not in block.lines and not (work / script.group(1)).exists():
                previous = next(b for b in reversed(doc_blocks[:i]) if b.lang == "python")
                (work / script.group(1)).write_text("\n".join(previous.lines) + "\n")


# -- running ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def _in_this_process(text: str) -> bool:
    """A plain ``dreamfx ...`` command (no environment assignments, pipes or ``&&``): run by
    ``dreamfx.cli.main`` in this process (plain ``python`` commands: :func:`_python_script`)."""
    words = shlex.split(text)
    return bool(words) and words[0] == "dreamfx" and "&&" not in words and "|" not in words


def _python_script(text: str) -> tuple[str | None, str, list[str]] | None:
    """``python SCRIPT.py ARGS`` as (None, SCRIPT.py, argv) and ``python -c CODE ARGS`` as
    (CODE, "<string>", argv), to run in this process; None for anything else, and for code
    that looks at ``sys.modules`` (what a fresh interpreter imports: a real process only)."""
    words = shlex.split(text)
    if len(words) < 2 or words[0] != "python" or {"&&", "|", ";", "||"} & set(words):
        return None
    if words[1] == "-c" and len(words) >= 3:
        return None if "sys.modules" in words[2] else (words[2], "<string>", ["-c", *words[3:]])
    if words[1].endswith(".py"):
        return None, words[1], words[1:]
    return None


def real_process(command: Command) -> str | None:
    """Why running ``command`` starts a real process (a key of tests/conftest.py's
    REAL_PROCESS), or None: ``python -c`` code that looks at what the interpreter imported, a
    command that bash runs and that names ``dreamfx`` or ``python``, or a ``--cluster`` run
    (its Dask workers are processes)."""
    text = rewrite(command.text)
    if _in_this_process(text):
        return "cluster workers" if "--cluster" in shlex.split(text) else None
    if _python_script(text) is not None:
        return None
    words = shlex.split(text)
    if words[:2] == ["python", "-c"] and "sys.modules" in words[2]:
        return "start-up imports"
    # as tests/conftest.py's guard judges `bash -c TEXT`
    return "shell examples" if "dreamfx" in text or "python" in text else None


def _sandbox_env(root: Path) -> dict[str, str]:
    env = {**os.environ, "HOME": str(root / "home"), "COLUMNS": "200", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("XDG_DATA_HOME", None)
    env.pop("DREAMFX_DISABLE_PLUGINS", None)
    return env


def run(command: Command, work: Path, root: Path) -> Outcome:
    text = rewrite(command.text)
    env = _sandbox_env(root)
    if "my_rgb.keras" in text and not (work / "my_rgb.keras").exists():
        _rgb_model(work / "my_rgb.keras")
    if command.text.startswith("cat ") and command.expected:
        (work / command.text.split()[1]).write_text("\n".join(command.expected) + "\n")
    if _in_this_process(text):
        return _in_process(shlex.split(text)[1:], work, env)
    script = _python_script(text)
    if script is not None:
        code, name, argv = script
        source = code if code is not None else (work / name).read_text()
        return run_script(source, name, work, root, argv)
    done = subprocess.run(["bash", "-c", text], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    return Outcome(done.returncode, done.stdout, done.stderr)


def run_script(source: str, name: str, work: Path, root: Path, argv: list[str] | None = None) -> Outcome:
    """A Python example run as ``python`` runs a script in the sandbox (``__name__`` is
    ``"__main__"``, ``sys.argv`` is ``argv``, the sandbox is the working folder and the first
    entry of ``sys.path``, its ``HOME``), but in this process: an exception is exit status 1
    and its traceback goes to ``stderr``."""
    import traceback

    from .conftest import environment

    out, err = io.StringIO(), io.StringIO()
    saved_cwd, saved_argv = os.getcwd(), sys.argv
    code = 0
    with environment(**_changes(_sandbox_env(root))):
        os.chdir(work)
        sys.path.insert(0, str(work))
        sys.argv = list(argv or ["-c"])
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    exec(compile(source, name, "exec"), {"__name__": "__main__"})
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                except Exception:  # noqa: BLE001 - as the interpreter would: the traceback, status 1
                    traceback.print_exc()
                    code = 1
        finally:
            sys.argv = saved_argv
            sys.path.remove(str(work))
            os.chdir(saved_cwd)
    return Outcome(int(code or 0), out.getvalue(), err.getvalue())


def _rgb_model(path: Path) -> None:
    """The user's colour model the channel docs name: a small 64x64x3 CNN (seeded weights)
    with the layer names the example dreams."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    keras.Model(inputs, keras.layers.Dense(10, name="logits")(x)).save(path)


def _changes(env: dict[str, str]) -> dict[str, str | None]:
    """``env`` as changes to this process's environment (None: removed)."""
    changes: dict[str, str | None] = {k: v for k, v in env.items() if os.environ.get(k) != v}
    changes.update({k: None for k in os.environ if k not in env})
    return changes


def _in_process(argv: list[str], work: Path, env: dict[str, str]) -> Outcome:
    """``dreamfx ARGV`` in this process (tests/conftest.py's ``run_cli``) with the
    sandbox's environment, in the sandbox."""
    from .conftest import environment, run_cli

    changes = _changes(env)
    with environment(**changes):
        argv = [os.path.expandvars(word) for word in argv]  # $HOME of the sandbox, as bash would
    done = run_cli(*argv, cwd=work, env=changes)
    return Outcome(done.returncode, done.stdout, done.stderr)


# -- comparing ----------------------------------------------------------------------------------

NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def close(quoted: str, actual: float, scale: float) -> bool:
    """A quoted figure agrees with a fresh one when they differ by at most 2% of the quoted
    value, half a unit in its last printed digit, or 0.1% of ``scale`` (the largest figure
    of the row, so that a value near zero before a dream is not judged relatively)."""
    value = float(quoted)
    mantissa = quoted.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(quoted.lower().split("e")[1]) if "e" in quoted.lower() else 0
    half_unit = 0.5 * 10.0 ** (exponent - decimals)
    return abs(actual - value) <= max(0.02 * abs(value), half_unit, 1e-3 * abs(scale)) + 1e-12


def summary_rows(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\s*(preset|model|objective value|objective|scaler|rounds x steps|time|output|panel|note)\s{2,}(.*)$",
                         line)
        if match:
            rows.setdefault(match.group(1), " ".join(match.group(2).split()))
    return rows


def matches_with_ellipsis(expected: str, actual: str) -> bool:
    parts = [p.strip() for p in re.split(r"\.\.\.|…", expected)]
    position = 0
    for part in parts:
        if not part:
            continue
        found = actual.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def check_output(command: Command, outcome: Outcome) -> list[str]:
    """What differs between the quoted output and the real one, as messages naming the line."""
    problems: list[str] = []
    quoted = [l for l in command.expected if l.strip()]
    actual_lines = [" ".join(l.split()) for l in (outcome.stdout + "\n" + outcome.stderr).splitlines()]
    expects_error = any(l.lstrip().startswith("dreamfx: error:") for l in quoted)
    if expects_error != (outcome.code != 0) and not command.text.startswith("cd "):
        problems.append(f"{command.where}: exit status {outcome.code}; the docs show "
                        f"{'an error' if expects_error else 'success'}\n{outcome.stdout[-800:]}{outcome.stderr[-1500:]}")
        return problems
    rows = summary_rows(outcome.stdout)
    for number, line in enumerate(command.expected, command.line + 1):
        text = " ".join(rewrite(line).split())
        if not text or text in ("...", "…"):
            continue
        if text.startswith(("dreamfx: error:", "dreamfx: warning:")):
            if not any(matches_with_ellipsis(text, a) for a in actual_lines):
                problems.append(f"{command.where}: line {number} says\n  {text}\nbut the command printed\n  "
                                + "\n  ".join(a for a in actual_lines if a.startswith("dreamfx:")))
            continue
        row = summary_rows(line)
        if row:
            ((key, value),) = row.items()
            got = rows.get(key)
            if key == "objective value":
                numbers = re.findall(NUMBER, value)[:2]
                got_numbers = [float(x) for x in re.findall(NUMBER, got or "")[:2]]
                scale = max(abs(float(x)) for x in numbers)
                if len(got_numbers) != 2 or not all(close(q, g, scale) for q, g in zip(numbers, got_numbers)):
                    problems.append(f"{command.where}: line {number} quotes 'objective value {value}', "
                                    f"the code gives '{got}'")
            elif key in SUMMARY_KEYS and value not in ("...", "…") and not matches_with_ellipsis(value, got or ""):
                problems.append(f"{command.where}: line {number} quotes '{key} {value}', the code gives '{got}'")
            continue
        if " PASSED" in text or " FAILED" in text:
            test = text.split()[0]
            if not any(a.startswith(test) and text.split()[1] in a for a in actual_lines):
                problems.append(f"{command.where}: line {number}: '{test}' did not {text.split()[1]}")
            continue
        passed = re.search(r"(\d+) passed", text)
        if passed:
            if not any(re.search(rf"\b{passed.group(1)} passed", a) for a in actual_lines):
                problems.append(f"{command.where}: line {number} says {passed.group(1)} passed: {actual_lines[-1:]}")
            continue
        if command.text.startswith("python ") and not text.startswith("#"):
            # a script's own output: numbers within tolerance, the rest as text
            if not any(_same_with_numbers(text, a) for a in actual_lines):
                problems.append(f"{command.where}: line {number} says\n  {text}\nbut the script printed\n  "
                                + "\n  ".join(actual_lines))
    return problems


def _same_with_numbers(expected: str, actual: str) -> bool:
    if re.sub(NUMBER, "#", expected) != re.sub(NUMBER, "#", actual):
        return False
    want, got = re.findall(NUMBER, expected), [float(x) for x in re.findall(NUMBER, actual)]
    scale = max([abs(float(x)) for x in want] or [0.0])
    return all(close(w, g, scale) for w, g in zip(want, got))


# -- did the dream change the picture? -----------------------------------------------------------


def dreamed_pairs(command: Command, outcome: Outcome, work: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs a successful ``dreamfx run``/``demo`` wrote."""
    words = shlex.split(rewrite(command.text))
    if outcome.code != 0 or len(words) < 2 or words[0] != "dreamfx" or words[1] not in ("run", "demo"):
        return []
    if words[1] == "demo":
        return [(SAMPLE, work / "out" / "demo.png")]
    out_dir = words[words.index("-o") + 1] if "-o" in words else None
    report = work / out_dir / "report.json" if out_dir else None
    if report is not None and report.is_file():
        files = json.loads(report.read_text())["files"]
        return [(work / f["input"], work / f["output"]) for f in files if f["status"] == "done"]
    output = summary_rows(outcome.stdout).get("output")
    inputs = [w for w in words[2:] if (work / w).is_file() and not w.endswith(".toml")]
    return [(work / inputs[0], work / output)] if output and inputs else []


def visibly_changed(source: Path, output: Path) -> float:
    """The mean absolute change in gray level, 0-255, between an input and its dream."""
    from PIL import Image

    with Image.open(source) as a, Image.open(output) as b:
        a = np.asarray(a.convert("L").resize(b.size), np.float32)
        b = np.asarray(b.convert("L"), np.float32)
    return float(np.abs(a - b).mean())
