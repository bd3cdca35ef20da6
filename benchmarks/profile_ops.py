"""Where a dream's time goes, per TensorFlow op type: a tf.profiler trace, summarised.

    python benchmarks/profile_ops.py [--preset tiling] [--size 560x560] [--steps 20] [--top 20]

Dreams once to trace and warm up, then records ``--repeats`` dreams with
``tf.profiler.experimental`` and prints the op types (forward or gradient, and the layer
they belong to) that took the most time on TensorFlow's compute threads. Durations are
summed over threads, so shares are what matter. The raw trace stays in ``--logdir`` for
TensorBoard's profile plugin.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]


def summarise(logdir: str, top: int) -> list[tuple[str, str, float]]:
    """(op type, "fwd|grad layer", share) for the ``top`` most expensive op kinds."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # ships with TensorFlow

    paths = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")))
    if not paths:
        raise SystemExit(f"no trace written under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(paths[-1]).read_bytes())
    totals: collections.Counter[tuple[str, str]] = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" not in name or name.startswith("ExecutorState"):
                    continue
                node, op = name.rsplit(":", 1)
                where = "grad" if "gradient_tape" in node else "fwd"
                layer = next((part.rsplit("_", 1)[0] for part in node.split("/")
                              if part.startswith(("conv", "pool", "dense", "logits"))), "")
                totals[(op, f"{where} {layer}".strip())] += event.duration_ps
    whole = sum(totals.values()) or 1
    return [(op, where, value / whole) for (op, where), value in totals.most_common(top)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiling")
    parser.add_argument("--size", default="560x560", help="WIDTHxHEIGHT of the dreamed photo (default 560x560)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--logdir", help="where to keep the trace (default: a temporary folder)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import tensorflow as tf

    from dreamfx.api import make_dreamer
    from run import PHOTO, gray  # the benchmark's photo loader

    width, height = (int(v) for v in args.size.lower().split("x"))
    image = gray(PHOTO, (width, height))
    dreamer = make_dreamer(args.preset, {"rounds": args.rounds, "steps": args.steps})
    dreamer(image)
    dreamer(image)  # the second dream runs the compiled between-round work
    logdir = args.logdir or tempfile.mkdtemp(prefix="dreamfx-profile-")
    tf.profiler.experimental.start(logdir)
    for _ in range(args.repeats):
        dreamer(image)
    tf.profiler.experimental.stop()
    print(f"{args.preset}, {width}x{height}, {args.rounds} round(s) x {args.steps} steps; trace in {logdir}")
    print(f"{'share':>6}  {'op':32} where")
    for op, where, share in summarise(logdir, args.top):
        print(f"{share:6.1%}  {op:32} {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
