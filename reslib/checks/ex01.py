"""Self-checks of exercise 01, degradation: a basic residual block and a deep residual MLP.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (He et al.
2016a): a basic block is conv3x3-BN-ReLU-conv3x3-BN, added to the shortcut, then ReLU (Fig. 2);
where the shape changes the shortcut is a strided 1x1 projection with batch norm (option B).
A deeper *plain* stack trains worse than a shallower one, its residual twin does not (Fig. 1, 6).
Each check calls the learner's code on concrete inputs and compares behaviour (shapes, parameter
counts, what the block does when its branch is zero, how far training gets), never stored tensors.
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

INPUTS, CLASSES = 64, 10
"""The deep MLPs read scikit-learn's 8x8 digits, flattened: 64 inputs, 10 classes."""


def basic_block_parameters(channels: int, filters: int, strides: int) -> int:
    """Weights of a basic block (bias-free convs, batch norm with 4 vectors, option B shortcut)."""
    total = 9 * channels * filters + 9 * filters * filters + 2 * 4 * filters
    if strides != 1 or channels != filters:
        total += channels * filters + 4 * filters
    return total


def mlp_parameters(depth: int, units: int) -> int:
    """Weights of ``deep_mlp``: a Dense stem, ``depth`` blocks of two Dense layers, a Dense head."""
    return (INPUTS + 1) * units + depth * 2 * (units + 1) * units + (units + 1) * CLASSES


def check_basic_block(basic_block: Callable[..., Any]) -> None:
    """Output shapes and parameter counts of ``basic_block(x, filters, strides)``."""
    for channels, filters, strides, size in ((16, 16, 1, 8), (16, 32, 2, 4)):
        model = learner_model(
            basic_block, (8, 8, channels), f"basic_block(x, {filters}, strides={strides})",
            "where the shape changes (strides 2 or more filters), the shortcut must be a 1x1 "
            "Conv2D with the same strides, followed by BatchNormalization (option B); otherwise "
            "x cannot be added to the branch", filters=filters, strides=strides)
        expect_shape(
            f"basic_block(x, {filters}, strides={strides}) on (2, 8, 8, {channels})",
            model(np.zeros((2, 8, 8, channels), "float32")), (2, size, size, filters),
            "the first 3x3 convolution and the shortcut both use `strides`, with padding='same'",
        )
        expect_equal(
            f"the parameters of basic_block(x, {filters}, strides={strides}) on {channels} "
            "channels", model.count_params(), basic_block_parameters(channels, filters, strides),
            "two 3x3 Conv2D with use_bias=False, each followed by BatchNormalization; a 1x1 "
            "strided Conv2D + BatchNormalization on the shortcut only when the shape changes",
        )
    passed("basic_block: shapes and parameter counts match He et al. 2016a (option B shortcut)")


def functional(make: Callable[..., Any], shape: tuple[int, ...], **kwargs: Any) -> keras.Model:
    """``make(x, **kwargs)`` wrapped into a model on inputs of ``shape`` (no batch axis); a Keras
    error inside the learner's code becomes a ``CheckFailed`` with a hint."""
    name = getattr(make, "__name__", "your function")
    return learner_model(make, shape, f"{name}(x, **{kwargs})",
                         "the tensors added together must have the same shape", **kwargs)


def all_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer inside ``model``, nested models and blocks included, in order."""
    found = []
    for layer in getattr(model, "layers", []) or getattr(model, "_layers", []):
        found += [layer, *all_layers(layer)]
    return found


def zero_kernels(model: keras.Model, kernel_size: tuple[int, ...] | None = None) -> None:
    """Set the kernels of the model's Conv2D/Dense layers (of one kernel size, if given) to 0."""
    for layer in all_layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            if kernel_size is None or tuple(layer.kernel.shape[:-2]) == kernel_size:
                layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))


