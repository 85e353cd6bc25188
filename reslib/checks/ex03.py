"""Self-checks of exercise 03: the bottleneck block and the pre-activation block.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (He et al.
2016a), Fig. 5 right: 1x1 reduce, 3x3, 1x1 expand to ``4 * filters``, each convolution followed
by batch norm, ReLU after the addition. He, Zhang, Ren and Sun, "Identity Mappings in Deep
Residual Networks", ECCV 2016 (He et al. 2016b), Fig. 4e: BN-ReLU-conv twice, nothing after the
addition. Each check builds ``reslib.layers``' version of the block on the same input and
compares shapes and parameter counts, never stored tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from reslib.checks._core import (
    expect,
    expect_close,
    expect_equal,
    expect_shape,
    learner_model,
    passed,
)
from reslib.checks.ex01 import all_layers, zero_kernels
from reslib.layers import BasicBlock, BottleneckBlock

__all__ = [
    "all_layers", "check_bottleneck_block", "check_conv_weights", "check_preact_block",
    "expect", "expect_close", "functional", "zero_kernels",
]

CASES = ((64, 16, 1), (16, 16, 1), (64, 32, 2))
"""(input channels, filters, strides): identity shortcut, projection, projection with stride."""


def functional(make: Callable[..., Any], channels: int, **kwargs: Any) -> keras.Model:
    """``make(x, **kwargs)`` wrapped into a model on ``(8, 8, channels)`` images; a Keras error
    inside the learner's code becomes a ``CheckFailed`` with a hint."""
    name = getattr(make, "__name__", "your function")
    return learner_model(make, (8, 8, channels), f"{name}(x, **{kwargs})",
                         "the shortcut must have the branch's shape before they are added",
                         **kwargs)


def _check_against(make: Callable[..., Any], reference: Callable[..., keras.layers.Layer],
                   name: str, cases: tuple, hint: str) -> None:
    for channels, filters, strides in cases:
        call = f"{name}(x, {filters}, strides={strides}) on {channels} channels"
        model = learner_model(make, (8, 8, channels), call, hint, filters=filters,
                              strides=strides)
        block = reference(filters, strides=strides)
        x = np.zeros((2, 8, 8, channels), "float32")
        want = tuple(block(x).shape)
        expect_shape(f"the output of {call}", model(x), want,
                     "the stride goes on the 3x3 convolution and on the shortcut")
        expect_equal(f"the parameters of {call}", model.count_params(), block.count_params(),
                     hint)


def check_bottleneck_block(bottleneck_block: Callable[..., Any]) -> None:
    """Shapes and parameters equal ``BottleneckBlock`` (He et al. 2016a, Fig. 5 right)."""
    _check_against(
        bottleneck_block, BottleneckBlock, "bottleneck_block", CASES,
        "1x1 (filters), 3x3 (filters), 1x1 (4 * filters) Conv2D with use_bias=False, each "
        "followed by BatchNormalization; a 1x1 projection + BatchNormalization on the shortcut "
        "only when the input does not already have 4 * filters channels at the same size",
    )
    passed("bottleneck_block: shapes and parameter counts as in He et al. 2016a")


def check_preact_block(preact_block: Callable[..., Any]) -> None:
    """Shapes and parameters equal ``BasicBlock(preact=True)`` (He et al. 2016b, Fig. 4e)."""
    _check_against(
        preact_block, lambda filters, strides: BasicBlock(filters, strides, preact=True),
        "preact_block", ((16, 16, 1), (16, 32, 2)),
        "BatchNormalization-ReLU before each of the two 3x3 Conv2D (use_bias=False); a 1x1 "
        "projection WITHOUT batch norm on the shortcut when the shape changes",
    )
    passed("preact_block: shapes and parameter counts as in He et al. 2016b")


def check_conv_weights(conv_weights: Callable[[str, int], int]) -> None:
    """``conv_weights(kind, channels)`` counts the convolution weights of a block on
    ``channels`` in and out: ``"basic"`` (two 3x3) or ``"bottleneck"`` (width channels / 4)."""
    for channels in (64, 256):
        for kind, block in (("basic", BasicBlock(channels)),
                            ("bottleneck", BottleneckBlock(channels // 4))):
            block.build((None, 8, 8, channels))
            want = sum(int(np.prod(conv.kernel.shape)) for conv in block.convs)
            expect_equal(
                f"conv_weights({kind!r}, {channels})", conv_weights(kind, channels), want,
                "a k x k convolution from c_in to c_out maps has k * k * c_in * c_out weights; "
                "the bottleneck reduces to channels // 4 and expands back",
            )
    ratio = conv_weights("basic", 256) / conv_weights("bottleneck", 256)
    print(f"on 256 channels a basic block has {ratio:.1f}x the convolution weights of a "
          "bottleneck block")
    passed("conv_weights: the bottleneck's 1x1 convolutions make it cheap")
