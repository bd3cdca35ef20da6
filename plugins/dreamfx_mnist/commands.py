"""``dreamfx train``: the MNIST plugin's command (through the ``dreamfx_register_commands`` hook).

Importing this module is light: TensorFlow and the training code load when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dreamfx.plugin import DreamfxError, SettingsError, console, hookimpl, quiet_tensorflow


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Train the article's CNN with a stratified held-out split and save it as .keras."
    parser.add_argument("--data", help="MNIST as IDX files (folder or images file), mnist.npz, or CSV(.gz); "
                        "default: keras.datasets.mnist (needs internet)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for split, augmentation and weights")
    parser.add_argument("--holdout", type=int, default=50, metavar="N",
                        help="digits per class held out for the accuracy report (default 50)")
    parser.add_argument("-o", "--output", help="where to write the .keras file (default: mnist_cnn.keras in your "
                        "data folder, $XDG_DATA_HOME/dreamfx or ~/.local/share/dreamfx; never the shipped model)")


def _train(args: argparse.Namespace) -> int:
    if args.holdout < 1:
        raise SettingsError(f"--holdout must be at least 1 digit per class, got {args.holdout}")
    quiet_tensorflow(args.debug)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from . import user_model_file
    from .train import DEFAULT_EPOCHS, train

    out = Path(args.output) if args.output else user_model_file()
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[logs]}"),
                  TimeRemainingColumn(), console=console()) as progress:
        task = progress.add_task("train", total=epochs, logs="")

        def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if isinstance(v, float))
            progress.update(task, completed=epoch + 1, logs=shown)

        try:
            report = train(data=args.data, out=out, epochs=epochs, seed=args.seed, holdout_per_class=args.holdout,
                           progress=on_epoch)
        except (ValueError, OSError) as exc:
            raise DreamfxError(f"cannot train on {args.data or 'keras.datasets.mnist'}: {exc}") from exc
    shown = console()
    shown.print(
        f"held-out accuracy [bold]{report.accuracy:.2%}[/] on {report.n_holdout} digits "
        f"(trained on {report.n_train}, {report.epochs} epochs, seed {report.seed})"
    )
    shown.print(f"wrote {report.out} (sha256 {report.sha256[:16]}...)", soft_wrap=True)
    shown.print(f"dream with it: dreamfx run photo.jpg --set model=keras-file --set model.path={report.out}",
                soft_wrap=True)
    return 0


@hookimpl
def dreamfx_register_commands(register: Any) -> None:
    register("train", _train, arguments=_arguments, description="train the built-in MNIST CNN")
