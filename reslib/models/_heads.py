"""Pieces that the model builders share: the input, BN-ReLU and the pooling/classifier head.

Every image builder takes ``keras.applications``' head arguments with their meaning there:
``include_top``, ``input_shape``, ``input_tensor``, ``pooling`` (only without the top: ``None``
keeps the last feature map, ``"avg"``/``"max"`` pool it), ``classes`` and
``classifier_activation`` (``None`` for logits).
"""

from __future__ import annotations

from typing import Any

import keras

from reslib import _validation as check

POOLINGS = (None, "avg", "max")


def image_input(input_shape: tuple[Any, ...], input_tensor: Any = None) -> tuple[Any, Any]:
    """The model's inputs and the tensor the network starts from, as ``keras.applications``.

    Without ``input_tensor`` both are a new ``keras.Input(shape=input_shape)``. With one (a
    symbolic Keras tensor: a ``keras.Input`` or a layer's output, e.g. after preprocessing
    layers), the network is built on top of it, its shape replaces ``input_shape``, and the
    model's inputs are the inputs it was computed from (``keras.utils.get_source_inputs``).
    """
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape)
        return inputs, inputs
    if not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(
            "`input_tensor` must be a symbolic Keras tensor (a `keras.Input(...)` or a layer's "
            f"output) to build the network on; got {type(input_tensor).__name__}. To run the "
            "network on data, build it and call it: `model(data)`."
        )
    inputs = keras.utils.get_source_inputs(input_tensor)
    return (inputs[0] if len(inputs) == 1 else inputs), input_tensor


def check_pooling(pooling: Any) -> str | None:
    """``pooling`` if it is ``None``, ``"avg"`` or ``"max"``, else a ``ValueError``."""
    return check.one_of("pooling", pooling, POOLINGS)


def check_head(
    include_top: Any,
    input_shape: Any,
    input_tensor: Any,
    classes: Any,
    classifier_activation: Any,
    data_format: str,
) -> tuple[bool, Any, int]:
    """Validate an image builder's head arguments before it builds anything.

    Returns ``(include_top, input_shape, classes)`` as plain Python values (NumPy scalars
    converted), ``input_shape`` unchanged when ``input_tensor`` replaces it.
    """
    include_top = check.boolean("include_top", include_top)
    if input_tensor is None:
        input_shape = check.image_shape("input_shape", input_shape, data_format)
    classes = check.positive_int("classes", classes)
    check.activation("classifier_activation", classifier_activation)
    return include_top, input_shape, classes


def norm_relu(x: Any, prefix: str, data_format: str = "channels_last") -> Any:
    """Batch norm (PyTorch's momentum and epsilon, as the reference code) and ReLU."""
    x = keras.layers.BatchNormalization(
        axis=check.channel_axis(data_format), momentum=0.9, epsilon=1e-5, name=f"{prefix}_norm"
    )(x)
    return keras.layers.ReLU(name=f"{prefix}_relu")(x)


def classifier_head(
    x: Any,
    preact: bool,
    include_top: bool,
    pooling: str | None,
    classes: int,
    classifier_activation: Any,
    data_format: str = "channels_last",
) -> Any:
    """Final BN-ReLU for pre-activation nets, then global pooling and the dense classifier.

    ``(batch, h, w, c)`` -> ``(batch, classes)`` with the top, ``(batch, c)`` pooled, or the
    feature map unchanged when ``pooling`` is ``None`` and there is no top (channels-first:
    ``(batch, c, h, w)``, as ``data_format`` says).
    """
    pooling = check_pooling(pooling)
    if preact:
        x = norm_relu(x, "final", data_format)
    x = global_pool(x, pooling, data_format)
    if include_top:
        check.positive_int("classes", classes)
        x = classifier(x, classes, classifier_activation)
    return x


def global_pool(x: Any, pooling: str | None, data_format: str = "channels_last") -> Any:
    """``(batch, h, w, c)`` -> ``(batch, c)`` for ``"avg"`` and ``"max"``; ``None`` keeps ``x``."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(data_format=data_format, name="pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(data_format=data_format, name="pool")(x)
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
