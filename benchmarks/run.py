"""dreamfx benchmarks: each figure is a ratio against a plain reference run measured in the
same process (or, for start-up and memory, an absolute figure), printed with its target.

    python benchmarks/run.py [--repeats 3] [--only B1,B2] [--json results.json]

B1  single-map recipe (4 rounds x 20 steps, 600x400 photo) vs an eager per-step
    GradientTape loop with PIL resizing (how the article's code works)
B2  tiling of a 560x560 image (400 tiles, 20 steps) vs a per-tile gradient loop inside one
    tf.function with a random roll (TensorFlow's DeepDream tutorial), and tile-steps per
    second as a fraction of this machine's float32 matmul FLOP rate
B3  a folder of 64 photos (512x384) with single-map, files in and out, vs the B1 reference
    run on the same 64 photos one after another; B3b (issue #5) the same batch run's
    images/s vs the dream time of separate `dreamfx run` calls, one photo each (8 calls
    sampled); B3c the batch run vs the same warm process dreaming the photos one by one
B4  start-up: wall time of `dreamfx --help` and `dreamfx presets`
B5  peak resident memory of a 4000x3000 tiling dream (whole process, TensorFlow included)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "dreamfx" / "data" / "coffee.png"
SHARED_IMAGES = ROOT.parent / "shared" / "images"


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gray(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    from dreamfx.io.images import to_gray

    with Image.open(path) as img:
        if size is not None:
            img = img.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        return to_gray(img)


# -- B1: the article's recipe, eager ------------------------------------------------------------

def eager_reference(model_features: Any, layer: str, index: int, photo: np.ndarray, rounds: int, steps: int,
                    step_size: float) -> np.ndarray:
    """The recipe as the article's code runs it: PIL resizing, one eager GradientTape per step."""
    import tensorflow as tf

    h, w = photo.shape
    original = Image.fromarray(photo, mode="F")
    small = original.resize((28, 28), Image.Resampling.BICUBIC)
    detail = photo - np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))
    x = np.clip(np.asarray(small), 0, 1)
    result = photo
    for _ in range(rounds):
        xt = tf.constant(x[None, :, :, None])
        for _ in range(steps):
            with tf.GradientTape() as tape:
                tape.watch(xt)
                score = tf.reduce_mean(model_features(xt)[layer][..., index])
            g = tape.gradient(score, xt)
            g = g / (tf.math.reduce_std(g) + 1e-8)
            xt = tf.clip_by_value(xt + step_size * g, 0.0, 1.0)
        dream = np.asarray(Image.fromarray(xt.numpy()[0, :, :, 0], mode="F").resize((w, h), Image.Resampling.BICUBIC))
        result = np.clip(dream + detail, 0, 1)
        x = np.clip(np.asarray(Image.fromarray(result.astype(np.float32), mode="F").resize((28, 28), Image.Resampling.BICUBIC)), 0, 1)
    return result


def plain_tf_features(model: Any, upto: str) -> Callable[[Any], dict[str, Any]]:
    """The model's layers up to ``upto`` as plain ``tf.nn`` calls on its weights, for the
    eager reference in a process whose Keras runs on another backend (JAX): the recipe
    written the plain way, in TensorFlow, with the same weights. Sequential Conv2D (ReLU)
    and MaxPooling2D layers only, as the shipped MNIST model has. Plain ``tf.nn`` calls cost
    less per eager step than a Keras model call, so this reference is, if anything, faster."""
    import keras
    import tensorflow as tf

    steps: list[tuple[str, Callable[[Any], Any]]] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = (tf.constant(np.asarray(w)) for w in layer.get_weights())
            if layer.activation.__name__ not in ("relu", "linear"):
                raise ValueError(f"layer {layer.name}: activation {layer.activation.__name__} not written here")

            def conv(x: Any, k: Any = kernel, b: Any = bias, stride: Any = layer.strides, pad: str = layer.padding,
                     relu: bool = layer.activation.__name__ == "relu") -> Any:
                y = tf.nn.conv2d(x, k, strides=stride, padding=pad.upper()) + b
                return tf.nn.relu(y) if relu else y

            steps.append((layer.name, conv))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            steps.append((layer.name, lambda x, size=layer.pool_size, stride=layer.strides, pad=layer.padding:
                          tf.nn.max_pool2d(x, size, stride, pad.upper())))
        else:
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) is not written here")
        if layer.name == upto:
            break

    def features(x: Any) -> dict[str, Any]:
        out = {}
        for name, step in steps:
            x = out[name] = step(x)
        return out

    return features


