"""Compare training recipes on inner validation splits, never on the held-out digits.

The model card's "How the recipe was chosen" table comes from this script. Each inner
split is carved from the 4,500 training digits (50 per class held out for validation
with inner seeds 1, 2, 3), so the 500 held-out digits the shipped model is scored on play
no part in the choice.

    .venv/bin/python docs/choose_recipe.py --data ../shared/data/mnist_5k.csv.gz \\
        --variant "dropout=0.15" --variant "dropout=0" --variant "dropout=0.3"

A variant is a comma-separated list of `Recipe` fields (``dropout=0.3,conv3_maps=64``).
Prints one line per run as it ends and a Markdown table at the end; about 2.5 minutes per
run of 60 epochs on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from dreamfx_mnist.data import HOLDOUT_SEED, load_mnist, stratified_split  # noqa: E402
from dreamfx_mnist.train import DEFAULT_EPOCHS, Recipe, fit_model, predict_digits  # noqa: E402


def parse_variant(text: str) -> Recipe:
    fields = {f.name: f.type for f in dataclasses.fields(Recipe)}
    values = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown recipe field {key!r}; known: {', '.join(fields)}")
        values[key] = int(value) if fields[key] in (int, "int") else float(value)
    return Recipe(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the MNIST digits (see load_mnist)")
    parser.add_argument("--variant", action="append", required=True, help="Recipe fields, e.g. dropout=0.3")
    parser.add_argument("--inner-seeds", default="1,2,3")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=int, default=0, help="the training seed")
    args = parser.parse_args()

    x, y = load_mnist(args.data)
    train_idx, _ = stratified_split(y, 50, HOLDOUT_SEED)  # the held-out digits are set aside here
    x, y = x[train_idx], y[train_idx]
    seeds = [int(s) for s in args.inner_seeds.split(",")]
    rows = []
    for text in args.variant:
        recipe = parse_variant(text)
        scores = []
        for inner in seeds:
            fit_idx, val_idx = stratified_split(y, 50, inner)
            start = time.perf_counter()
            model = fit_model(x[fit_idx], y[fit_idx], args.epochs, args.seed, recipe)
            accuracy = float(np.mean(predict_digits(model, x[val_idx]) == y[val_idx]))
            scores.append(accuracy)
            print(f"{text}: inner seed {inner}: {100 * accuracy:.1f} % "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        rows.append((text, scores))
    print("\n| Variant | " + " | ".join(f"Inner seed {s}" for s in seeds) + " | Mean |")
    print("|---|" + "---|" * (len(seeds) + 1))
    for text, scores in rows:
        cells = " | ".join(f"{100 * s:.1f}" for s in scores)
        print(f"| {text} | {cells} | {100 * np.mean(scores):.2f} |")


if __name__ == "__main__":
    main()
