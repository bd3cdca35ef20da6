"""Benchmarks of issue #26 (dreamfx explore), through its HTTP and websocket API: a real
`dreamfx explore` server started as a user starts it, timed from this client, with ratios
against plain reference runs measured in the same run.

    python benchmarks/explore.py [--repeats 20] [--json results.json]

E0  the server ready: from starting `dreamfx explore --port 0 --no-browser` to its ready line
    and the first answered request (target: 5 s)
E1  the first streamed round of a single-map dream of a 512-px photo (the bundled photo at
    512x341), from sending the request on the websocket to receiving round 1's frame, after
    warm-up, a new map each time; p50 and p95 (target p95: 50 ms)
E2  the whole single-map dream on the websocket (request -> "done", the PNG with provenance
    and the digit bars), p50 and p95 (target p95: 150 ms); and E2h the same through
    `POST /api/dream` (the PNG only)
E3  a 64-map atlas with thumbnails (`GET /api/atlas`, the 64-map network mnist-cnn-64) (target: 3 s)
R1  the eager recipe (benchmarks/run.py's reference: per-step GradientTape, PIL resizing) on
    the same photo, in this process: E2's p50 as a ratio of it
R2  one `dreamfx run` of the same photo (a new process: start-up, imports, model, dream):
    E2's p50 as a ratio of it

    python benchmarks/explore.py --soak SECONDS [--json soak.json]

M1  memory while a user switches presets, photos and maps for SECONDS: the server's resident
    set size (RSS, sampled every 0.2 s) at the ready line, after the first dream, its peak,
    its largest in the first and the last quarter of the run, and at the end. Through the API
    as the page drives it: new uploads of random sizes (the server keeps 8), dreams on the
    websocket with every preset in turn, a random map and 2, 4 or 8 steps (each combination a
    dreamer of its own: the server keeps 4), patterns of a layer's maps (8 pattern sets kept),
    responses, a small atlas and a dream's panel now and then.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import PHOTO, dreamfx_command, eager_reference, gray, single_map_dreamer, timed  # noqa: E402

WARM_MAPS = (26, 10, 78, 100, 29, 110, 72, 49)  # maps that respond on the bundled photo


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def start_server(photo: Path) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    process = subprocess.Popen([*dreamfx_command(), "explore", str(photo), "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    while True:
        match = re.match(r"dreamfx explore: (http://\S+)", lines.get(timeout=120))
        if match:
            url = match[1]
            break
    with urllib.request.urlopen(url.replace("/?", "/api/photos?")) as answer:
        answer.read()
    return process, url, time.perf_counter() - started


def rss_mb(pid: int) -> float:
    """A process's resident set size in MB (Linux: /proc; elsewhere psutil)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def soak(base: str, token: str, pid: int, seconds: float, ready_rss: float) -> dict[str, object]:
    """M1: cycle presets, photos, maps and the maps' endpoints for ``seconds``; RSS samples."""
    import io
    import random

    import numpy as np
    from PIL import Image
    from websockets.sync.client import connect

    auth = {"Authorization": f"Bearer {token}"}

    def call(path: str, data: bytes | None = None, content_type: str | None = None) -> bytes:
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        request = urllib.request.Request(base + path, data, headers=headers, method="POST" if data else "GET")
        with urllib.request.urlopen(request, timeout=600) as answer:
            return answer.read()

    def upload(rng: random.Random) -> str:
        w, h = rng.randint(120, 400), rng.randint(90, 300)
        noise = np.random.default_rng(rng.randrange(2**32)).random((h // 8 + 1, w // 8 + 1, 3))
        buffer = io.BytesIO()
        Image.fromarray((noise * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC).save(buffer, "PNG")
        boundary = "dreamfxsoak"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"soak.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + buffer.getvalue() + f"\r\n--{boundary}--\r\n".encode()
        return json.loads(call("/api/photos", body, f"multipart/form-data; boundary={boundary}"))["id"]

    presets = {p["name"]: p["settings"] for p in json.loads(call("/api/presets"))["presets"]}
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter() - started, rss_mb(pid)))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rng = random.Random(26)
    closing = contextlib.ExitStack()
    ws = closing.enter_context(connect(base.replace("http://", "ws://") + "/api/live", additional_headers=auth,
                                       max_size=None))
    dream_s: dict[str, list[float]] = {}
    photos, counts, first_dream = ["p1"], {"dreams": 0, "uploads": 0, "patterns": 0, "atlases": 0, "panels": 0}, None
    names = sorted(presets)
    try:
        i = 0
        while time.perf_counter() - started < seconds:
            i += 1
            if i % 3 == 0:
                photos = [upload(rng), *photos][:12]  # more than the server keeps: the oldest are dropped
                counts["uploads"] += 1
            preset = names[i % len(names)]
            settings = presets[preset]
            photo = rng.choice(photos)
            sets = [f"optimizer.steps={rng.choice((2, 4, 8))}"]  # a new dreamer each (steps are compiled in)
            params = settings["objective"]
            if "map" in params:
                sets.append(f"objective.map={rng.randrange(32)}")
            sent = time.perf_counter()
            ws.send(json.dumps({"id": i, "photo": photo, "preset": preset, "set": sets}))
            while (message := json.loads(ws.recv()))["type"] == "frame":
                pass
            if message["type"] == "error" and message["status"] == 404:  # an upload the server let go
                photos.remove(photo)
                continue
            assert message["type"] == "done", message
            counts["dreams"] += 1
            dream_s.setdefault(preset, []).append(time.perf_counter() - sent)
            if first_dream is None:
                first_dream = rss_mb(pid)
            query = f"photo={photo}&preset={preset}&token={token}"
            if i % 4 == 0 and "map" in params:
                first = rng.randrange(24)
                call(f"/api/oip?{query}&maps={first}-{first + 7}")
                call(f"/api/responses?{query}")
                counts["patterns"] += 1
            if i % 9 == 0 and "map" in params:
                call(f"/api/atlas?{query}&maps=0-7")
                counts["atlases"] += 1
            if i % 5 == 0:
                call(message["panel"])
                counts["panels"] += 1
    finally:
        closing.close()
        stop.set()
        sampler.join()
    end = rss_mb(pid)
    values = [v for _, v in samples]
    quarter = max(1, len(values) // 4)
    return {"seconds": seconds, "ready_mb": ready_rss, "first_dream_mb": first_dream, "peak_mb": max(values),
            "first_quarter_peak_mb": max(values[:quarter]), "last_quarter_peak_mb": max(values[-quarter:]),
            "end_mb": end, **counts, "dream_s": dream_s, "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="M1 only: the memory while a user switches "
                        "presets, photos and maps for SECONDS")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    from PIL import Image
    from websockets.sync.client import connect

    folder = Path(tempfile.mkdtemp(prefix="dreamfx-explore-bench-"))
    photo = folder / "photo512.png"
    with Image.open(PHOTO) as img:
        img.resize((512, round(512 * img.height / img.width)), Image.Resampling.LANCZOS).save(photo)
    process, url, ready = start_server(photo)
    base, token = url.split("/?token=")
    if args.soak:
        try:
            found = soak(base, token, process.pid, args.soak, rss_mb(process.pid))
        finally:
            process.terminate()
            process.wait(timeout=60)
        print(f"\nM1 {found['seconds']:.0f} s: {found['dreams']} dreams, "
              f"{found['uploads']} uploads, {found['patterns']} pattern sets, {found['atlases']} atlases, "
              f"{found['panels']} panels")
        print("   RSS MB: ready {ready_mb:.0f}, after the first dream {first_dream_mb:.0f}, peak {peak_mb:.0f} "
              "(first quarter {first_quarter_peak_mb:.0f}, last quarter {last_quarter_peak_mb:.0f}), end {end_mb:.0f}"
              .format(**found))
        print("   dreams, median s: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in found["dream_s"].items()))
        if args.json:
            Path(args.json).write_text(json.dumps(found, indent=1) + "\n")
        return 0
    try:
        with connect(base.replace("http://", "ws://") + "/api/live", max_size=None,
                     additional_headers={"Authorization": f"Bearer {token}"}) as ws:

            def ws_dream(k: int, ident: int) -> tuple[float, float]:
                sent = time.perf_counter()
                ws.send(json.dumps({"id": ident, "photo": "p1", "set": [f"objective.map={k}"]}))
                first = None
                while True:
                    message = json.loads(ws.recv())
                    if message["type"] == "frame" and first is None:
                        first = time.perf_counter() - sent
                    if message["type"] in ("done", "error"):
                        assert message["type"] == "done", message
                        return first, time.perf_counter() - sent

            for i in range(6):  # warm-up: TensorFlow, the dreamer, its compiled steps (both ways)
                ws_dream(WARM_MAPS[i % len(WARM_MAPS)], -i - 1)
            firsts, wholes = [], []
            for i in range(args.repeats):
                first, whole = ws_dream(WARM_MAPS[i % len(WARM_MAPS)], i + 1)
                firsts.append(first)
                wholes.append(whole)

        def http_dream(k: int) -> None:
            boundary = "dreamfxbench"
            body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
                           for n, v in (("photo", "p1"), ("set", f"objective.map={k}"))) + f"--{boundary}--\r\n"
            request = urllib.request.Request(base + "/api/dream", body.encode(), method="POST", headers={
                "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
            with urllib.request.urlopen(request) as answer:
                answer.read()

        for k in WARM_MAPS[:3]:
            http_dream(k)
        https = []
        for i in range(args.repeats):
            start = time.perf_counter()
            http_dream(WARM_MAPS[i % len(WARM_MAPS)])
            https.append(time.perf_counter() - start)

        def atlas() -> float:
            start = time.perf_counter()
            query = "photo=p1&maps=0-63&set=model%3Dmnist-cnn-64&set=objective.map%3D0"
            with urllib.request.urlopen(f"{base}/api/atlas?{query}&token={token}") as answer:
                body = json.loads(answer.read())
            assert len(body["maps"]) == 64
            return time.perf_counter() - start

        atlas()  # warm-up: the 64-map network's dreamer
        atlases = [atlas() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=60)

    dreamer = single_map_dreamer()
    pixels = gray(photo)
    params = dreamer.settings.objective.params
    eager = timed(lambda: eager_reference(dreamer.features, params["layer"], WARM_MAPS[0], pixels, 4, 20,
                                          dreamer.settings.optimizer.params["step_size"]), 3)
    run_times = []
    for i in range(3):
        start = time.perf_counter()
        subprocess.run([*dreamfx_command(), "run", str(photo), "-o", str(folder / f"run{i}.png"), "--force", "-q",
                        "--set", f"objective.map={WARM_MAPS[0]}"], check=True)
        run_times.append(time.perf_counter() - start)
    run_s = statistics.median(run_times)
    whole50 = statistics.median(wholes)
    rows = [
        ("E0", "server ready (start -> first answer)", f"{ready:.2f} s", "5 s", ready <= 5),
        ("E1", "first streamed round, p50 / p95", f"{statistics.median(firsts) * 1000:.0f} / {p95(firsts) * 1000:.0f} ms",
         "p95 50 ms", p95(firsts) <= 0.05),
        ("E2", "whole dream on the websocket, p50 / p95", f"{whole50 * 1000:.0f} / {p95(wholes) * 1000:.0f} ms",
         "p95 150 ms", p95(wholes) <= 0.15),
        ("E2h", "whole dream, POST /api/dream, p50 / p95",
         f"{statistics.median(https) * 1000:.0f} / {p95(https) * 1000:.0f} ms", "p95 150 ms", p95(https) <= 0.15),
        ("E3", "64-map atlas with thumbnails (median of 3)", f"{statistics.median(atlases):.2f} s", "3 s",
         statistics.median(atlases) <= 3),
        ("R1", f"eager recipe {eager * 1000:.0f} ms / E2 p50", f"{eager / whole50:.1f}x", "-", True),
        ("R2", f"`dreamfx run` {run_s:.2f} s / E2 p50", f"{run_s / whole50:.1f}x", "-", True),
    ]
    print(f"\n{'id':4} {'benchmark':44} {'figure':18} {'target':10} ok")
    for rid, what, figure, target, ok in rows:
        print(f"{rid:4} {what:44} {figure:18} {target:10} {'yes' if ok else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "ready_s": ready, "first_round_s": firsts, "ws_dream_s": wholes, "http_dream_s": https,
            "atlas64_s": atlases, "eager_s": eager, "dreamfx_run_s": run_times}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
