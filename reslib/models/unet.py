"""U-Net: an encoder-decoder whose long skips carry each encoder level's features to the decoder.

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015 (Ronneberger et al. 2015), Fig. 1. ``skips=None`` builds the no-skip
twin, a plain encoder-decoder, to show what the skips are for (lesson 07).
"""

from __future__ import annotations

from typing import Any

import keras

from reslib import _validation as check

SKIP_MODES = ("concat", "add", None)


def unet(
    depth: int = 3,
    base_filters: int = 16,
    input_shape: tuple[int | None, int | None, int] = (None, None, 1),
    classes: int = 2,
    skips: str | None = "concat",
    name: str | None = None,
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

    Returns:
        A ``keras.Model`` mapping ``(batch, height, width, channels)`` to per-pixel logits
        ``(batch, height, width, classes)``.

    Example:
        >>> unet(depth=2, input_shape=(16, 16, 1)).output_shape
        (None, 16, 16, 2)
    """
    check.positive_int("depth", depth)
    check.positive_int("base_filters", base_filters)
    check.positive_int("classes", classes)
    skips = check.one_of("skips", skips, SKIP_MODES)
    _check_input_size(input_shape, depth)

    inputs = keras.Input(shape=input_shape)
    x, features = inputs, []
    for level in range(depth):
        x = _conv_units(x, base_filters * 2**level, f"encoder{level + 1}")
        features.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder{level + 1}_pool")(x)
    x = _conv_units(x, base_filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        prefix = f"decoder{level + 1}"
        x = keras.layers.Conv2DTranspose(
            base_filters * 2**level, 2, strides=2, kernel_initializer="he_normal",
            name=f"{prefix}_up",
        )(x)
        x = _combine(x, features[level], skips, prefix)
        x = _conv_units(x, base_filters * 2**level, prefix)
    outputs = keras.layers.Conv2D(classes, 1, name="logits")(x)
    suffix = {"concat": "", "add": "-add", None: "-noskip"}[skips]
    return keras.Model(inputs, outputs, name=name or f"unet{depth}{suffix}")


def _check_input_size(input_shape: tuple[Any, ...], depth: int) -> None:
    """Known spatial sizes must survive ``depth`` halvings exactly."""
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels); got {tuple(input_shape)!r}."
        )
    factor = 2**depth
    for axis, size in zip(("height", "width"), input_shape[:2]):
        if size is not None and size % factor:
            raise ValueError(
                f"A U-Net of depth={depth} halves the image {depth} times, so its {axis} must be "
                f"divisible by 2**depth = {factor}; got input_shape={tuple(input_shape)}."
            )


def _conv_units(x: Any, filters: int, prefix: str) -> Any:
    """Two 3x3 conv-BN-ReLU units."""
    for unit in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
            name=f"{prefix}_conv{unit}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"{prefix}_norm{unit}")(x)
        x = keras.layers.ReLU(name=f"{prefix}_relu{unit}")(x)
    return x


def _combine(up: Any, skip: Any, mode: str | None, prefix: str) -> Any:
    """The decoder's up-sampled features with the encoder's features of the same level."""
    if mode == "concat":
        return keras.layers.Concatenate(name=f"{prefix}_skip")([skip, up])
    if mode == "add":
        return keras.layers.Add(name=f"{prefix}_skip")([skip, up])
    return up
