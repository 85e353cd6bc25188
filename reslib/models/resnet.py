"""ResNet builders: the CIFAR networks and the ImageNet networks of He et al., v1 and v2.

* He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
  (He et al. 2016a): section 4.2 (CIFAR-10, depth 6n+2) and Table 1 (ImageNet, 18 to 152 layers).
* He, Zhang, Ren and Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016
  (He et al. 2016b): pre-activation ("v2") networks, e.g. ResNet-164 and ResNet-1001 on CIFAR
  with bottleneck blocks (depth 9n+2).

Every builder takes ``residual=False`` for the plain twin of He et al. 2016a (Fig. 3 middle):
the same layers without shortcuts.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib import _validation as check
from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.models._heads import (
    check_head,
    check_pooling,
    classifier_head,
    image_input,
    norm_relu,
)

BLOCKS: dict[str, type] = {"basic": BasicBlock, "bottleneck": BottleneckBlock}
CIFAR_WIDTHS = (16, 32, 64)
IMAGENET_WIDTHS = (64, 128, 256, 512)
IMAGENET_STAGES: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
CONVS_PER_BLOCK = {"basic": 2, "bottleneck": 3}


def cifar_resnet(
    depth: int = 20,
    version: int = 1,
    block: str | None = None,
    shortcut: str | None = None,
    residual: bool = True,
    classes: int = 10,
    input_shape: tuple[int | None, int | None, int] = (32, 32, 3),
    include_top: bool = True,
    classifier_activation: Any = "softmax",
    zero_init_residual: bool = False,
    kernel_regularizer: Any = None,
    name: str | None = None,
    drop_path: float = 0.0,
    width: int = CIFAR_WIDTHS[0],
    input_tensor: Any = None,
    pooling: str | None = None,
    data_format: str | None = None,
) -> keras.Model:
    """The CIFAR-10 ResNet of He et al. 2016a (v1) or 2016b (v2), or its plain twin.

    A 3x3 convolution with 16 filters, three stages of ``n`` blocks at 16, 32 and 64 filters
    (32x32, 16x16 and 8x8 feature maps, stride 2 at the first block of stages 2 and 3), global
    average pooling and a ``classes``-way dense layer. v2 puts BN-ReLU in front of every
    convolution and a final BN-ReLU before the pooling.

    Args:
        depth: ``6n + 2`` with basic blocks (20, 32, 44, 56, 110, 1202) or ``9n + 2`` with
            bottleneck blocks (164, 1001): the number of weighted layers.
        version: 1 (post-activation, He et al. 2016a) or 2 (pre-activation, He et al. 2016b).
        block: ``"basic"`` or ``"bottleneck"``; default basic for v1, bottleneck for v2 (the
            papers' choices: ResNet-110 and ResNet-164). Bottleneck stages output 4x the widths.
        shortcut: ``"A"`` (zero-padding, parameter-free) or ``"B"`` (projection where the shape
            changes), or ``"C"``; default A for v1 (He et al. 2016a, section 4.2) and B for v2.
        residual: ``False`` gives the plain twin (no shortcuts, otherwise identical).
        classes: size of the classifier.
        input_shape: ``(height, width, channels)`` of one image.
        include_top: end with the dense classifier (after global average pooling).
        classifier_activation: ``"softmax"`` (keras.applications' convention) or ``None`` for
            logits.
        zero_init_residual: start every block as the identity (see ``BasicBlock``).
        kernel_regularizer: for every convolution; the papers' weight decay of 1e-4 is usually
            given to the optimizer instead.
        name: model name; default ``resnet{depth}_cifar`` (or ``plain...``, ``...v2``).
        drop_path: the *largest* stochastic-depth rate, in [0, 1), with the linear decay rule
            of Huang et al. 2016 (eq. 4): block ``i`` of ``N`` drops its branch with probability
            ``drop_path * i / N``, so the last block has the full rate (0.5 in the paper).
        width: filters of the first stage, doubled at each of the next two (the paper's 16:
            16, 32, 64). Narrower nets keep the depth and the architecture at a fraction of
            the cost (lesson 01's quick mode trains width 8 on a CPU).
        input_tensor: a symbolic Keras tensor to build the network on (keras.applications'
            argument); its shape replaces ``input_shape``.
        pooling: without the top, ``None`` returns the last feature map
            ``(batch, h/4, w/4, 4 * width * expansion)``; ``"avg"`` or ``"max"`` pools it.
        data_format: ``"channels_last"`` or ``"channels_first"`` (then ``input_shape`` is
            ``(channels, height, width)``); default Keras' ``keras.config.image_data_format()``.

    Returns:
        A ``keras.Model`` mapping ``(batch, *input_shape)`` to ``(batch, classes)``, or without
        the top to the feature map or the pooled ``(batch, 4 * width * expansion)`` features.

    Example:
        >>> sum(int(keras.ops.size(w)) for w in cifar_resnet(20).trainable_weights)
        269722
    """
    version = check.one_of("version", version, (1, 2))
    if block is None:  # only None means the default: "" is refused, not read as it
        block = "basic" if version == 1 else "bottleneck"
    block = check.one_of("block", block, BLOCKS)
    shortcut = ("A" if version == 1 else "B") if shortcut is None else shortcut
    shortcut = check.one_of("shortcut", shortcut, "ABC")
    drop_path = check.rate("drop_path", drop_path)
    pooling = check_pooling(pooling)
    blocks_per_stage = _blocks_per_stage(depth, block)
    preact = version == 2
    width = check.positive_int("width", width)
    widths = (width, 2 * width, 4 * width)
    residual = check.boolean("residual", residual)
    zero_init_residual = check.boolean("zero_init_residual", zero_init_residual)
    kernel_regularizer = check.regularizer("kernel_regularizer", kernel_regularizer)
    data_format = check.data_format("data_format", data_format)
    name = check.model_name("name", name)
    include_top, input_shape, classes = check_head(
        include_top, input_shape, input_tensor, classes, classifier_activation, data_format
    )

    inputs, x = image_input(input_shape, input_tensor)
    x = keras.layers.Conv2D(
        width, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
        kernel_regularizer=kernel_regularizer, data_format=data_format, name="stem_conv",
    )(x)
    if not preact:
        x = norm_relu(x, "stem", data_format)
    x = _stages(
        x, BLOCKS[block], widths, (blocks_per_stage,) * 3, preact=preact,
        residual=residual, shortcut=shortcut, zero_init_residual=zero_init_residual,
        kernel_regularizer=kernel_regularizer, drop_path=drop_path, data_format=data_format,
    )
    pooling = "avg" if include_top else pooling
    outputs = classifier_head(
        x, preact, include_top, pooling, classes, classifier_activation, data_format
    )
    default_name = f"{'resnet' if residual else 'plain'}{depth}{'v2' if preact else ''}_cifar"
    return keras.Model(inputs, outputs, name=name or default_name)


def resnet(
    depth: int = 50,
    version: int = 1,
    include_top: bool = True,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    classes: int = 1000,
    pooling: str | None = None,
    classifier_activation: Any = "softmax",
    residual: bool = True,
    shortcut: str = "B",
    groups: int = 1,
    width_per_group: int = 64,
    zero_init_residual: bool = False,
    name: str | None = None,
    drop_path: float = 0.0,
    stride_on: str = "3x3",
    input_tensor: Any = None,
    data_format: str | None = None,
) -> keras.Model:
    """The ImageNet ResNet-18/34/50/101/152 of He et al. 2016a, Table 1 (v1) or 2016b (v2).

    v1: 7x7/2 convolution, BN-ReLU, 3x3/2 max pooling, four stages at 64/128/256/512 filters
    (stride 2 at the first block of stages 2-4, on the 3x3 convolution as in torchvision's
    "v1.5"), global average pooling, dense classifier. Trainable parameters equal torchvision's.
    v2 (pre-activation): the stem has no BN (the first block normalises its input), blocks are
    BN-ReLU-conv, projections have no BN, and a final BN-ReLU precedes the pooling, as in
    ``keras.applications.ResNet50V2``. keras.applications keeps a bias in every convolution;
    reslib follows the papers and torchvision and has none.

    Args:
        depth: 18 or 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        version: 1 or 2.
        include_top: end with the dense classifier.
        input_shape: ``(height, width, channels)``; the default accepts any image size.
        classes: size of the classifier.
        pooling: without the top, ``None`` returns the last feature map
            ``(batch, h/32, w/32, channels)``, ``"avg"`` or ``"max"`` pools it.
        classifier_activation: ``"softmax"`` or ``None`` for logits.
        residual: ``False`` gives the plain twin (plain-18/34 of He et al. 2016a, Fig. 4).
        shortcut: ``"B"`` (projections where the shape changes, the papers' default), ``"A"``
            or ``"C"``.
        groups, width_per_group: ResNeXt cardinality (Xie et al. 2017), e.g. 32 and 4 for
            ResNeXt-50 32x4d; bottleneck depths only.
        zero_init_residual: start every block as the identity (Goyal et al. 2017).
        name: model name; default ``resnet{depth}`` (``resnet{depth}v2``, ``plain{depth}``).
        drop_path: the largest stochastic-depth rate, decayed linearly over the blocks as in
            ``cifar_resnet`` (Huang et al. 2016); timm's ResNets use e.g. 0.05 for ResNet-50.
        stride_on: where a downsampling bottleneck strides: ``"3x3"`` (torchvision's v1.5) or
            ``"1x1"`` (the paper's Caffe models, ``keras.applications.ResNet50``); see
            ``BottleneckBlock``. Bottleneck depths only.
        input_tensor: a symbolic Keras tensor to build the network on (keras.applications'
            argument); its shape replaces ``input_shape``.
        data_format: ``"channels_last"`` or ``"channels_first"`` (then ``input_shape`` is
            ``(channels, height, width)``); default Keras' ``keras.config.image_data_format()``.

    Returns:
        A ``keras.Model`` mapping ``(batch, *input_shape)`` to ``(batch, classes)``.

    Example:
        >>> sum(int(keras.ops.size(w)) for w in resnet(18).trainable_weights)
        11689512
    """
    depth = check.one_of("depth", depth, IMAGENET_STAGES)
    version = check.one_of("version", version, (1, 2))
    pooling = check_pooling(pooling)
    drop_path = check.rate("drop_path", drop_path)
    groups = check.positive_int("groups", groups)
    width_per_group = check.positive_int("width_per_group", width_per_group)
    stride_on = check.one_of("stride_on", stride_on, ("3x3", "1x1"))
    shortcut = check.one_of("shortcut", shortcut, "ABC")
    residual = check.boolean("residual", residual)
    zero_init_residual = check.boolean("zero_init_residual", zero_init_residual)
    data_format = check.data_format("data_format", data_format)
    name = check.model_name("name", name)
    include_top, input_shape, classes = check_head(
        include_top, input_shape, input_tensor, classes, classifier_activation, data_format
    )
    block, stage_sizes = IMAGENET_STAGES[depth]
    block_options: dict[str, Any] = {}
    if block == "bottleneck":
        block_options = dict(groups=groups, width_per_group=width_per_group, stride_on=stride_on)
    elif (groups, width_per_group, stride_on) != (1, 64, "3x3"):
        raise ValueError(
            f"groups, width_per_group (ResNeXt) and stride_on apply to bottleneck depths "
            f"50/101/152; ResNet-{depth} uses basic blocks, got groups={groups}, "
            f"width_per_group={width_per_group}, stride_on={stride_on!r}."
        )
    preact = version == 2

    inputs, x = image_input(input_shape, input_tensor)
    x = keras.layers.Conv2D(
        IMAGENET_WIDTHS[0], 7, strides=2, padding="same", use_bias=False,
        kernel_initializer="he_normal", data_format=data_format, name="stem_conv",
    )(x)
    if not preact:
        x = norm_relu(x, "stem", data_format)
    x = keras.layers.MaxPooling2D(
        3, strides=2, padding="same", data_format=data_format, name="stem_pool"
    )(x)
    x = _stages(
        x, BLOCKS[block], IMAGENET_WIDTHS, stage_sizes, preact=preact,
        residual=residual, shortcut=shortcut, zero_init_residual=zero_init_residual,
        drop_path=drop_path, data_format=data_format, **block_options,
    )
    pooling = "avg" if include_top else pooling
    outputs = classifier_head(
        x, preact, include_top, pooling, classes, classifier_activation, data_format
    )
    default_name = f"{'resnet' if residual else 'plain'}{depth}{'v2' if preact else ''}"
    return keras.Model(inputs, outputs, name=name or default_name)


def _blocks_per_stage(depth: Any, block: str) -> int:
    """``n`` for a CIFAR depth of ``2 * 3n + 2`` (basic) or ``3 * 3n + 2`` (bottleneck)."""
    per_stage = 3 * CONVS_PER_BLOCK[block]
    if isinstance(depth, np.integer):
        depth = int(depth)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < per_stage + 2 or (
        (depth - 2) % per_stage
    ):
        examples = ", ".join(str(per_stage * n + 2) for n in (1, 2, 3, 9, 18))
        raise ValueError(
            f"CIFAR ResNet depth with {block} blocks must be {per_stage}n+2 for n >= 1 "
            f"({examples}, ...); got depth={depth!r}."
        )
    return (depth - 2) // per_stage


def _stages(
    x: Any,
    block_class: type,
    widths: tuple[int, ...],
    stage_sizes: tuple[int, ...],
    drop_path: float = 0.0,
    **block_options: Any,
) -> Any:
    """Stack ``stage_sizes[i]`` blocks of ``widths[i]`` filters; stride 2 opens stages 2, 3, ...

    Block ``i`` of ``N`` (counted over all stages, from 1) gets the drop-path rate
    ``drop_path * i / N``: the linear decay rule of Huang et al. 2016.
    """
    total, count = sum(stage_sizes), 0
    for stage, (filters, size) in enumerate(zip(widths, stage_sizes), start=1):
        for index in range(1, size + 1):
            count += 1
            strides = 2 if stage > 1 and index == 1 else 1
            x = block_class(
                filters, strides=strides, drop_path=drop_path * count / total,
                name=f"stage{stage}_block{index}", **block_options,
            )(x)
    return x
