"""Train the MNIST CNN, score it on a held-out split and save it as a `.keras` file.

Augmentation (random rotation, zoom, shear and shift in one affine warp) runs in the
tf.data input pipeline, outside the model, so the saved file is a plain inference
network taking 28x28x1 floats in [0, 1]. Nothing here prints: a host reports progress
through the ``progress`` callback and the returned `TrainReport`.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .data import HOLDOUT_SEED, NUM_CLASSES, load_mnist, stratified_split
from . import user_model_file
from .model import CONV3_MAPS, build_mnist_cnn

DEFAULT_EPOCHS = 60


@dataclass(frozen=True)
class Recipe:
    """Hyperparameters of a training run other than epochs and seed."""

    batch_size: int = 64
    learning_rate: float = 2e-3
    """Peak Adam learning rate; it decays to zero along a cosine over the run."""
    dropout: float = 0.3
    max_rotation_deg: float = 12.0
    max_shift_px: float = 2.5
    max_zoom: float = 0.1
    """Relative scale change, uniform in [1 - max_zoom, 1 + max_zoom]."""
    max_shear: float = 0.15
    conv3_maps: int = CONV3_MAPS
    """Feature maps of the third convolutional layer (the article's network: 128)."""


@dataclass(frozen=True)
class TrainReport:
    """Outcome of `train`: held-out scores and the identity of the written file."""

    accuracy: float
    """Fraction of held-out digits classified correctly."""
    confusion: list[list[int]]
    """10x10 counts; row = true digit, column = predicted digit."""
    n_train: int
    n_holdout: int
    epochs: int
    seed: int
    sha256: str
    out: Path


def train(
    data: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    holdout_per_class: int = 50,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    recipe: Recipe = Recipe(),
) -> TrainReport:
    """Train on the digits at ``data`` (see `load_mnist`; None downloads MNIST),
    evaluate on ``holdout_per_class`` digits per class that training never sees, and
    write the model atomically to ``out`` (default: `user_model_file`, in the user's data
    folder; never the shipped model unless ``out`` names it).

    The held-out split always uses `HOLDOUT_SEED`, so runs with different ``seed``
    values (which drive weight initialisation, shuffling and augmentation) are scored
    on the same digits. ``progress`` is called after every epoch with the 0-based epoch
    index and the epoch's training metrics (``loss``, ``accuracy``).
    """
    out = Path(out) if out is not None else user_model_file()
    if out.suffix != ".keras":
        raise ValueError(f"{out}: the model file name must end in .keras")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    x, y = load_mnist(data)
    train_idx, test_idx = stratified_split(y, holdout_per_class, HOLDOUT_SEED)

    model = fit_model(x[train_idx], y[train_idx], epochs, seed, recipe, progress)

    predicted = predict_digits(model, x[test_idx])
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (y[test_idx], predicted), 1)
    sha256 = _save_atomically(model, out)
    return TrainReport(
        accuracy=float(np.trace(confusion) / test_idx.size),
        confusion=confusion.tolist(),
        n_train=int(train_idx.size),
        n_holdout=int(test_idx.size),
        epochs=epochs,
        seed=seed,
        sha256=sha256,
        out=out,
    )


def fit_model(
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    recipe: Recipe = Recipe(),
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> keras.Model:
    """Return a freshly built network trained on uint8 digits ``x`` with labels ``y``.

    Seeding Python, NumPy, TensorFlow and Keras from ``seed`` makes runs repeatable on
    the same machine and TensorFlow build.
    """
    keras.utils.set_random_seed(seed)
    model = build_mnist_cnn(dropout=recipe.dropout, conv3=recipe.conv3_maps)
    steps = epochs * math.ceil(len(x) / recipe.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, steps)
    # Compile a wrapper, not the model itself, so the saved file has no optimizer state.
    trainer = keras.Sequential([model], name="trainer")
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    callbacks = []
    if progress is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: progress(
                    epoch, {k: float(v) for k, v in (logs or {}).items()}
                )
            )
        )
    trainer.fit(
        _augmented_batches(x, y, seed, recipe),
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,  # The dataset shuffles itself, reproducibly.
        verbose=0,
    )
    return model


def predict_digits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Classify uint8 digits (N, 28, 28) with ``model``; returns the predicted labels."""
    probabilities = model.predict(_to_model_input(x), batch_size=500, verbose=0)
    return np.argmax(probabilities, axis=1)


def _to_model_input(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) / 255.0)[..., np.newaxis]


def _augmented_batches(
    x: np.ndarray, y: np.ndarray, seed: int, recipe: Recipe
) -> tf.data.Dataset:
    """Shuffled batches of randomly warped digits, different every epoch.

    Each batch is paired with its own seed from a seeded random stream and warped with
    stateless random ops, so the augmentation is reproducible even though batches are
    processed in parallel.
    """
    batches = (
        tf.data.Dataset.from_tensor_slices((_to_model_input(x), y.astype(np.int32)))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(recipe.batch_size)
    )
    batch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def warp(batch: tuple[tf.Tensor, tf.Tensor], batch_seed: tf.Tensor):
        images, labels = batch
        return _random_affine(images, batch_seed, recipe), labels

    return (
        tf.data.Dataset.zip(batches, batch_seeds)
        .map(warp, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _random_affine(images: tf.Tensor, seed: tf.Tensor, recipe: Recipe) -> tf.Tensor:
    """Warp each image by its own random rotation, zoom, shear and shift about the centre.

    One combined affine resampling blurs the digit less than chaining separate
    rotation, zoom and translation layers would.
    """
    n = tf.shape(images)[0]
    u = tf.random.stateless_uniform((n, 5), seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * (recipe.max_rotation_deg * math.pi / 180.0)
    scale = 1.0 + u[:, 1] * recipe.max_zoom
    shear = u[:, 2] * recipe.max_shear
    shift_x = u[:, 3] * recipe.max_shift_px
    shift_y = u[:, 4] * recipe.max_shift_px
    # The transform maps each output pixel (x, y) to the input pixel it samples:
    # input = scale * R(angle) @ Shear(shear) @ (output - centre) + centre + shift.
    cos, sin = tf.cos(angle), tf.sin(angle)
    a0, a1 = scale * cos, scale * (cos * shear - sin)
    b0, b1 = scale * sin, scale * (sin * shear + cos)
    centre = (images.shape[1] - 1) / 2.0
    a2 = centre + shift_x - (a0 + a1) * centre
    b2 = centre + shift_y - (b0 + b1) * centre
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def _save_atomically(model: keras.Model, out: Path) -> str:
    """Save ``model`` to ``out`` via a temporary file in the same folder and
    `os.replace`, so readers never see a half-written model; returns its SHA-256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".keras")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        model.save(tmp)
        digest = hashlib.sha256()
        with open(tmp, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp creates 0600; the model is meant to be shared.
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest()
