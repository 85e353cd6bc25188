"""U-Net: an encoder-decoder whose long skips carry each encoder level's features to the decoder.

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015 (Ronneberger et al. 2015), Fig. 1. ``skips=None`` builds the no-skip
twin, a plain encoder-decoder, to show what the skips are for (lesson 07).
"""

from __future__ import annotations

from typing import Any

import keras

from reslib import _validation as check
from reslib.models._heads import check_head, check_pooling, global_pool, image_input

SKIP_MODES = ("concat", "add", None)


def unet(
    depth: int = 3,
    base_filters: int = 16,
    input_shape: tuple[int | None, int | None, int] = (None, None, 1),
    classes: int = 2,
    skips: str | None = "concat",
    name: str | None = None,
    include_top: bool = True,
    input_tensor: Any = None,
    pooling: str | None = None,
    classifier_activation: Any = None,
    data_format: str | None = None,
) -> keras.Model:
    """A U-Net of ``depth`` levels (Ronneberger et al. 2015, Fig. 1, which has ``depth=4``).

    Encoder level ``l = 0 .. depth - 1``: two 3x3 conv-BN-ReLU units with
    ``base_filters * 2**l`` filters, then 2x2 max pooling. Bottleneck: two units with
    ``base_filters * 2**depth`` filters. Decoder level ``l = depth - 1 .. 0``: a 2x2 transposed
    convolution with stride 2 up to ``base_filters * 2**l`` channels, combined with the encoder
    features of level ``l`` (``skips``), then two 3x3 conv-BN-ReLU units. A 1x1 convolution
    gives ``classes`` logits per pixel.

    Differences from the paper, as in most modern U-Nets: "same" padding (the output has the
    input's size, no cropping of the skips), batch normalisation after every 3x3 convolution
    (which therefore has no bias), and a configurable depth and width (the paper: 4 and 64).

    Args:
        depth: number of pooling steps; height and width must be divisible by ``2**depth``.
        base_filters: filters of the first level (64 in the paper); doubled at every level.
        input_shape: ``(height, width, channels)``; ``None`` sizes accept any multiple of
            ``2**depth`` at call time.
        classes: logits per pixel (2 in the paper's cell segmentation).
        skips: ``"concat"`` (the paper: concatenate the encoder features to the up-sampled
            ones), ``"add"`` (add them, as in residual networks), or ``None``: the no-skip twin,
            identical except that the first convolution after each up-sampling sees only the
            up-sampled channels (half as many as with ``"concat"``).
        name: model name; default ``unet{depth}`` (``...-add``, ``...-noskip``).
        include_top: end with the 1x1 convolution to ``classes`` (``"logits"``); ``False`` ends
            with the last decoder level's ``base_filters`` channels.
        input_tensor: a symbolic Keras tensor to build the network on (keras.applications'
            argument); its shape replaces ``input_shape``.
        pooling: without the top, ``None`` keeps the per-pixel features; ``"avg"`` or ``"max"``
            pools them to ``(batch, base_filters)``.
        classifier_activation: applied per pixel after the logits as a float32 layer named
            ``"predictions"`` (e.g. ``"softmax"``); the default ``None`` returns the logits,
            which the course's losses expect.
        data_format: ``"channels_last"`` or ``"channels_first"`` (then ``input_shape`` is
            ``(channels, height, width)`` and the logits ``(batch, classes, height, width)``);
            default Keras' ``keras.config.image_data_format()``. TensorFlow on a CPU computes
            the up-sampling (``Conv2DTranspose``) wrongly in channels-first (TF 2.21 with
            oneDNN drops its bias); use channels-last there, or JAX.

    Returns:
        A ``keras.Model`` mapping ``(batch, height, width, channels)`` to per-pixel logits
        ``(batch, height, width, classes)`` (or the activation's output), or without the top
        to the features described under ``include_top`` and ``pooling``.

    Example:
        >>> unet(depth=2, input_shape=(16, 16, 1)).output_shape
        (None, 16, 16, 2)
    """
    depth = check.positive_int("depth", depth)
    base_filters = check.positive_int("base_filters", base_filters)
    skips = check.one_of("skips", skips, SKIP_MODES)
    pooling = check_pooling(pooling)
    data_format = check.data_format("data_format", data_format)
    name = check.model_name("name", name)
    include_top, input_shape, classes = check_head(
        include_top, input_shape, input_tensor, classes, classifier_activation, data_format
    )
    inputs, x = image_input(input_shape, input_tensor)
    _check_input_size(tuple(x.shape[1:]), depth, data_format)
    if None in tuple(x.shape[1:]):  # sizes known only at call time: check them then
        x = DivisibleSize(2**depth, data_format=data_format, name="size_check")(x)
    image = {"data_format": data_format}

    features = []
    for level in range(depth):
        x = _conv_units(x, base_filters * 2**level, f"encoder{level + 1}", data_format)
        features.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder{level + 1}_pool", **image)(x)
    x = _conv_units(x, base_filters * 2**depth, "bottleneck", data_format)
    for level in reversed(range(depth)):
        prefix = f"decoder{level + 1}"
        x = keras.layers.Conv2DTranspose(
            base_filters * 2**level, 2, strides=2, kernel_initializer="he_normal",
            name=f"{prefix}_up", **image,
        )(x)
        x = _combine(x, features[level], skips, prefix, data_format)
        x = _conv_units(x, base_filters * 2**level, prefix, data_format)
    outputs = (
        _top(x, classes, classifier_activation, data_format) if include_top
        else global_pool(x, pooling, data_format)
    )
    suffix = {"concat": "", "add": "-add", None: "-noskip"}[skips]
    return keras.Model(inputs, outputs, name=name or f"unet{depth}{suffix}")