def check_mlp_block(mlp_block: Callable[..., Any], units: int = 8) -> None:
    """``mlp_block(x, units, residual)``: two Dense layers; with a zero branch ``relu(x)`` or 0."""
    x = np.random.default_rng(0).normal(size=(4, units)).astype("float32")
    for residual in (True, False):
        model = learner_model(
            mlp_block, (units,), f"mlp_block(x, {units}, residual={residual})",
            "two Dense(units) layers; add x before the last ReLU only when residual=True",
            units=units, residual=residual)
        expect_equal(
            f"the parameters of mlp_block(x, {units}, residual={residual})", model.count_params(),
            2 * (units + 1) * units, "two Dense(units) layers with biases; the skip adds none",
        )
        zero_kernels(model)
        expected = np.maximum(x, 0) if residual else np.zeros_like(x)
        expect_close(
            f"mlp_block(x, residual={residual}) with all Dense kernels set to 0",
            model(x), expected,
            hint="with a zero branch the residual block must return relu(x + 0) and the plain one "
            "relu(0): add x (the block's input) before the last ReLU, and only when residual=True",
        )
    passed("mlp_block: Dense-ReLU-Dense, plus x when residual, then ReLU")


def check_deep_mlp(deep_mlp: Callable[..., keras.Model], depth: int = 3, units: int = 16) -> None:
    """``deep_mlp(depth, units, residual)``: the same layers and weights with or without skips."""
    x = np.zeros((2, INPUTS), "float32")
    for residual in (True, False):
        model = deep_mlp(depth, units=units, residual=residual)
        expect_shape(f"deep_mlp(..., residual={residual}) on (2, {INPUTS})", model(x),
                     (2, CLASSES), "the head is Dense(10) on the last block, without softmax")
        expect_equal(
            f"the parameters of deep_mlp({depth}, units={units}, residual={residual})",
            model.count_params(), mlp_parameters(depth, units),
            f"a Dense({units}, relu) stem, {depth} mlp_blocks, a Dense(10) head: the skips add "
            "no weights, so the plain twin has exactly as many",
        )
    passed(f"deep_mlp: {mlp_parameters(depth, units):,} weights with or without skips")


def digits_subset(size: int = 256) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``size`` training images of scikit-learn's digits, flattened to 64 values in
    [0, 1], their labels, and a description of the data."""
    from reslib.data import load_dataset

    data = load_dataset("digits", "train", limit=size)
    images = data.images.reshape(len(data), -1).astype("float32") / 255.0
    return images, data.labels.astype("int32"), data.description


def final_loss(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Train ``model`` for ``steps`` full-batch SGD steps (lr 0.1, momentum 0.9); the loss after.

    No XLA (``jit_compile=False``): XLA writes a log line to stderr, which nbgrader would take
    as a failed test.
    """
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), loss, jit_compile=False)
    model.fit(np.tile(x, (steps, 1)), np.tile(y, steps), batch_size=len(x), epochs=1,
              shuffle=False, verbose=0)
    return float(keras.ops.convert_to_numpy(loss(y, model(x, training=False))))


def check_residual_trains_plain_stalls(
    deep_mlp: Callable[..., keras.Model], depth: int = 8, steps: int = 30, seed: int = 0
) -> dict[str, float]:
    """The residual MLP's loss falls well below chance; its plain twin stays at chance (ln 10).

    Returns the two losses, ``{"residual": ..., "plain": ...}``.
    """
    x, y, description = digits_subset()
    losses = {}
    for name in ("residual", "plain"):
        keras.utils.set_random_seed(seed)
        losses[name] = final_loss(deep_mlp(depth, units=32, residual=name == "residual"), x, y,
                                  steps)
    chance = float(np.log(CLASSES))
    print(f"{description}, depth {depth}, {steps} SGD steps: training loss residual "
          f"{losses['residual']:.3f}, plain {losses['plain']:.3f} (chance: ln 10 = {chance:.3f})")
    expect(losses["plain"] > 0.95 * chance,
           f"the plain MLP reached loss {losses['plain']:.3f}, well below chance ({chance:.3f}): "
           "with residual=False, does deep_mlp still add the skip somewhere?")
    expect(losses["residual"] < 0.85 * chance,
           f"the residual MLP's loss is {losses['residual']:.3f}, not clearly below chance "
           f"({chance:.3f}): does each block add its input x back before the final ReLU?")
    passed(f"depth {depth}: the residual MLP trains ({losses['residual']:.2f}), the plain one "
           f"stalls at chance ({losses['plain']:.2f})")
    return losses
