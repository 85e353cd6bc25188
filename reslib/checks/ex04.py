"""Self-checks of exercise 04, DenseNet: dense layers, dense blocks and transitions.

Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks", CVPR 2017
(Huang et al. 2017). A dense block of ``L`` layers with growth rate ``k`` on ``c0`` channels
outputs ``c0 + L * k`` channels; a transition keeps ``floor(theta * c)`` of ``c`` channels and
halves height and width; a DenseNet-BC layer is BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k).
Each check calls the learner's code on concrete inputs and compares behaviour (shapes, channel
counts, parameter counts) with ``reslib.layers``, never with stored tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from reslib.checks._core import expect, expect_close, expect_equal, expect_shape, passed
from reslib.layers import DenseBlock, DenseLayer, Transition

BC_CHAIN = ((24, 16, 12, 216), (216, 0.5, 108), (108, 16, 12, 300), (300, 0.5, 150))
"""DenseNet-BC-100 (k=12) on CIFAR: the stem's 2k = 24 maps, 16 BC layers per block, theta 0.5."""


def images(channels: int, size: int = 8, batch: int = 2, seed: int = 0) -> np.ndarray:
    """Random images ``(batch, size, size, channels)``, float32, with negative entries."""
    return np.random.default_rng(seed).normal(size=(batch, size, size, channels)).astype("float32")


def check_channel_arithmetic(
    block_output_channels: Callable[[int, int, int], int],
    transition_output_channels: Callable[[int, float], int],
) -> None:
    """``c0 + L * k`` after a block, ``floor(theta * c)`` after a transition."""
    for c0, num_layers, k, expected in (BC_CHAIN[0], BC_CHAIN[2], (16, 6, 12, 88)):
        got = block_output_channels(c0, num_layers, k)
        expect_equal(
            f"block_output_channels({c0}, {num_layers}, {k})", got, expected,
            "each of the L layers adds k maps to the c0 it was given: c0 + L * k",
        )
    for channels, theta, expected in (BC_CHAIN[1], BC_CHAIN[3], (25, 0.5, 12), (64, 1.0, 64)):
        got = transition_output_channels(channels, theta)
        expect_equal(
            f"transition_output_channels({channels}, {theta})", got, expected,
            "keep floor(theta * channels) maps, an int (int(x) rounds down for x >= 0)",
        )
        expect(isinstance(got, (int, np.integer)),
               f"transition_output_channels should return an int, got {type(got).__name__}")
    passed("channel arithmetic: c0 + L*k after a dense block, floor(theta*c) after a transition")


def check_dense_layer(
    make_dense_layer: Callable[[int], Any], growth_rate: int = 6, channels: int = 10
) -> None:
    """A DenseNet-BC layer returns ``k`` new maps and has the BC layer's parameters."""
    layer = make_dense_layer(growth_rate)
    outputs = layer(images(channels))
    expect_shape(
        "the dense layer's output", outputs, (2, 8, 8, growth_rate),
        "a dense layer returns only its k new maps (the block concatenates them); "
        "'same' padding keeps height and width",
    )
    kernels = sorted(
        tuple(w.shape) for w in layer.weights if len(w.shape) == 4
    )
    bottleneck = 4 * growth_rate
    expected = sorted([(1, 1, channels, bottleneck), (3, 3, bottleneck, growth_rate)])
    expect_equal(
        "the convolution kernels' shapes", kernels, expected,
        f"BC form: a 1x1 convolution to 4k = {bottleneck} maps, then a 3x3 one to k = "
        f"{growth_rate}",
    )
    reference = DenseLayer(growth_rate, bottleneck=True)
    reference(images(channels))
    expect_equal(
        "the dense layer's parameter count", layer.count_params(), reference.count_params(),
        "BN-ReLU-Conv (batch norm first, on the layer's input) twice, convolutions without bias "
        "(use_bias=False: a batch norm follows)",
    )
    passed(f"dense layer: {channels} maps in, BN-ReLU-Conv1x1({bottleneck})-BN-ReLU-"
           f"Conv3x3({growth_rate}), {growth_rate} new maps out")


