"""DenseNet builders: the ImageNet DenseNet-121/169/201/264 and the CIFAR DenseNet(-BC).

Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks", CVPR 2017
(Huang et al. 2017): Table 1 (ImageNet) and section 4 / Table 2 (CIFAR). The ImageNet networks
are layer for layer those of ``keras.applications.DenseNet121/169/201`` (same stem with explicit
zero padding, same trainable parameter counts).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib import _validation as check
from reslib.layers.dense import DenseBlock, Transition
from reslib.models._heads import (
    check_head,
    check_pooling,
    classifier_head,
    image_input,
    norm_relu,
)

IMAGENET_BLOCKS: dict[int, tuple[int, ...]] = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}
STEMS = ("imagenet", "cifar")
CIFAR_STEM_FILTERS = 16  # DenseNet without bottleneck (Huang et al. 2017, section 3)


def densenet(
    blocks: tuple[int, ...] = IMAGENET_BLOCKS[121],
    growth_rate: int = 32,
    compression: float = 0.5,
    bottleneck: bool = True,
    include_top: bool = True,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    classes: int = 1000,
    pooling: str | None = None,
    classifier_activation: Any = "softmax",
    stem: str = "imagenet",
    dropout: float = 0.0,
    name: str | None = None,
    input_tensor: Any = None,
    data_format: str | None = None,
) -> keras.Model:
    """A DenseNet: stem, dense blocks with transitions between them, BN-ReLU, classifier.

    ``stem="imagenet"`` (Huang et al. 2017, Table 1): 7x7/2 convolution with ``2k`` filters
    (after a zero padding of 3), BN-ReLU, 3x3/2 max pooling (after a zero padding of 1), as in
    ``keras.applications``. ``stem="cifar"`` (section 3, "Implementation details"): one 3x3
    convolution with ``2k`` filters with bottleneck layers, 16 without. Every dense block but the
    last is followed by a ``Transition``; after the last come BN-ReLU, global pooling and the
    dense classifier.

    Args:
        blocks: layers per dense block; ``IMAGENET_BLOCKS[121]`` = (6, 12, 24, 16) for
            DenseNet-121, (6, 12, 32, 32) for 169, (6, 12, 48, 32) for 201.
        growth_rate: ``k``, maps added by every dense layer (32 on ImageNet, 12/24/40 on CIFAR).
        compression: ``theta`` of the transitions, in (0, 1]; 0.5 for DenseNet-C/-BC.
        bottleneck: 1x1 bottleneck convolutions in the dense layers (DenseNet-B/-BC).
        include_top: end with the dense classifier.
        input_shape: ``(height, width, channels)``; the default accepts any image size.
        classes: size of the classifier.
        pooling: without the top, ``None`` returns the last feature map, ``"avg"`` or ``"max"``
            pools it.
        classifier_activation: ``"softmax"`` or ``None`` for logits.
        stem: ``"imagenet"`` or ``"cifar"``.
        dropout: rate of a dropout after every convolution in the blocks and transitions (0.2 in
            the paper on CIFAR without augmentation).
        name: model name; default ``densenet{depth}`` (``densenet{depth}_cifar``), where depth
            counts the convolutions and the classifier, e.g. 121.
        input_tensor: a symbolic Keras tensor to build the network on (keras.applications'
            argument); its shape replaces ``input_shape``.
        data_format: ``"channels_last"`` or ``"channels_first"`` (then ``input_shape`` is
            ``(channels, height, width)``); default Keras' ``keras.config.image_data_format()``.

    Returns:
        A ``keras.Model`` mapping ``(batch, *input_shape)`` to ``(batch, classes)``.

    Example:
        >>> model = densenet(blocks=(2, 2), growth_rate=4, include_top=False,
        ...                  input_shape=(32, 32, 3))
        >>> model.output_shape  # 8 stem maps + 2 x 4, halved to 8, + 2 x 4; 1/8 of the size
        (None, 4, 4, 16)
    """
    stem = check.one_of("stem", stem, STEMS)
    pooling = check_pooling(pooling)
    if not isinstance(blocks, (tuple, list)) or not blocks or not all(
        isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size >= 1
        for size in blocks
    ):
        raise ValueError(
            "`blocks` must be a non-empty tuple of positive integers, the layers of each dense "
            f"block, e.g. (6, 12, 24, 16) for DenseNet-121; got {blocks!r}."
        )
    blocks = tuple(int(size) for size in blocks)
    growth_rate = check.positive_int("growth_rate", growth_rate)
    compression = check.fraction("compression", compression)
    bottleneck = check.boolean("bottleneck", bottleneck)
    dropout = check.rate("dropout", dropout)
    data_format = check.data_format("data_format", data_format)
    name = check.model_name("name", name)
    include_top, input_shape, classes = check_head(
        include_top, input_shape, input_tensor, classes, classifier_activation, data_format
    )
    block_options = {
        "bottleneck": bottleneck, "growth_rate": growth_rate, "dropout": dropout,
        "data_format": data_format,
    }

    inputs, x = image_input(input_shape, input_tensor)
    x = _stem(x, stem, growth_rate, bottleneck, data_format)
    for index, size in enumerate(blocks, start=1):
        x = DenseBlock(size, name=f"block{index}", **block_options)(x)
        if index < len(blocks):
            x = Transition(
                compression, dropout=dropout, data_format=data_format, name=f"transition{index}"
            )(x)
    pooling = "avg" if include_top else pooling
    outputs = classifier_head(
        x, preact=True, include_top=include_top, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, data_format=data_format,
    )
    depth = (2 if bottleneck else 1) * sum(blocks) + len(blocks) + 1
    default_name = f"densenet{depth}{'_cifar' if stem == 'cifar' else ''}"
    return keras.Model(inputs, outputs, name=name or default_name)


def cifar_densenet(
    depth: int = 100,
    growth_rate: int = 12,
    compression: float = 0.5,
    bottleneck: bool = True,
    classes: int = 10,
    input_shape: tuple[int | None, int | None, int] = (32, 32, 3),
    include_top: bool = True,
    classifier_activation: Any = "softmax",
    dropout: float = 0.0,
    name: str | None = None,
    input_tensor: Any = None,
    pooling: str | None = None,
    data_format: str | None = None,
) -> keras.Model:
    """The CIFAR DenseNet of Huang et al. 2017, section 3 and Table 2: three equal dense blocks.

    The defaults give DenseNet-BC (L=100, k=12): a 3x3 convolution with 24 filters, three dense
    blocks of 16 bottleneck layers on 32x32, 16x16 and 8x8 maps with compressing transitions
    between them, BN-ReLU, global average pooling, a dense classifier; 769,162 trainable
    parameters (the paper's 0.8M). ``bottleneck=False, compression=1.0`` gives the plain
    DenseNet of the paper (L=40, k=12: 1.0M).

    Args:
        depth: ``L``, the number of weighted layers: ``6n + 4`` with bottleneck layers (100, 190,
            250), ``3n + 4`` without (40, 100); each block holds ``n`` dense layers.
        growth_rate, compression, bottleneck, classes, input_shape, include_top,
            classifier_activation, dropout, input_tensor, pooling, data_format: as for
            ``densenet``.
        name: model name; default ``densenet{depth}_cifar``.

    Returns:
        A ``keras.Model`` mapping ``(batch, *input_shape)`` to ``(batch, classes)``, or without
        the top to the last feature map (``pooling=None``) or the pooled features
        (``(batch, 342)`` for DenseNet-BC-100).

    Example:
        >>> cifar_densenet(depth=10, growth_rate=4, include_top=False, pooling="avg").output_shape
        (None, 9)
    """
    layers_per_block = _layers_per_block(depth, bottleneck)
    return densenet(
        blocks=(layers_per_block,) * 3,
        growth_rate=growth_rate,
        compression=compression,
        bottleneck=bottleneck,
        include_top=include_top,
        input_shape=input_shape,
        classes=classes,
        pooling=pooling,
        classifier_activation=classifier_activation,
        stem="cifar",
        dropout=dropout,
        name=name,
        input_tensor=input_tensor,
        data_format=data_format,
    )


def _layers_per_block(depth: Any, bottleneck: bool) -> int:
    """``n`` for a CIFAR depth of ``3 * 2n + 4`` (bottleneck) or ``3 * n + 4`` (without)."""
    per_block = 6 if bottleneck else 3
    if isinstance(depth, np.integer):
        depth = int(depth)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < per_block + 4 or (
        (depth - 4) % per_block
    ):
        sizes = (1, 2, 16, 31, 41) if bottleneck else (1, 2, 12, 32)
        examples = ", ".join(str(per_block * n + 4) for n in sizes)
        kind = "with" if bottleneck else "without"
        raise ValueError(
            f"CIFAR DenseNet `depth` {kind} bottleneck layers must be {per_block}n+4 for n >= 1 "
            f"({examples}, ...); got {depth!r}."
        )
    return (depth - 4) // per_block


def _stem(
    inputs: Any, stem: str, growth_rate: int, bottleneck: bool, data_format: str
) -> Any:
    image = {"data_format": data_format}
    conv = {"use_bias": False, "kernel_initializer": "he_normal", "name": "stem_conv", **image}
    if stem == "cifar":
        filters = 2 * growth_rate if bottleneck else CIFAR_STEM_FILTERS
        return keras.layers.Conv2D(filters, 3, padding="same", **conv)(inputs)
    x = keras.layers.ZeroPadding2D(3, name="stem_pad", **image)(inputs)
    x = keras.layers.Conv2D(2 * growth_rate, 7, strides=2, **conv)(x)
    x = norm_relu(x, "stem", data_format)
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad", **image)(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="stem_pool", **image)(x)
