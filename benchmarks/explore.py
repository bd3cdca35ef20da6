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
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
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
    try:
        ws = connect(base.replace("http://", "ws://") + "/api/live", additional_headers={"Authorization": f"Bearer {token}"},
                     max_size=None)

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
        ws.close()

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