def check_dense_block(
    dense_block: Callable[[int, int], Any], channels: int = 8, num_layers: int = 3,
    growth_rate: int = 4,
) -> None:
    """The block concatenates: ``c0 + L*k`` maps, the input untouched in front, each layer fed
    everything before it."""
    x = images(channels)
    block = dense_block(num_layers, growth_rate)
    outputs = keras.ops.convert_to_numpy(block(x, training=False))
    total = channels + num_layers * growth_rate
    expect_shape(
        "the dense block's output", outputs, (2, 8, 8, total),
        f"c0 + L*k = {channels} + {num_layers}*{growth_rate}: concatenate each layer's new maps "
        "to the features on the channel axis (axis=-1), do not add them",
    )
    expect_close(
        f"the block's first {channels} output channels", outputs[..., :channels], x, atol=1e-6,
        hint="the block's input must come out unchanged in front: concatenate [features, new]",
    )
    first_kernels = sorted(
        w.shape[2] for w in block.weights if len(w.shape) == 4 and tuple(w.shape[:2]) == (1, 1)
    )
    fed = [channels + index * growth_rate for index in range(num_layers)]
    expect_equal(
        "the channels each layer's 1x1 convolution receives", first_kernels, fed,
        "layer l must see the input and the maps of all l-1 layers before it "
        "(the growing concatenation), not only the previous layer's k maps",
    )
    reference = DenseBlock(num_layers, growth_rate)
    reference(x)
    expect_equal(
        "the dense block's parameter count", block.count_params(), reference.count_params(),
        "use the BC dense layer of the previous part for every layer",
    )
    passed(f"dense block: {channels} + {num_layers}*{growth_rate} = {total} maps, input in front")


def check_transition(
    make_transition: Callable[[int, float], Any], channels: int = 12, compression: float = 0.5
) -> None:
    """A transition keeps ``floor(theta*c)`` maps and halves height and width."""
    kept = int(channels * compression)
    layer = make_transition(channels, compression)
    outputs = layer(images(channels, size=8))
    expect_shape(
        "the transition's output", outputs, (2, 4, 4, kept),
        f"a 1x1 convolution to floor({compression}*{channels}) = {kept} maps, then 2x2 average "
        "pooling with stride 2",
    )
    reference = Transition(compression)
    reference(images(channels, size=8))
    expect_equal(
        "the transition's parameter count", layer.count_params(), reference.count_params(),
        "BN-ReLU-Conv1x1 (no bias) then pooling: the batch norm acts on the input channels",
    )
    passed(f"transition: {channels} maps -> {kept}, 8x8 -> 4x4")


def check_cifar_densenet(
    build: Callable[[int, int], keras.Model], layers_per_block: int = 2, growth_rate: int = 4
) -> None:
    """The learner's CIFAR DenseNet-BC has the paper's architecture: same outputs' shape and the
    same parameter count as ``reslib.models.cifar_densenet`` (Huang et al. 2017, Table 2)."""
    from reslib.models import cifar_densenet

    model = build(layers_per_block, growth_rate)
    probabilities = keras.ops.convert_to_numpy(model(images(3, size=32), training=False))
    expect_shape("the model's output", probabilities, (2, 10),
                 "end with global average pooling and Dense(10, activation='softmax')")
    expect_close("each image's class probabilities summed", probabilities.sum(axis=1),
                 np.ones(2), atol=1e-4, hint="the classifier needs activation='softmax'")
    reference = cifar_densenet(depth=6 * layers_per_block + 4, growth_rate=growth_rate)
    channels, width = 2 * growth_rate, layers_per_block * growth_rate
    chain = [channels]
    for block in range(3):
        channels += width
        chain.append(channels)
        if block < 2:
            channels //= 2
            chain.append(channels)
    expect_equal(
        "the model's parameter count", model.count_params(), reference.count_params(),
        f"stem: a 3x3 convolution to 2k = {2 * growth_rate} maps (no bias); three dense blocks "
        f"of {layers_per_block} BC layers with transitions (theta 0.5) between them, so the "
        f"channels go {' -> '.join(map(str, chain))}; then BN-ReLU, global average pooling, "
        "Dense(10, softmax)",
    )
    passed(f"CIFAR DenseNet-BC (L={6 * layers_per_block + 4}, k={growth_rate}): "
           f"{model.count_params():,} parameters, as in reslib.models.cifar_densenet")