def single_map_dreamer(**overrides: Any) -> Any:
    from dreamfx.api import make_dreamer

    return make_dreamer("single-map", {"rounds": 4, "steps": 20, **overrides})


def bench_b1(repeats: int) -> dict[str, Any]:
    photo = gray(PHOTO)
    dreamer = single_map_dreamer()
    p = dreamer.settings.objective.params
    ours = timed(lambda: dreamer(photo), repeats)
    ref = timed(lambda: eager_reference(dreamer.features, p["layer"], p["map"], photo, 4, 20,
                                        dreamer.settings.optimizer.params["step_size"]), repeats)
    return {"ours_s": ours, "reference_s": ref, "ratio": ref / ours}


# -- B2: tiling vs the tutorial's per-tile loop -------------------------------------------------

def tutorial_tiled_gradients(model_features: Any, layer: str, index: int, tile: int = 28) -> Any:
    """TensorFlow's DeepDream tutorial's TiledGradients, for a 1-channel 28x28 model."""
    import tensorflow as tf

    @tf.function(input_signature=(tf.TensorSpec([None, None, 1], tf.float32), tf.TensorSpec([2], tf.int32)))
    def gradients(img: Any, img_size: Any) -> Any:
        shift = tf.random.uniform([2], 0, tile, dtype=tf.int32)
        rolled = tf.roll(img, shift, axis=[0, 1])
        grads = tf.zeros_like(rolled)
        for x in tf.range(0, img_size[1], tile):
            for y in tf.range(0, img_size[0], tile):
                with tf.GradientTape() as tape:
                    tape.watch(rolled)
                    part = rolled[y : y + tile, x : x + tile]
                    loss = tf.reduce_mean(model_features(part[None])[layer][..., index])
                grads = grads + tape.gradient(loss, rolled)
        grads = tf.roll(grads, -shift, axis=[0, 1])
        return grads / (tf.math.reduce_std(grads) + 1e-8)

    return gradients


def matmul_flops(seconds: float = 2.0, n: int = 1024) -> float:
    """This machine's float32 matmul rate through TensorFlow, FLOP/s (best of a few runs)."""
    import tensorflow as tf

    a = tf.random.uniform([n, n])
    b = tf.random.uniform([n, n])

    @tf.function
    def mm(a: Any, b: Any) -> Any:
        for _ in range(10):
            a = tf.matmul(a, b) * 1e-3
        return a

    mm(a, b).numpy()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        mm(a, b).numpy()
        best = max(best, 10 * 2 * n**3 / (time.perf_counter() - start))
    return best


def tile_step_flops(model: Any, layer: str) -> float:
    """Forward FLOPs of the network up to ``layer`` for one 28x28 view, times two (the input
    gradient costs about one more forward pass)."""
    total = 0.0
    for lyr in model.layers:
        if type(lyr).__name__ == "Conv2D":
            _, h, w, c_out = lyr.output.shape
            kh, kw, c_in, _ = lyr.kernel.shape
            total += 2.0 * h * w * c_out * kh * kw * c_in
        elif type(lyr).__name__ == "Dense":
            c_in, c_out = lyr.kernel.shape
            total += 2.0 * c_in * c_out
        if lyr.name == layer:
            break
    return 2.0 * total


