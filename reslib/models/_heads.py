"""Pieces that the model builders share: BN-ReLU and the pooling/classifier head."""

from __future__ import annotations

from typing import Any

import keras

from reslib import _validation as check


def norm_relu(x: Any, prefix: str) -> Any:
    """Batch norm (PyTorch's momentum and epsilon, as the reference code) and ReLU."""
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{prefix}_norm")(x)
    return keras.layers.ReLU(name=f"{prefix}_relu")(x)


def classifier_head(
    x: Any,
    preact: bool,
    include_top: bool,
    pooling: str | None,
    classes: int,
    classifier_activation: Any,
) -> Any:
    """Final BN-ReLU for pre-activation nets, then global pooling and the dense classifier.

    ``(batch, h, w, c)`` -> ``(batch, classes)`` with the top, ``(batch, c)`` pooled, or the
    feature map unchanged when ``pooling`` is ``None`` and there is no top.
    """
    if preact:
        x = norm_relu(x, "final")
    if pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    if include_top:
        check.positive_int("classes", classes)
        x = classifier(x, classes, classifier_activation)
    return x


def classifier(x: Any, classes: int, activation: Any) -> Any:
    """The dense classifier ``(batch, features) -> (batch, classes)``, then its activation.

    The dense layer (``"classifier"``) outputs the logits; the activation (``"predictions"``,
    softmax by default, none for ``None``) is a separate float32 layer, as Keras advises under
    mixed precision, so that ``reslib.logits.logits_model`` can train on the logits on every
    backend. Under a mixed policy the classifier computes in float32 too, so the logits reach
    the loss in float32.
    """
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    x = keras.layers.Dense(classes, name="classifier", dtype="float32" if mixed else None)(x)
    if activation is None or activation == "linear":
        return x
    return keras.layers.Activation(activation, dtype="float32", name="predictions")(x)