@keras.saving.register_keras_serializable(package="reslib")
class DivisibleSize(keras.layers.Layer):
    """The identity, once the image's height and width are found to be multiples of ``factor``.

    A U-Net of depth ``d`` built for any image size needs sizes divisible by ``2**d``
    (Ronneberger et al. 2015, section 2); otherwise the up-sampled features would not match the
    skipped ones, and ``Concatenate`` would fail with shapes that name neither.

    Input shape: ``(batch, height, width, channels)`` (channels-first:
    ``(batch, channels, height, width)``). Output shape: the same.
    """

    def __init__(self, factor: int, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = check.positive_int("factor", factor)
        self.data_format = check.data_format("data_format", data_format)

    def call(self, inputs: Any) -> Any:
        shape = tuple(inputs.shape)
        spatial = shape[2:4] if self.data_format == "channels_first" else shape[1:3]
        if any(size is not None and size % self.factor for size in spatial):
            expected = (
                f"(batch, channels, {self.factor}*i, {self.factor}*j)"
                if self.data_format == "channels_first"
                else f"(batch, {self.factor}*i, {self.factor}*j, channels)"
            )
            raise ValueError(
                f"This U-Net halves its input log2({self.factor}) times, so it expects height "
                f"and width divisible by {self.factor}: inputs of shape {expected}; got shape "
                f"{shape}. Pad or crop the images."
            )
        return inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(factor=self.factor, data_format=self.data_format)
        return config


def _top(x: Any, classes: int, activation: Any, data_format: str) -> Any:
    """Per-pixel logits from a 1x1 convolution, then ``activation`` as a float32 layer."""
    x = keras.layers.Conv2D(classes, 1, name="logits", data_format=data_format)(x)
    if activation is None or activation == "linear":
        return x
    return keras.layers.Activation(activation, dtype="float32", name="predictions")(x)


def _check_input_size(input_shape: tuple[Any, ...], depth: int, data_format: str) -> None:
    """Known spatial sizes must survive ``depth`` halvings exactly."""
    input_shape = check.image_shape("input_shape", input_shape, data_format)
    factor = 2**depth
    spatial = input_shape[1:] if data_format == "channels_first" else input_shape[:2]
    for axis, size in zip(("height", "width"), spatial):
        if size is not None and size % factor:
            raise ValueError(
                f"A U-Net of depth={depth} halves the image {depth} times, so its {axis} must be "
                f"divisible by 2**depth = {factor}; got input_shape={tuple(input_shape)}."
            )


def _conv_units(x: Any, filters: int, prefix: str, data_format: str) -> Any:
    """Two 3x3 conv-BN-ReLU units."""
    for unit in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
            data_format=data_format, name=f"{prefix}_conv{unit}",
        )(x)
        x = keras.layers.BatchNormalization(
            axis=check.channel_axis(data_format), name=f"{prefix}_norm{unit}"
        )(x)
        x = keras.layers.ReLU(name=f"{prefix}_relu{unit}")(x)
    return x


def _combine(up: Any, skip: Any, mode: str | None, prefix: str, data_format: str) -> Any:
    """The decoder's up-sampled features with the encoder's features of the same level."""
    if mode == "concat":
        axis = check.channel_axis(data_format)
        return keras.layers.Concatenate(axis=axis, name=f"{prefix}_skip")([skip, up])
    if mode == "add":
        return keras.layers.Add(name=f"{prefix}_skip")([skip, up])
    return up
