"""The small MNIST CNN that dreamfx dreams with.

The layer stack is the article's network; every layer is named so objectives can
address it ("conv2", "dense1", ...). The last Dense layer stays linear and the softmax
is a separate layer, so a class objective can read the pre-softmax logits.
"""

from __future__ import annotations

import keras
from keras import layers


#: Maps of the third convolutional layer: the article's network has 128 ("the 128 feature
#: maps on the third layer of my simple CNN"); the earlier shipped network, kept as
#: ``mnist-cnn-64``, had 64.
CONV3_MAPS = 128


def build_mnist_cnn(dropout: float = 0.3, conv3: int = CONV3_MAPS) -> keras.Model:
    """Build the untrained network: 28x28x1 floats in [0, 1] -> 10 class probabilities.

    ``conv3`` is the number of feature maps of the third convolutional layer, the layer
    the presets dream with.

    ``dropout`` is the rate of the two Dropout layers ("drop1" after the convolutions,
    "drop2" after "dense1"); they carry no weights and are inactive at inference, so
    they only regularise training on a few thousand digits. ``dropout=0`` leaves them
    out.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if conv3 < 1:
        raise ValueError(f"conv3 must be at least 1 map, got {conv3}")

    def maybe_dropout(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
        return layers.Dropout(dropout, name=name)(x) if dropout else x

    inputs = keras.Input(shape=(28, 28, 1), name="input")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(conv3, 3, activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = maybe_dropout(x, "drop1")
    x = layers.Dense(70, activation="relu", name="dense1")(x)
    x = maybe_dropout(x, "drop2")
    logits = layers.Dense(10, name="logits")(x)
    outputs = layers.Activation("softmax", name="softmax")(logits)
    return keras.Model(inputs, outputs, name="mnist_cnn")