def bench_b2(repeats: int) -> dict[str, Any]:
    import tensorflow as tf

    from dreamfx.api import make_dreamer

    image = gray(PHOTO, (560, 560))
    dreamer = make_dreamer("tiling", {"rounds": 1, "steps": 20})
    p = dreamer.settings.objective.params
    step_size = dreamer.settings.optimizer.params["step_size"]
    ours = timed(lambda: dreamer(image), repeats)
    grads = tutorial_tiled_gradients(dreamer.features, p["layer"], p["map"])

    def reference() -> None:
        img = tf.constant(image[..., None])
        size = tf.shape(img)[:2]
        for _ in range(20):
            img = tf.clip_by_value(img + step_size * grads(img, size), 0.0, 1.0)
        img.numpy()

    ref = timed(reference, repeats)
    tiles = 400
    rate = tiles * 20 / ours
    flops = tile_step_flops(dreamer.model, p["layer"])
    peak = matmul_flops()
    return {"ours_s": ours, "reference_s": ref, "ratio": ref / ours, "tile_steps_per_s": rate,
            "flops_per_tile_step": flops, "matmul_flops": peak, "fraction_of_matmul": rate * flops / peak}


# -- B3: a folder -------------------------------------------------------------------------------

def make_photos(folder: Path, count: int = 64, size: tuple[int, int] = (512, 384)) -> list[Path]:
    sources = sorted(SHARED_IMAGES.glob("*.png")) or [PHOTO]
    paths = []
    for i in range(count):
        with Image.open(sources[i % len(sources)]) as img:
            img = img.convert("RGB")
            w, h = img.size
            crop = (i * 7 % max(1, w // 5), i * 5 % max(1, h // 5))
            img = img.crop((crop[0], crop[1], w - (i * 3 % max(1, w // 6)), h - (i % max(1, h // 6))))
            if i % 2:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            path = folder / f"photo{i:02d}.jpg"
            img.resize(size, Image.Resampling.LANCZOS).save(path, quality=92)
            paths.append(path)
    return paths


def bench_b3(repeats: int) -> dict[str, Any]:
    from dreamfx.runs.batch import BatchRunner
    from dreamfx.runs.outcomes import BatchOptions
    from dreamfx.runs.inputs import collect_jobs

    dreamer = single_map_dreamer()
    p = dreamer.settings.objective.params
    step_size = dreamer.settings.optimizer.params["step_size"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        paths = make_photos(src)
        photos = [gray(path) for path in paths]

        def batch_run() -> None:
            jobs = collect_jobs([src], Path(tmp) / "out", suffix=".png")
            runner = BatchRunner(dreamer.settings, jobs, BatchOptions(force=True, batch_size=64), lambda: dreamer)
            runner.run()
            assert runner.counts()["done"] == 64

        ours = timed(batch_run, repeats)
        ref = timed(lambda: [eager_reference(dreamer.features, p["layer"], p["map"], x, 4, 20, step_size)
                             for x in photos], 1, warmup=0)
        one_by_one = timed(lambda: [dreamer(x) for x in photos], 1)
        separate = separate_runs(paths[:SEPARATE_RUNS], Path(tmp) / "separate")
    per_image = ours / 64
    return {"ours_s": ours, "reference_s": ref, "ratio": ref / ours, "one_by_one_s": one_by_one,
            "ratio_vs_one_by_one": one_by_one / ours, "images_per_s": 64 / ours,
            "separate_dream_s": separate, "separate_runs": len(separate),
            "ratio_vs_separate": statistics.mean(separate) / per_image}


def dreamfx_command() -> list[str]:
    """The installed ``dreamfx`` script beside this Python, or ``python -m dreamfx``."""
    exe = Path(sys.executable).with_name("dreamfx")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dreamfx"]


#: How many of the 64 photos B3b dreams with a `dreamfx run` call each (each call is a new
#: process; its start-up is not counted, only the dream time it reports).
SEPARATE_RUNS = 8


def separate_runs(paths: list[Path], out: Path) -> list[float]:
    """Issue #5's baseline: one `dreamfx run --preset single-map PHOTO` call per photo; the
    dream time of each, as the call reports it in its report.json (the dream itself, with the
    compiled step built on first use, without process start-up, imports or model loading)."""
    cmd = dreamfx_command()
    seconds = []
    for i, path in enumerate(paths):
        folder = out / f"call{i:02d}"
        subprocess.run([*cmd, "run", "--preset", "single-map", str(path), "-o", str(folder), "-q"],
                       check=True, capture_output=True)
        report = json.loads((folder / "report.json").read_text())
        seconds.append(float(report["files"][0]["seconds"]))
    return seconds


# -- B4 and B5: start-up and memory --------------------------------------------------------------

def bench_b4(repeats: int) -> dict[str, Any]:
    cmd = dreamfx_command()

    def run(*args: str) -> None:
        subprocess.run([*cmd, *args], check=True, capture_output=True)

    return {"help_s": timed(lambda: run("--help"), max(repeats, 5)),
            "presets_s": timed(lambda: run("presets"), max(repeats, 5))}


PEAK_SCRIPT = """
import json, resource, sys
import numpy as np
from dreamfx.api import make_dreamer
image = np.random.default_rng(0).random((3000, 4000), dtype=np.float32) * 0.8 + 0.1
make_dreamer("tiling", {"rounds": 1, "steps": 2})(image)
print(json.dumps({"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def bench_b5(repeats: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the table -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median reported)")
    parser.add_argument("--only", help="comma-separated subset, e.g. B1,B4")
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    chosen = set((args.only or "B1,B2,B3,B4,B5").upper().split(","))
    results: dict[str, Any] = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                          "python": platform.python_version()}}
    benches = {"B1": bench_b1, "B2": bench_b2, "B3": bench_b3, "B4": bench_b4, "B5": bench_b5}
    for name, bench in benches.items():
        if name in chosen:
            start = time.perf_counter()
            results[name] = bench(args.repeats)
            results[name]["bench_s"] = time.perf_counter() - start
            print(f"{name} done in {results[name]['bench_s']:.0f} s", file=sys.stderr, flush=True)

    rows = []
    if "B1" in results:
        r = results["B1"]
        rows.append(("B1", "single-map vs eager per-step loop", f"{r['ratio']:.1f}x ({r['reference_s']:.2f} s / {r['ours_s']:.3f} s)", ">= 15x", r["ratio"] >= 15))
    if "B2" in results:
        r = results["B2"]
        rows.append(("B2", "tiling vs per-tile tf.function loop", f"{r['ratio']:.1f}x ({r['reference_s']:.2f} s / {r['ours_s']:.2f} s)", ">= 4x", r["ratio"] >= 4))
        rows.append(("B2", "tile-steps/s as share of matmul FLOP/s",
                     f"{r['fraction_of_matmul']:.0%} ({r['tile_steps_per_s']:.0f}/s x {r['flops_per_tile_step'] / 1e6:.1f} MFLOP, matmul {r['matmul_flops'] / 1e9:.0f} GFLOP/s)",
                     ">= 50%", r["fraction_of_matmul"] >= 0.5))
    if "B3" in results:
        r = results["B3"]
        rows.append(("B3", "64-photo folder vs B1 reference x 64", f"{r['ratio']:.1f}x ({r['reference_s']:.1f} s / {r['ours_s']:.2f} s)", ">= 30x", r["ratio"] >= 30))
        rows.append(("B3b", "64-photo folder vs separate dreamfx runs",
                     f"{r['ratio_vs_separate']:.1f}x ({r['images_per_s']:.1f} images/s vs {statistics.mean(r['separate_dream_s']):.2f} s per run, {r['separate_runs']} runs)",
                     ">= 5x", r["ratio_vs_separate"] >= 5))
        rows.append(("B3c", "64-photo folder vs one-by-one, same process",
                     f"{r['ratio_vs_one_by_one']:.1f}x ({r['one_by_one_s']:.2f} s / {r['ours_s']:.2f} s)", "(no target)", True))
    if "B4" in results:
        r = results["B4"]
        rows.append(("B4", "dreamfx --help", f"{r['help_s']:.2f} s", "<= 0.5 s", r["help_s"] <= 0.5))
        rows.append(("B4", "dreamfx presets", f"{r['presets_s']:.2f} s", "(no target)", True))
    if "B5" in results:
        r = results["B5"]
        rows.append(("B5", "peak memory, 4000x3000 tiling", f"{r['peak_rss_gb']:.2f} GB", "<= 3 GB", r["peak_rss_gb"] <= 3))

    width = max(len(r[2]) for r in rows) if rows else 10
    print(f"\n{'id':4} {'benchmark':40} {'figure':{width}} {'target':10} ok")
    for rid, what, figure, target, ok in rows:
        print(f"{rid:4} {what:40} {figure:{width}} {target:10} {'yes' if ok else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
